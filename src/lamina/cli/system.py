"""fsck and system df."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import client_from
from lamina.cli.output import human_size, tabulate


@click.command("fsck")
@click.option("--repair", is_flag=True, help="Remove corrupt blobs, broken images and orphans")
@click.pass_context
def fsck(ctx, repair):
    """Verify every blob and metadata row of the store."""
    with client_from(ctx) as client:
        report = client.fsck(repair=repair)
    for problem in report.problems:
        sys.stdout.write(f"{problem.kind}: {problem.subject}: {problem.detail}\n")
    state = "repaired" if report.repaired else ("clean" if not report.problems else "problems found")
    sys.stdout.write(f"checked {report.checked_blobs} blobs: {len(report.problems)} problems, {state}\n")
    if report.problems and not repair:
        sys.exit(1)


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.pass_context
def df(ctx, verbose):
    """Show lamina disk usage."""
    with client_from(ctx) as client:
        usage = client.system_df()
    size, reclaimable = usage["Size"], usage["Reclaimable"]
    percent = f" ({reclaimable * 100 // size}%)" if size else ""
    rows = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            ["Images", str(usage["Images"]), str(usage["Active"]), human_size(size), human_size(reclaimable) + percent],
            ["Containers", str(usage["Containers"]), str(usage.get("ContainersActive", 0)),
             human_size(usage.get("ContainersSize", 0)), _reclaimable(usage.get("ContainersReclaimable", 0),
                                                                      usage.get("ContainersSize", 0))],
            ["Local Volumes", "0", "0", "0B", "0B"],
            ["Build Cache", "0", "0", human_size(usage["BuildCache"]), "0B"]]
    sys.stdout.write(tabulate(rows))


@click.group("system")
def system_group():
    """Manage lamina."""


system_group.add_command(df, "df")


def _reclaimable(amount: int, total: int) -> str:
    return human_size(amount) + (f" ({amount * 100 // total}%)" if total else "")


@click.group("builder")
def builder_group():
    """Manage the build cache."""


@builder_group.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all build cache, not just dangling entries")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_context
def builder_prune(ctx, all_, force):
    """Remove build cache."""
    from lamina.cli.output import confirm_or_abort

    if not force and not confirm_or_abort("WARNING! This will remove all dangling build cache."
                                          if not all_ else "WARNING! This will remove all build cache."):
        return
    with client_from(ctx) as client:
        report = client.prune_build_cache(all=all_)
    if report.deleted:
        sys.stdout.write("Deleted build cache objects:\n")
        for item in report.deleted:
            sys.stdout.write(f"{item}\n")
        sys.stdout.write("\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(report.space_reclaimed)}\n")
