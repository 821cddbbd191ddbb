"""``lamina policy check``: an organization's rules for images, in a small YAML file.

    rules:
      registries: [registry.example.com, ghcr.io/example]   # where images may come from
      base-images: [docker.io/library/debian]                # org.opencontainers.image.base.name
      labels: [org.opencontainers.image.source]              # required labels (or label: regex)
      non-root: true                                          # config User is set and not root/0
      no-secrets: true                                        # the secret scanner finds nothing
      vulnerabilities: {max-severity: MEDIUM, ignore-unfixed: true}
      max-size: 200MB                                         # the layers' stored size
      max-layers: 20
      signature: {key: cosign.pub}                            # a cosign signature that verifies
      sbom-attestation: {key: cosign.pub, type: cyclonedx}    # a signed SBOM attestation

Every rule gives a result (pass, fail, or error when it could not be checked: an error never
counts as a pass). The report is a table, JSON or SARIF; ``lamina policy check`` exits 1 when
any rule did not pass, for CI.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import LaminaError, PolicyError

RULES = {
    "registries": "Image comes from an allowed registry",
    "base-images": "Image is built on an allowed base image",
    "labels": "Image has the required labels",
    "non-root": "Image runs as a non-root user",
    "no-secrets": "Image contains no secrets",
    "vulnerabilities": "Image has no vulnerabilities above the allowed severity",
    "max-size": "Image is not larger than allowed",
    "max-layers": "Image has no more layers than allowed",
    "signature": "Image has a valid cosign signature",
    "sbom-attestation": "Image has a signed SBOM attestation",
}
BASE_NAME_KEY = "org.opencontainers.image.base.name"
SEVERITY_ORDER = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MAX_POLICY_FILE = 1024 * 1024
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    rules: dict[str, Any]
    source: str


@dataclass(slots=True)
class RuleResult:
    rule: str
    status: str  # "pass" | "fail" | "error"
    message: str


@dataclass(slots=True)
class PolicyReport:
    image: str
    policy: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(result.status == "pass" for result in self.results)

    def document(self) -> dict[str, Any]:
        return {"image": self.image, "policy": self.policy, "passed": self.passed,
                "results": [{"rule": r.rule, "status": r.status, "message": r.message} for r in self.results]}


def load_org_policy(path: str | os.PathLike[str]) -> OrgPolicy:
    """Read the YAML rules; unknown rules and wrong values are one line naming the file."""
    import yaml

    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_FILE + 1)
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read policy: {exc.strerror or exc}") from None
    if len(data) > MAX_POLICY_FILE:
        raise PolicyError(f"{source}: policy file over {MAX_POLICY_FILE >> 10} KiB")
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax error'})") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), dict):
        raise PolicyError(f"{source}: expected a mapping with a 'rules' mapping")
    rules = document["rules"]
    for name, value in rules.items():
        if name not in RULES:
            raise PolicyError(f"{source}: unknown rule {name!r} (known: {', '.join(RULES)})")
        _validate(name, value, source)
    return OrgPolicy(rules, source)


def check_policy(image: str, policy: OrgPolicy | str | os.PathLike[str], *, root: str | None = None,
                 on_warning: Callable[[str], None] | None = None) -> PolicyReport:
    """Check ``image`` (any spec lamina opens) against every rule of ``policy``."""
    from lamina.image import open_image

    org = policy if isinstance(policy, OrgPolicy) else load_org_policy(policy)
    report = PolicyReport(image, org.source)
    with open_image(image, root=root) as opened:
        facts = _ImageFacts.read(opened)
    for name, value in org.rules.items():
        try:
            status, message = _CHECKS[name](value, image, facts, root, on_warning)
        except LaminaError as exc:
            status, message = "error", str(exc)
        report.results.append(RuleResult(name, status, message))
    return report


def render(report: PolicyReport, output_format: str) -> bytes:
    if output_format == "json":
        return (json.dumps(report.document(), indent=2) + "\n").encode()
    if output_format == "sarif":
        return (json.dumps(_sarif(report), indent=2) + "\n").encode()
    width = max([len(r.rule) for r in report.results] + [4])
    lines = [f"{'RULE':<{width}}  STATUS  MESSAGE"]
    lines += [f"{r.rule:<{width}}  {r.status.upper():<6}  {r.message}" for r in report.results]
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(f"\n{report.image}: {verdict} ({sum(r.status == 'pass' for r in report.results)}/"
                 f"{len(report.results)} rules passed, policy {report.policy})")
    return ("\n".join(lines) + "\n").encode()


# -- what the rules read ---------------------------------------------------------------------

@dataclass(slots=True)
class _ImageFacts:
    config: dict[str, Any]
    annotations: dict[str, str]
    layer_sizes: list[int]

    @classmethod
    def read(cls, image: Any) -> _ImageFacts:
        try:
            config = json.loads(image.config_bytes())
            manifest = json.loads(image.manifest_bytes())
        except ValueError:
            raise PolicyError(f"{image.name}: config or manifest is not JSON") from None
        annotations = manifest.get("annotations") if isinstance(manifest, dict) else None
        return cls(config if isinstance(config, dict) else {}, annotations or {},
                   [layer.size for layer in image.layers()])

    @property
    def labels(self) -> dict[str, str]:
        return (self.config.get("config") or {}).get("Labels") or {}


def _image_reference(image: str):
    """The registry reference an image spec names, or None for files."""
    from lamina.image.spec import parse_spec
    from lamina.oci.reference import parse_reference

    spec = parse_spec(image)
    if spec.is_file:
        return None
    return parse_reference(spec.location)


def _check_registries(allowed: list[str], image: str, facts, root, warn) -> tuple[str, str]:
    ref = _image_reference(image)
    if ref is None:
        return "error", f"{image} is a file, not a registry image; its registry is unknown"
    if _under_any(ref.repository, allowed):
        return "pass", f"{ref.repository} is in an allowed registry"
    return "fail", f"{ref.repository} is not under any of: {', '.join(allowed)}"


def _check_base_images(allowed: list[str], image: str, facts, root, warn) -> tuple[str, str]:
    from lamina.oci.reference import parse_reference

    base = facts.annotations.get(BASE_NAME_KEY) or facts.labels.get(BASE_NAME_KEY)
    if not base:
        return "fail", f"base image not recorded (no {BASE_NAME_KEY} annotation or label)"
    try:
        base_ref = parse_reference(base, default_tag=False)
    except LaminaError:
        return "fail", f"base image {base!r} is not a valid reference"
    normalized = [_normalize(entry) for entry in allowed]
    full = str(base_ref)
    if any(full == entry or _under(base_ref.repository, entry) for entry in normalized):
        return "pass", f"base image {base} is allowed"
    return "fail", f"base image {base} is not one of: {', '.join(allowed)}"


def _check_labels(required: list[str] | dict[str, str], image: str, facts, root, warn) -> tuple[str, str]:
    labels = facts.labels
    wanted = required if isinstance(required, dict) else {name: None for name in required}
    missing = [name for name in wanted if name not in labels]
    if missing:
        return "fail", f"missing label{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    wrong = [name for name, pattern in wanted.items()
             if pattern is not None and not re.fullmatch(str(pattern), str(labels[name]))]
    if wrong:
        return "fail", ", ".join(f"label {name}={labels[name]!r} does not match {wanted[name]!r}" for name in wrong)
    return "pass", f"labels present: {', '.join(wanted)}"


def _check_non_root(enabled: bool, image: str, facts, root, warn) -> tuple[str, str]:
    if not enabled:
        return "pass", "not required"
    user = str((facts.config.get("config") or {}).get("User") or "")
    name = user.split(":", 1)[0]
    if name in ("", "root", "0"):
        return "fail", f"runs as root (User {user!r})" if user else "runs as root (no User set)"
    return "pass", f"runs as {user}"


def _check_no_secrets(enabled: bool, image: str, facts, root, warn) -> tuple[str, str]:
    if not enabled:
        return "pass", "not required"
    from lamina.security.scan import scan

    report = scan(image, root=root, scanners="secret", on_warning=warn)
    found = [(result.target, secret) for result in report.results for secret in result.secrets]
    if found:
        listed = ", ".join(f"{secret.rule_id} in {target}" for target, secret in found[:3])
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        return "fail", f"{len(found)} secret{'s' if len(found) > 1 else ''}: {listed}{more}"
    return "pass", "no secrets found"


def _check_vulnerabilities(rule: dict[str, Any], image: str, facts, root, warn) -> tuple[str, str]:
    from lamina.security.scan import scan

    allowed = str(rule.get("max-severity", "UNKNOWN")).upper()
    above = SEVERITY_ORDER[SEVERITY_ORDER.index(allowed) + 1:]
    if not above:
        return "pass", "every severity is allowed"
    report = scan(image, root=root, scanners="vuln", severity=",".join(above),
                  ignore_unfixed=bool(rule.get("ignore-unfixed", False)), on_warning=warn)
    found = [v for result in report.results for v in result.vulnerabilities]
    if found:
        worst = max(found, key=lambda v: SEVERITY_ORDER.index(v.severity) if v.severity in SEVERITY_ORDER else 0)
        return "fail", (f"{len(found)} vulnerabilit{'ies' if len(found) > 1 else 'y'} above {allowed} "
                        f"(worst: {worst.vulnerability_id} {worst.severity} in {worst.pkg_name})")
    unfixed = " (unfixed ignored)" if rule.get("ignore-unfixed") else ""
    return "pass", f"no vulnerabilities above {allowed}{unfixed}"


def _check_max_size(limit: Any, image: str, facts, root, warn) -> tuple[str, str]:
    maximum, total = parse_size(limit), sum(facts.layer_sizes)
    verdict = "pass" if total <= maximum else "fail"
    return verdict, f"{total} bytes {'<=' if verdict == 'pass' else '>'} {maximum}"


def _check_max_layers(limit: int, image: str, facts, root, warn) -> tuple[str, str]:
    count = len(facts.layer_sizes)
    verdict = "pass" if count <= limit else "fail"
    return verdict, f"{count} layers {'<=' if verdict == 'pass' else '>'} {limit}"


def _check_signature(rule: dict[str, Any], image: str, facts, root, warn) -> tuple[str, str]:
    from lamina.security.signing.cosign import verify

    ref = _image_reference(image)
    if ref is None:
        return "error", f"{image} is a file; signatures live in a registry"
    verified = verify(str(ref), _keys(rule))
    return "pass", f"{len(verified)} signature{'s' if len(verified) > 1 else ''} verified"


def _check_sbom_attestation(rule: dict[str, Any], image: str, facts, root, warn) -> tuple[str, str]:
    from lamina.security.signing.attest import verify_attestation

    ref = _image_reference(image)
    if ref is None:
        return "error", f"{image} is a file; attestations live in a registry"
    kinds = [rule["type"]] if rule.get("type") else ["cyclonedx", "spdx"]
    reasons = []
    for kind in kinds:
        try:
            verified = verify_attestation(str(ref), _keys(rule), kind)
        except LaminaError as exc:
            reasons.append(str(exc))
            continue
        return "pass", f"{verified[0].predicate_type} attestation verified"
    return "fail", reasons[0]


_CHECKS: dict[str, Callable[..., tuple[str, str]]] = {
    "registries": _check_registries, "base-images": _check_base_images, "labels": _check_labels,
    "non-root": _check_non_root, "no-secrets": _check_no_secrets, "vulnerabilities": _check_vulnerabilities,
    "max-size": _check_max_size, "max-layers": _check_max_layers, "signature": _check_signature,
    "sbom-attestation": _check_sbom_attestation,
}


# -- helpers ------------------------------------------------------------------------------------

def parse_size(value: Any) -> int:
    """``200MB``, ``1.5GiB``, ``4096`` → bytes (decimal units as docker prints them, binary with i)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise PolicyError(f"max-size {value!r} is not a size (e.g. 200MB)")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    base = 1024 if "i" in unit else 1000
    power = "bkmgt".index(unit[0]) if unit[0] in "kmgt" else 0
    return int(number * base ** power)


