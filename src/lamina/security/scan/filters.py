"""Which findings a report keeps: severity, --ignore-unfixed, ignore files and VEX statements.

Ignore files are Trivy's ``.trivyignore`` format (and lamina's ``.laminaignore``, the same): one
ID a line (a CVE or other advisory ID, a secret rule ID, a DS check ID), ``#`` comments, an
optional ``exp:YYYY-MM-DD`` after which the line no longer applies. VEX documents are OpenVEX
JSON or CycloneDX (JSON) with ``vulnerabilities[].analysis``; a ``not_affected`` statement (or
CycloneDX's ``false_positive``) removes the finding for the products it names (all when none).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from lamina.errors import LaminaError
from lamina.security.scan.report import ScanResult
from lamina.security.vulndb.records import Vulnerability

_MAX_POLICY_FILE = 16 * 1024 * 1024


class VexStatement(msgspec.Struct, frozen=True, kw_only=True):
    """One "this vulnerability does not affect these products" statement."""

    vulnerability: str
    products: tuple[str, ...] = ()  # purls or bom-refs; empty: every product
    source: str = ""


class FindingFilter(msgspec.Struct, kw_only=True):
    """Everything that decides whether a finding is shown."""

    severities: tuple[str, ...]
    ignore_unfixed: bool = False
    ignored_ids: frozenset[str] = frozenset()
    vex: tuple[VexStatement, ...] = ()

    def apply(self, result: ScanResult) -> ScanResult:
        """The result with only the findings that pass."""
        wanted = set(self.severities)
        return ScanResult(
            target=result.target, result_class=result.result_class, type=result.type,
            vulnerabilities=[v for v in result.vulnerabilities if v.severity in wanted and self._keeps(v)],
            secrets=[s for s in result.secrets if s.severity in wanted and s.rule_id not in self.ignored_ids],
            misconfigurations=[m for m in result.misconfigurations
                               if m.severity in wanted and not {m.id, m.id.replace("-00", "")} & self.ignored_ids],
            misconf_successes=result.misconf_successes)

    def _keeps(self, vulnerability: Vulnerability) -> bool:
        if self.ignore_unfixed and not vulnerability.fixed_version:
            return False
        ids = {vulnerability.vulnerability_id, *vulnerability.aliases}
        if ids & self.ignored_ids:
            return False
        return not any(statement.vulnerability in ids and _names_package(statement, vulnerability)
                       for statement in self.vex)


def read_ignore_files(paths: Iterable[str | Path], *, today: datetime.date | None = None) -> frozenset[str]:
    """The IDs the ignore files name (lines past their ``exp:`` date left out)."""
    today = today or datetime.date.today()
    ids: set[str] = set()
    for path in paths:
        text = _read(Path(path), "ignore file")
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            expiry = next((word[4:] for word in words[1:] if word.startswith("exp:")), None)
            if expiry is not None:
                try:
                    if datetime.date.fromisoformat(expiry) < today:
                        continue
                except ValueError:
                    raise LaminaError(f"{path}:{number}: bad expiry date {expiry!r} (want exp:YYYY-MM-DD)") from None
            ids.add(words[0])
    return frozenset(ids)


def read_vex(paths: Sequence[str | Path]) -> tuple[VexStatement, ...]:
    """The ``not_affected`` statements of OpenVEX and CycloneDX VEX documents."""
    statements: list[VexStatement] = []
    for path in paths:
        text = _read(Path(path), "VEX document")
        try:
            document = json.loads(text)
        except ValueError as error:
            raise LaminaError(f"{path}: VEX document is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise LaminaError(f"{path}: VEX document is not a JSON object")
        if "openvex" in str(document.get("@context", "")):
            statements.extend(_openvex(document, str(path)))
        elif document.get("bomFormat") == "CycloneDX":
            statements.extend(_cyclonedx_vex(document, str(path)))
        else:
            raise LaminaError(f"{path}: neither OpenVEX (@context) nor CycloneDX (bomFormat) VEX")
    return tuple(statements)


def _openvex(document: dict, path: str) -> Iterable[VexStatement]:
    for number, statement in enumerate(document.get("statements") or []):
        if not isinstance(statement, dict):
            raise LaminaError(f"{path}: statements[{number}] is not an object")
        if statement.get("status") != "not_affected":
            continue
        vulnerability = statement.get("vulnerability")
        name = vulnerability.get("name") if isinstance(vulnerability, dict) else vulnerability
        if not isinstance(name, str) or not name:
            raise LaminaError(f"{path}: statements[{number}] names no vulnerability")
        products: list[str] = []
        for product in statement.get("products") or []:
            product_id = product.get("@id") if isinstance(product, dict) else product
            if isinstance(product_id, str):
                products.append(product_id)
            for sub in (product.get("subcomponents") or []) if isinstance(product, dict) else []:
                sub_id = sub.get("@id") if isinstance(sub, dict) else sub
                if isinstance(sub_id, str):
                    products.append(sub_id)
        yield VexStatement(vulnerability=name, products=tuple(products), source=path)


def _cyclonedx_vex(document: dict, path: str) -> Iterable[VexStatement]:
    refs = {component.get("bom-ref"): component.get("purl") or component.get("bom-ref")
            for component in document.get("components") or [] if isinstance(component, dict)}
    for number, vulnerability in enumerate(document.get("vulnerabilities") or []):
        if not isinstance(vulnerability, dict) or not isinstance(vulnerability.get("id"), str):
            raise LaminaError(f"{path}: vulnerabilities[{number}] has no id")
        analysis = vulnerability.get("analysis") or {}
        if analysis.get("state") not in ("not_affected", "false_positive"):
            continue
        products = tuple(str(refs.get(affect.get("ref"), affect.get("ref")))
                         for affect in vulnerability.get("affects") or [] if isinstance(affect, dict))
        yield VexStatement(vulnerability=vulnerability["id"], products=products, source=path)


def _names_package(statement: VexStatement, vulnerability: Vulnerability) -> bool:
    if not statement.products:
        return True
    purl = _purl_base(vulnerability.pkg_purl or vulnerability.package.purl)
    return any(_purl_base(product) in (purl, purl.split("@")[0]) or product == vulnerability.pkg_name
               for product in statement.products)


def _purl_base(purl: str) -> str:
    """``pkg:type/ns/name@version`` without qualifiers or subpath, for comparing products."""
    return purl.split("?", 1)[0].split("#", 1)[0].replace("%2B", "+").replace("%2b", "+")


def _read(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > _MAX_POLICY_FILE:
            raise LaminaError(f"{path}: {what} is larger than 16 MiB")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LaminaError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LaminaError(f"{what} {path} cannot be read: {error}") from None
