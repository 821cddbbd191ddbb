"""``lamina db``: fill and inspect the local vulnerability database (import, update, status)."""

from __future__ import annotations

import json

import click


@click.group("db")
def db_group() -> None:
    """Manage the local vulnerability database"""


def _root(ctx: click.Context) -> str | None:
    return (ctx.find_root().obj or {}).get("root")


def _print_report(report) -> None:  # noqa: ANN001 - an ImportReport
    for warning in report.warnings:
        click.echo(f"lamina: warning: {warning}", err=True)
    if report.unchanged:
        click.echo(f"{report.origin}: unchanged ({report.advisories} advisories)")
        return
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    click.echo(f"{report.origin}: {report.advisories} advisories ({report.kind}{skipped})")


@db_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.pass_context
def import_(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Import advisories from OSV records (directory, zip, all.zip), Alpine secdb or Debian tracker JSON"""
    from lamina.security.vulndb import import_sources

    import_sources(paths, root=_root(ctx), on_report=_print_report)


@db_group.command("update")
@click.option("--source", envvar="LAMINA_VULNDB_SOURCE", metavar="URL",
              help="Base URL holding <Ecosystem>/all.zip (default: osv.dev's bucket; LAMINA_VULNDB_SOURCE)")
@click.option("--ecosystem", "ecosystems", multiple=True, metavar="NAME",
              help="OSV ecosystem to download (repeatable; default: the ones lamina scans)")
@click.pass_context
def update(ctx: click.Context, source: str | None, ecosystems: tuple[str, ...]) -> None:
    """Download osv.dev's per-ecosystem all.zip files and import them"""
    from lamina.security.vulndb import update_database

    reports = update_database(root=_root(ctx), source=source, ecosystems=ecosystems or None,
                              on_progress=click.echo)
    for report in reports:
        _print_report(report)


@db_group.command("status")
@click.option("--format", "-f", "output_format", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format")
@click.pass_context
def status(ctx: click.Context, output_format: str) -> None:
    """Show the database file and where and when each source came from"""
    from lamina.security.vulndb import database_status

    path, size, sources = database_status(root=_root(ctx))
    if output_format == "json":
        import msgspec

        document = {"Path": path, "Size": size, "Sources": [
            {"Kind": s.kind, "Name": s.name, "Origin": s.origin, "ImportedAt": s.imported_at,
             "OriginModified": s.origin_modified, "Advisories": s.advisories, "Skipped": s.skipped}
            for s in sources]}
        click.echo(json.dumps(msgspec.to_builtins(document), indent=2))
        return
    click.echo(f"Database: {path} ({size / 1e6:.1f} MB, {sum(s.advisories for s in sources)} advisories)")
    rows = [("KIND", "NAME", "ADVISORIES", "IMPORTED", "SOURCE MODIFIED", "ORIGIN")]
    rows += [(s.kind, s.name, str(s.advisories), s.imported_at, s.origin_modified or "-", s.origin) for s in sources]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "   " + row[-1])