def _keys(rule: dict[str, Any]) -> list:
    from lamina.security.signing.keys import load_public_key, read_key_file

    paths = rule["key"] if isinstance(rule["key"], list) else [rule["key"]]
    return [load_public_key(read_key_file(path), where=str(path)) for path in paths]


def _normalize(entry: str) -> str:
    from lamina.oci.reference import parse_reference

    try:
        ref = parse_reference(entry, default_tag=False)
    except LaminaError:
        return entry
    return str(ref)


def _under(repository: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return repository == prefix or repository.startswith(prefix + "/")


def _under_any(repository: str, prefixes: list[str]) -> bool:
    return any(_under(repository, prefix) for prefix in prefixes)


def _validate(name: str, value: Any, source: str) -> None:
    where = f"{source}: rule {name}"
    if name in ("registries", "base-images"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(f"{where}: expected a list of names")
    elif name == "labels":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)) and not isinstance(value, dict):
            raise PolicyError(f"{where}: expected a list of labels or a mapping label: regex")
        if isinstance(value, dict):
            for label, pattern in value.items():
                try:
                    re.compile(str(pattern))
                except re.error as exc:
                    raise PolicyError(f"{where}: {label}: bad regex ({exc})") from None
    elif name in ("non-root", "no-secrets"):
        if not isinstance(value, bool):
            raise PolicyError(f"{where}: expected true or false")
    elif name == "max-layers":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PolicyError(f"{where}: expected a whole number")
    elif name == "max-size":
        try:
            parse_size(value)
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    elif name == "vulnerabilities":
        if not isinstance(value, dict) or set(value) - {"max-severity", "ignore-unfixed"}:
            raise PolicyError(f"{where}: expected max-severity and optional ignore-unfixed")
        if str(value.get("max-severity", "UNKNOWN")).upper() not in SEVERITY_ORDER:
            raise PolicyError(f"{where}: max-severity must be one of {', '.join(SEVERITY_ORDER)}")
    elif name in ("signature", "sbom-attestation"):
        if not isinstance(value, dict) or "key" not in value:
            raise PolicyError(f"{where}: expected a mapping with 'key' (a public key file)")
        if name == "sbom-attestation" and value.get("type") not in (None, "cyclonedx", "spdx", "spdxjson"):
            raise PolicyError(f"{where}: type must be cyclonedx or spdx")


def _sarif(report: PolicyReport) -> dict[str, Any]:
    rules = [{"id": name, "name": name.replace("-", " ").title().replace(" ", ""),
              "shortDescription": {"text": RULES[name]}} for name in dict.fromkeys(r.rule for r in report.results)]
    results = [{"ruleId": r.rule, "level": "error" if r.status == "fail" else "warning",
                "message": {"text": r.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": report.image}}}]}
               for r in report.results if r.status != "pass"]
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "lamina-policy", "rules": rules}},
                      "results": results}]}


__all__ = ["OrgPolicy", "PolicyReport", "RuleResult", "check_policy", "load_org_policy", "parse_size", "render"]
