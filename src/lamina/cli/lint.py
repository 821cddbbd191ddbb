"""``lamina lint DOCKERFILE…``: hadolint's rules (and ShellCheck's) over lamina's Dockerfile parser."""

from __future__ import annotations

import sys

import click

from lamina.security.lint.formats import FORMATS

LEVEL_CHOICES = ("error", "warning", "info", "style", "ignore", "none")


@click.command("lint")
@click.argument("dockerfiles", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "-f", "output_format", type=click.Choice(FORMATS), default="tty", show_default=True,
              help="Output format (hadolint's tty, json and sarif shapes)")
@click.option("--ignore", "ignored", multiple=True, metavar="CODE", help="Do not report this rule (repeatable)")
@click.option("--failure-threshold", "-t", type=click.Choice(LEVEL_CHOICES), default=None,
              help="Exit 1 only for findings at this level or above  [default: info]")
@click.option("--trusted-registry", "trusted", multiple=True, metavar="REGISTRY",
              help="A registry FROM images may come from (DL3026; repeatable, * wildcards)")
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="A hadolint config file (default: ./.hadolint.yaml when present)")
@click.option("--no-shellcheck", is_flag=True, help="Skip ShellCheck's SC findings for RUN lines")
@click.option("--no-fail", is_flag=True, help="Exit 0 whatever is found")
def lint(dockerfiles: tuple[str, ...], output_format: str, ignored: tuple[str, ...], failure_threshold: str | None,
         trusted: tuple[str, ...], config_path: str | None, no_shellcheck: bool, no_fail: bool) -> None:
    """Check Dockerfiles for mistakes and bad practice (hadolint's DL rules)

    With no DOCKERFILE, lints ./Dockerfile; "-" reads standard input. Exits 1 when a finding
    reaches the failure threshold.
    """
    from pathlib import Path

    from lamina.security.lint import (
        LintConfig,
        fails,
        find_config,
        format_findings,
        lint_file,
        lint_text,
        load_config,
    )
    from lamina.security.lint.config import check_level

    config = LintConfig()
    found_config = Path(config_path) if config_path else find_config(Path.cwd())
    if found_config is not None:
        config = load_config(found_config, config)
    config = config.merged(
        ignored=config.ignored | frozenset(ignored),
        trusted_registries=config.trusted_registries + trusted,
        shellcheck=not no_shellcheck,
        no_fail=config.no_fail or no_fail,
    )
    if failure_threshold is not None:
        config = config.merged(failure_threshold=check_level(failure_threshold, "--failure-threshold"))
    findings = []
    for dockerfile in dockerfiles or ("Dockerfile",):
        if dockerfile == "-":
            findings.extend(lint_text(sys.stdin.read(), "-", config))
        else:
            findings.extend(lint_file(dockerfile, config))
    sys.stdout.write(format_findings(findings, output_format))
    sys.stdout.flush()
    if not config.no_fail and fails(findings, config.failure_threshold):
        sys.exit(1)
