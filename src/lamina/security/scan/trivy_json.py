"""The report in Trivy's JSON schema (SchemaVersion 2), field for field.

Tools that read Trivy's reports (dashboards, CI gates, DefectDojo, …) read lamina's: the same
keys, the same classes and types, the same omissions of empty fields.
"""

from __future__ import annotations

import json

from lamina.security.misconfig import Misconfiguration
from lamina.security.scan.report import ScanReport, ScanResult
from lamina.security.secrets import SecretFinding
from lamina.security.vulndb.records import Vulnerability


def trivy_json(report: ScanReport) -> bytes:
    """The report as Trivy's ``--format json`` writes it (indented, UTF-8)."""
    return (json.dumps(trivy_document(report), indent=2, ensure_ascii=False) + "\n").encode()


def trivy_document(report: ScanReport) -> dict:
    from lamina import __version__

    metadata: dict = {}
    if report.os is not None:
        metadata["OS"] = {"Family": report.os.family, "Name": report.os.name}
    metadata.update({"ImageID": report.image_id, "DiffIDs": report.diff_ids})
    if report.repo_tags:
        metadata["RepoTags"] = report.repo_tags
    if report.repo_digests:
        metadata["RepoDigests"] = report.repo_digests
    metadata["ImageConfig"] = _masked(report.image_config)
    return {"SchemaVersion": 2, "CreatedAt": report.created_at, "Lamina": {"Version": __version__},
            "ArtifactName": report.artifact_name, "ArtifactType": "container_image", "Metadata": metadata,
            "Results": [_result(result) for result in report.results]}


def _masked(value):
    """The config with credentials in its strings (ENV, labels, history) masked: a report never leaks them."""
    from lamina.security.secrets.scanner import mask_secrets

    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return value


def _result(result: ScanResult) -> dict:
    out: dict = {"Target": result.target, "Class": result.result_class}
    if result.type:
        out["Type"] = result.type
    if result.vulnerabilities:
        out["Vulnerabilities"] = [_vulnerability(v) for v in result.vulnerabilities]
    if result.result_class == "config":
        out["MisconfSummary"] = {"Successes": result.misconf_successes, "Failures": len(result.misconfigurations)}
    if result.misconfigurations:
        out["Misconfigurations"] = [_misconfiguration(m) for m in result.misconfigurations]
    if result.secrets:
        out["Secrets"] = [_secret(s) for s in result.secrets]
    return out


def _vulnerability(vulnerability: Vulnerability) -> dict:
    out: dict = {"VulnerabilityID": vulnerability.vulnerability_id,
                 "PkgID": vulnerability.pkg_id or f"{vulnerability.pkg_name}@{vulnerability.installed_version}",
                 "PkgName": vulnerability.pkg_name}
    purl = vulnerability.pkg_purl or vulnerability.package.purl
    if purl:
        out["PkgIdentifier"] = {"PURL": purl}
    if vulnerability.package.path:
        out["PkgPath"] = vulnerability.package.path
    out["InstalledVersion"] = vulnerability.installed_version
    if vulnerability.fixed_version:
        out["FixedVersion"] = vulnerability.fixed_version
    out["Status"] = vulnerability.status
    layer = vulnerability.layer_diff_id or vulnerability.package.layer_diff_id
    if layer:
        out["Layer"] = {"DiffID": layer}
    if vulnerability.references:
        out["PrimaryURL"] = vulnerability.references[0]
    if vulnerability.data_source is not None:
        source = vulnerability.data_source
        out["DataSource"] = {"ID": source.id, "Name": source.name, "URL": source.url}
    for key, value in (("Title", vulnerability.title), ("Description", vulnerability.description)):
        if value:
            out[key] = value
    out["Severity"] = vulnerability.severity
    if vulnerability.cvss_vector or vulnerability.cvss_score is not None:
        source_id = vulnerability.data_source.id if vulnerability.data_source else "lamina"
        cvss: dict = {}
        if vulnerability.cvss_vector:
            cvss["V3Vector"] = vulnerability.cvss_vector
        if vulnerability.cvss_score is not None:
            cvss["V3Score"] = vulnerability.cvss_score
        out["CVSS"] = {source_id: cvss}
    if vulnerability.references:
        out["References"] = list(vulnerability.references)
    if vulnerability.published:
        out["PublishedDate"] = vulnerability.published
    if vulnerability.last_modified:
        out["LastModifiedDate"] = vulnerability.last_modified
    return out


def _secret(finding: SecretFinding) -> dict:
    layer = {key: value for key, value in (("Digest", finding.layer_digest), ("DiffID", finding.layer_diff_id),
                                            ("CreatedBy", finding.created_by)) if value}
    out: dict = {"RuleID": finding.rule_id, "Category": finding.category, "Severity": finding.severity,
                 "Title": finding.title, "StartLine": finding.start_line, "EndLine": finding.end_line,
                 "Code": {"Lines": [{"Number": line.number, "Content": line.content, "IsCause": line.is_cause,
                                     "Annotation": "", "Truncated": False, "Highlighted": line.content,
                                     "FirstCause": line.first_cause, "LastCause": line.last_cause}
                                    for line in finding.code]},
                 "Match": finding.match}
    if layer:
        out["Layer"] = layer
    out["Offset"] = finding.offset
    return out


def _misconfiguration(failure: Misconfiguration) -> dict:
    url = f"https://avd.aquasec.com/misconfig/{failure.id.lower()}"
    cause: dict = {"Provider": "Dockerfile", "Service": "general"}
    if failure.start_line:
        cause.update({"StartLine": failure.start_line, "EndLine": failure.end_line,
                      "Code": {"Lines": [{"Number": failure.start_line, "Content": failure.code, "IsCause": True,
                                          "Annotation": "", "Truncated": False, "Highlighted": failure.code,
                                          "FirstCause": True, "LastCause": True}]}})
    number = failure.id.replace("-00", "").replace("-0", "")
    return {"Type": "Dockerfile Security Check", "ID": failure.id, "Title": failure.title,
            "Description": failure.description, "Message": failure.message,
            "Namespace": f"lamina.dockerfile.{number.replace('-', '')}",
            "Query": f"data.lamina.dockerfile.{number.replace('-', '')}.deny", "Resolution": failure.resolution,
            "Severity": failure.severity, "PrimaryURL": url, "References": [url], "Status": "FAIL",
            "CauseMetadata": cause}
