"""Run the chosen scanners over one image and gather a Trivy-shaped report.

The vulnerability scanner catalogues the image's packages (security.sbom) and matches them
against the local database (security.vulndb); the secret scanner reads every layer's files; the
misconfiguration scanner reads the config and history. Findings are then filtered (filters.py).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence

import msgspec

from lamina.errors import LaminaError, UsageError
from lamina.image.base import Image
from lamina.security.scan.filters import FindingFilter
from lamina.security.scan.report import ScanReport, ScanResult

SCANNERS = ("vuln", "secret", "misconfig")
DEFAULT_SCANNERS = ("vuln", "secret")  # Trivy's default for images

# Trivy's Target for language packages it aggregates per ecosystem (others: the file they came from).
_AGGREGATED_TARGETS = {"python-pkg": "Python", "node-pkg": "Node.js", "jar": "Java", "gemspec": "Ruby",
                       "conda-pkg": "Conda"}

Progress = Callable[[str], None]


class ScanOptions(msgspec.Struct, kw_only=True):
    """What to scan for and what to keep."""

    scanners: tuple[str, ...] = DEFAULT_SCANNERS
    scanners_explicit: bool = False  # False: a missing vulnerability DB is a warning, not an error
    finding_filter: FindingFilter
    root: str | None = None  # the store whose vulnerability DB is used


def parse_scanners(text: str) -> tuple[str, ...]:
    """``vuln,secret`` → ('vuln', 'secret'); unknown names are a usage error."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in SCANNERS]
    if unknown or not names:
        raise UsageError(f"unknown scanner {', '.join(unknown) or text!r} (choose from {', '.join(SCANNERS)})")
    return names


def scan_image(image: Image, options: ScanOptions, *, progress: Progress | None = None,
               warn: Callable[[str], None] | None = None) -> ScanReport:
    """Every finding of the chosen scanners in ``image``, filtered."""
    say = progress or (lambda message: None)
    config_bytes = image.config_bytes()
    try:
        config = json.loads(config_bytes)
    except ValueError as error:
        raise LaminaError(f"image config of {image.name} is not JSON: {error}") from None
    layers = image.layers()
    results: list[ScanResult] = []
    inventory = None
    secrets = None
    if "secret" in options.scanners:
        # the secret scan reads the layers while the catalogers read them too: both mostly wait on
        # decompression and hashing, which run outside the interpreter lock
        from concurrent.futures import ThreadPoolExecutor

        from lamina.security.secrets import scan_image_secrets

        say(f"scanning {len(layers)} layer(s) for secrets")
        background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="secret-scan")
        secrets = background.submit(scan_image_secrets, image, progress=say)
        background.shutdown(wait=False)
    try:
        if "vuln" in options.scanners:
            say("cataloguing packages")
            inventory, package_results = _vulnerability_results(image, options, warn)
            results.extend(package_results)
        if "misconfig" in options.scanners:
            say("checking the image config")
            from lamina.security.misconfig import check_image_config

            checked = check_image_config(config_bytes)
            results.append(ScanResult(target=image.name, result_class="config", type="dockerfile",
                                      misconfigurations=checked.failures, misconf_successes=checked.successes))
    except BaseException:
        if secrets is not None:
            secrets.cancel()
            _wait_quietly(secrets)
        raise
    if secrets is not None:
        for secret_file in secrets.result():
            results.append(ScanResult(target=secret_file.target, result_class="secret",
                                      secrets=secret_file.findings))
    kept = [options.finding_filter.apply(result) for result in results]
    kept = [result for result in kept if result.result_class in ("os-pkgs", "lang-pkgs", "config")
            or result.severities()]
    return ScanReport(
        artifact_name=image.name, image_id=image.config_digest(),
        diff_ids=[layer.diff_id for layer in layers],
        repo_tags=list(getattr(image, "repo_tags", None) or []),
        repo_digests=list(getattr(image, "repo_digests", None) or []),
        image_config=config, os=inventory.os if inventory is not None else None, results=kept,
        created_at=datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
        inventory=inventory)


def _wait_quietly(future) -> None:
    """Let a background scan finish before the image it reads is closed; its error is not the one to report."""
    try:
        future.result()
    except BaseException:  # noqa: BLE001 - the caller re-raises the first error
        pass


def _vulnerability_results(image: Image, options: ScanOptions,
                           warn: Callable[[str], None] | None) -> tuple[object, list[ScanResult]]:
    from lamina.security.sbom import catalog_image
    from lamina.security.vulndb import open_database

    try:
        database = open_database(options.root)
    except LaminaError as error:
        if options.scanners_explicit:
            raise
        if warn is not None:
            warn(f"{error}; vulnerabilities not scanned")
        return None, []
    inventory = catalog_image(image, on_warning=warn)
    from lamina.security.vulndb.match import find_vulnerabilities

    try:
        vulnerabilities = find_vulnerabilities(inventory, database)
    finally:
        close = getattr(database, "close", None)
        if close is not None:
            close()
    return inventory, group_by_target(image.name, inventory, vulnerabilities)


def group_by_target(artifact: str, inventory, vulnerabilities: Sequence) -> list[ScanResult]:
    """Trivy's results: the OS packages first, then one per language target, in catalogue order."""
    results: dict[tuple[str, str], ScanResult] = {}
    os_info = inventory.os
    for package in inventory.packages:
        key = _target(artifact, os_info, package)
        if key not in results:
            results[key] = ScanResult(target=key[1], result_class=key[0],
                                      type=(os_info.family if key[0] == "os-pkgs" and os_info else package.kind))
    for vulnerability in vulnerabilities:
        key = _target(artifact, os_info, vulnerability.package)
        result = results.setdefault(key, ScanResult(target=key[1], result_class=key[0],
                                                    type=vulnerability.package.kind))
        result.vulnerabilities.append(vulnerability)
    ordered = sorted(results.values(), key=lambda result: result.result_class != "os-pkgs")
    for result in ordered:
        result.vulnerabilities.sort(key=lambda v: (v.pkg_name, v.vulnerability_id, v.installed_version))
    return ordered


def _target(artifact: str, os_info, package) -> tuple[str, str]:
    if not package.path:
        label = f"{artifact} ({os_info.family} {os_info.name})" if os_info is not None else artifact
        return "os-pkgs", label
    return "lang-pkgs", _AGGREGATED_TARGETS.get(package.kind, package.path)
