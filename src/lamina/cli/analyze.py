"""``lamina analyze IMAGE``: where an image's bytes go, with dive's numbers, rules and JSON."""

from __future__ import annotations

import sys

import click


@click.command("analyze")
@click.argument("image")
@click.option("--json", "-j", "json_file", type=click.Path(dir_okay=False),
              help="Write the analysis to FILE in dive's JSON shape")
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="Write a self-contained HTML page: a treemap of the files by layer, the layers, the wasted files")
@click.option("--ci", is_flag=True, help="Check dive's CI rules; exit 1 when one fails")
@click.option("-i", "--interactive", is_flag=True,
              help="Browse the layers and each layer's file tree in the terminal (keys shown at the bottom)")
@click.option("--ci-config", type=click.Path(dir_okay=False),
              help="YAML rules file (dive's .dive-ci; default: ./.dive-ci when it exists)")
@click.option("--lowestEfficiency", "lowest_efficiency",
              help="(with --ci) lowest allowed image efficiency, a ratio 0-1 [default: 0.9]")
@click.option("--highestWastedBytes", "highest_wasted_bytes",
              help="(with --ci) highest allowed wasted bytes, e.g. 20MB, or 'disabled' [default: disabled]")
@click.option("--highestUserWastedPercent", "highest_user_wasted_percent",
              help="(with --ci) highest allowed wasted/user bytes, a ratio 0-1 [default: 0.1]")
@click.option("--platform", help="Platform (os/arch[/variant]) of a multi-platform image")
@click.pass_context
def analyze(ctx: click.Context, image: str, json_file: str | None, html_file: str | None, ci: bool, interactive: bool, ci_config: str | None,
            lowest_efficiency: str | None, highest_wasted_bytes: str | None,
            highest_user_wasted_percent: str | None, platform: str | None) -> None:
    """Show each layer's changes, the image's efficiency and its wasted space (dive's numbers)

    IMAGE is a stored image name or ID, docker-archive:PATH, oci-archive:PATH, oci:DIR or a
    registry reference.
    """
    from lamina.analysis import analyze as run_analysis

    rules = None
    if ci:  # a bad rules file is reported before the image is read
        from lamina.analysis.ci import load_rules

        rules = load_rules(ci_config, {"lowestEfficiency": lowest_efficiency,
                                       "highestWastedBytes": highest_wasted_bytes,
                                       "highestUserWastedPercent": highest_user_wasted_percent})
    root = (ctx.find_root().obj or {}).get("root")
    report = run_analysis(image, root=root, platform=platform)
    for problem in report.path_errors:
        click.echo(f"lamina: warning: {problem}", err=True)
    if json_file:
        from pathlib import Path

        from lamina.analysis.report import dive_json

        Path(json_file).write_bytes(dive_json(report))
    if html_file:
        from pathlib import Path

        from lamina.analysis.html import html_report

        Path(html_file).write_text(html_report(report), encoding="utf-8")
    if rules is not None:
        from lamina.analysis.ci import evaluate, summary_lines

        outcome = evaluate(report, rules)
        click.echo("\n".join(summary_lines(report)))
        click.echo(outcome.report(report))
        if not outcome.passed:
            sys.exit(1)
        return
    if interactive:
        from lamina.analysis.tui import run_interactive

        run_interactive(report)
    elif not json_file and not html_file:
        from lamina.analysis.report import text_report

        click.echo(text_report(report))


@click.command("diff")
@click.argument("image_a", metavar="IMAGE1")
@click.argument("image_b", metavar="IMAGE2")
@click.option("--format", "output_format", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format")
@click.option("--platform", help="Platform (os/arch[/variant]) of multi-platform images")
@click.pass_context
def image_diff(ctx: click.Context, image_a: str, image_b: str, output_format: str, platform: str | None) -> None:
    """Show the files, config and history that differ between two images

    Files are marked A (only in IMAGE2), D (only in IMAGE1) or C (in both, different) with the
    fields that changed. The images may come from different sources (store, docker-archive:,
    oci-archive:, oci:, a registry).
    """
    from lamina.analysis import diff

    root = (ctx.find_root().obj or {}).get("root")
    result = diff(image_a, image_b, root=root, platform=platform)
    if output_format == "json":
        from lamina.analysis.diffreport import diff_json

        sys.stdout.buffer.write(diff_json(result))
    else:
        from lamina.analysis.diffreport import diff_table

        click.echo(diff_table(result), nl=False)


@click.command("squash")
@click.argument("image")
@click.option("--from", "base", metavar="BASE",
              help="Keep BASE's layers (the image IMAGE was built on) and merge only the layers above them")
@click.option("-t", "--tag", help="Name the squashed image (name:tag)")
@click.option("--platform", help="Platform (os/arch[/variant]) of a multi-platform image")
@click.pass_context
def image_squash(ctx: click.Context, image: str, base: str | None, tag: str | None, platform: str | None) -> None:
    """Merge an image's layers into one and store the result; prints the new image ID

    Without --from every layer becomes one ("create new from" in the history); with it, BASE's
    layers are kept and the rest merged, as docker build --squash does. Files a layer deleted are
    gone, not hidden. The history is kept, its entries marked empty_layer.
    """
    from lamina.analysis import squash

    root = (ctx.find_root().obj or {}).get("root")
    click.echo(squash(image, base=base, tag=tag, root=root, platform=platform))
