"""The report as SARIF 2.1.0, for code-scanning uploads (GitHub, GitLab, Azure DevOps).

Every kind of finding is a rule (a vulnerability ID, a secret rule ID, a DS check ID); every
finding a result pointing at where it is: the package's file or the image, the secret's file and
lines, the implied Dockerfile's line. ``security-severity`` carries the CVSS score where one is
known, else a score that lands in the same GitHub severity band as the finding's severity.
"""

from __future__ import annotations

import json

from lamina.security.scan.report import ScanReport

_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}
_BAND_SCORE = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}
_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def sarif(report: ScanReport) -> bytes:
    """The SARIF log (one run, tool lamina)."""
    from lamina import __version__

    rules: list[dict] = []
    index: dict[str, int] = {}
    results: list[dict] = []

    def rule_for(rule_id: str, name: str, title: str, description: str, severity: str, score: str,
                 help_text: str, tags: list[str], uri: str = "") -> int:
        if rule_id not in index:
            index[rule_id] = len(rules)
            rule = {"id": rule_id, "name": name, "shortDescription": {"text": title or rule_id},
                    "fullDescription": {"text": description or title or rule_id},
                    "defaultConfiguration": {"level": _LEVEL.get(severity, "note")},
                    "help": {"text": help_text, "markdown": help_text},
                    "properties": {"precision": "very-high", "security-severity": score,
                                   "tags": [*tags, "security", severity]}}
            if uri:
                rule["helpUri"] = uri
            rules.append(rule)
        return index[rule_id]

    def add(rule_id: str, severity: str, message: str, uri: str, start: int = 1, end: int = 1) -> None:
        results.append({"ruleId": rule_id, "ruleIndex": index[rule_id], "level": _LEVEL.get(severity, "note"),
                        "message": {"text": message},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": "ROOTPATH"},
                            "region": {"startLine": max(start, 1), "startColumn": 1,
                                       "endLine": max(end, start, 1), "endColumn": 1}},
                            "message": {"text": f"{uri}: {rule_id}"}}]})

    for result in report.results:
        for v in result.vulnerabilities:
            score = f"{v.cvss_score:.1f}" if v.cvss_score is not None else _BAND_SCORE.get(v.severity, "0.0")
            help_text = (f"Vulnerability {v.vulnerability_id}\nSeverity: {v.severity}\nPackage: {v.pkg_name}\n"
                         f"Fixed Version: {v.fixed_version or 'none'}\n{v.title or v.description}")
            rule_for(v.vulnerability_id, "OsPackageVulnerability" if result.result_class == "os-pkgs"
                     else "LanguageSpecificPackageVulnerability", v.title, v.description, v.severity, score,
                     help_text, ["vulnerability"], v.references[0] if v.references else "")
            message = (f"Package: {v.pkg_name}\nInstalled Version: {v.installed_version}\n"
                       f"Vulnerability {v.vulnerability_id}\nSeverity: {v.severity}\n"
                       f"Fixed Version: {v.fixed_version or 'none'}")
            add(v.vulnerability_id, v.severity, message, _uri(v.package.path or result.target))
        for s in result.secrets:
            rule_for(s.rule_id, "Secret", s.title, s.title, s.severity, _BAND_SCORE.get(s.severity, "0.0"),
                     f"Secret {s.title}\nSeverity: {s.severity}\nMatch: {s.match}", ["secret"])
            add(s.rule_id, s.severity, f"Artifact: {result.target}\nType: \nSecret {s.title}\n"
                f"Severity: {s.severity}\nMatch: {s.match}", _uri(result.target), s.start_line, s.end_line)
        for m in result.misconfigurations:
            url = f"https://avd.aquasec.com/misconfig/{m.id.lower()}"
            rule_for(m.id, "Misconfiguration", m.title, m.description, m.severity,
                     _BAND_SCORE.get(m.severity, "0.0"), f"Misconfiguration {m.id}\n{m.title}\n{m.resolution}",
                     ["misconfiguration"], url)
            add(m.id, m.severity, f"Artifact: {result.target}\nType: dockerfile\n{m.message}",
                _uri(result.target), m.start_line, m.end_line)
    log = {"version": "2.1.0", "$schema": _SCHEMA, "runs": [{
        "tool": {"driver": {"fullName": "lamina image scanner", "informationUri": "https://github.com/lamina",
                            "name": "lamina", "rules": rules, "version": __version__}},
        "results": results, "columnKind": "utf16CodeUnits",
        "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
        "properties": {"imageName": report.artifact_name, "imageID": report.image_id,
                       "repoTags": report.repo_tags, "repoDigests": report.repo_digests}}]}
    return (json.dumps(log, indent=2, ensure_ascii=False) + "\n").encode()


def _uri(target: str) -> str:
    """A relative URI: SARIF resolves it against ROOTPATH (file:///)."""
    return target.lstrip("/").replace(" ", "%20")
