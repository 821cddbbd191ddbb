"""The report as tables for people, laid out as Trivy's ``table`` format."""

from __future__ import annotations

from lamina.security.scan.report import SEVERITIES, ScanReport, ScanResult


def table(report: ScanReport) -> str:
    """One section per result that has findings (OS and language packages always)."""
    sections = [_section(result) for result in report.results
                if result.severities() or result.result_class in ("os-pkgs", "lang-pkgs")]
    return "\n".join(section for section in sections if section)


def _totals(severities: list[str]) -> str:
    counts = ", ".join(f"{name}: {severities.count(name)}" for name in reversed(SEVERITIES))
    return f"Total: {len(severities)} ({counts})"


def _heading(text: str) -> str:
    return f"\n{text}\n{'=' * len(text)}\n"


def _section(result: ScanResult) -> str:
    if result.result_class == "secret":
        return _secrets(result)
    out = _heading(result.target if result.result_class != "config" else f"{result.target} (dockerfile)")
    out += _totals(result.severities()) + "\n"
    if result.result_class == "config":
        out += f"\nTests: {result.misconf_successes + len(result.misconfigurations)} " \
               f"(SUCCESSES: {result.misconf_successes}, FAILURES: {len(result.misconfigurations)})\n"
        for failure in result.misconfigurations:
            where = f" (line {failure.start_line}: {failure.code})" if failure.start_line else ""
            out += f"\n{failure.id} ({failure.severity}): {failure.message}{where}\n"
        return out
    if result.vulnerabilities:
        rows = [(v.pkg_name, v.vulnerability_id, v.severity, v.status, v.installed_version, v.fixed_version,
                 _short(v.title or v.description)) for v in result.vulnerabilities]
        out += "\n" + boxed(("Library", "Vulnerability", "Severity", "Status", "Installed Version",
                             "Fixed Version", "Title"), rows)
    return out


def _secrets(result: ScanResult) -> str:
    out = _heading(f"{result.target} (secrets)") + _totals(result.severities()) + "\n"
    for finding in result.secrets:
        title = f"{finding.severity}: {finding.category} ({finding.rule_id})"
        out += f"\n{title}\n{'═' * 40}\n{finding.title}\n{'─' * 40}\n"
        added = f" (added by '{_short(finding.created_by, 40)}')" if finding.created_by else ""
        out += f" {result.target}:{finding.start_line}{added}\n{'─' * 40}\n"
        for line in finding.code:
            marker = "[" if line.is_cause else " "
            out += f"{line.number:>4} {marker} {line.content}\n"
        out += "─" * 40 + "\n"
    return out


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def boxed(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A box-drawn table (cells on one line each)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (width + 2) for width in widths) + right + "\n"

    def row(cells: tuple[str, ...]) -> str:
        return "│" + "│".join(f" {str(cell):<{width}} " for cell, width in zip(cells, widths, strict=True)) + "│\n"

    body = rule("┌", "┬", "┐") + row(header)
    for cells in rows:
        body += rule("├", "┼", "┤") + row(cells)
    return body + rule("└", "┴", "┘")
