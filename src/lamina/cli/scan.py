"""``lamina scan IMAGE``: vulnerabilities, secrets and misconfigurations, in Trivy's report shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

FORMAT_CHOICES = ("table", "json", "sarif", "cyclonedx")
DEFAULT_IGNORE_FILES = (".trivyignore", ".laminaignore")


@click.command("scan")
@click.argument("image")
@click.option("--scanners", default=None, metavar="LIST",
              help="Comma-separated scanners: vuln, secret, misconfig  [default: vuln,secret]")
@click.option("--severity", "-s", default=None, metavar="LIST",
              help="Severities to report, e.g. HIGH,CRITICAL  [default: all]")
@click.option("--ignore-unfixed", is_flag=True, help="Leave out vulnerabilities that have no fixed version")
@click.option("--vex", "vex_files", multiple=True, type=click.Path(dir_okay=False),
              help="OpenVEX or CycloneDX VEX document whose not_affected statements suppress findings (repeatable)")
@click.option("--ignorefile", "ignore_files", multiple=True, type=click.Path(dir_okay=False),
              help="File of IDs to ignore  [default: ./.trivyignore and ./.laminaignore when present]")
@click.option("--exit-code", type=int, default=0, show_default=True,
              help="Exit with this code when anything is reported (a CI gate)")
@click.option("--format", "-f", "output_format", type=click.Choice(FORMAT_CHOICES), default="table",
              show_default=True, help="Report format")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to a file")
@click.option("--platform", help="Platform (os/arch[/variant]) of a multi-platform image")
@click.pass_context
def scan(ctx: click.Context, image: str, scanners: str | None, severity: str | None, ignore_unfixed: bool,
         vex_files: tuple[str, ...], ignore_files: tuple[str, ...], exit_code: int, output_format: str,
         output: str | None, platform: str | None) -> None:
    """Scan an image for vulnerabilities, secrets and misconfigurations

    IMAGE is a stored image name or ID, docker-archive:PATH, oci-archive:PATH, oci:DIR or a
    registry reference. The json format is Trivy's report schema; sarif is SARIF 2.1.0;
    cyclonedx is the image's BOM with its vulnerabilities.
    """
    from lamina.security.scan import render
    from lamina.security.scan import scan as run_scan

    root = (ctx.find_root().obj or {}).get("root")
    if not ignore_files:
        ignore_files = tuple(name for name in DEFAULT_IGNORE_FILES if Path(name).is_file())
    status = _status()
    try:
        report = run_scan(image, root=root, platform=platform, scanners=scanners, severity=severity,
                          ignore_unfixed=ignore_unfixed, vex=vex_files, ignore_files=ignore_files,
                          progress=status.update if status else None,
                          on_warning=lambda message: click.echo(f"lamina: warning: {message}", err=True))
    finally:
        if status:
            status.stop()
    document = render(report, output_format)
    if output:
        Path(output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    if exit_code and report.finding_count():
        sys.exit(exit_code)


class _Status:
    """A spinner with the scan's current step on standard error (a terminal only)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._status = Console(stderr=True).status("scanning")
        self._status.start()

    def update(self, message: str) -> None:
        self._status.update(message)

    def stop(self) -> None:
        self._status.stop()


def _status() -> _Status | None:
    return _Status() if sys.stderr.isatty() else None
