"""fsck and system df."""

from __future__ import annotations

import sys

import click

from lamina.cli.main import client_from
from lamina.cli.output import bytes_size, human_size, print_formatted, tabulate


@click.command("fsck")
@click.option("--repair", is_flag=True, help="Remove corrupt blobs, broken images and orphans")
@click.pass_context
def fsck(ctx, repair):
    """Verify every blob and metadata row of the store."""
    with client_from(ctx) as client:
        report = client.fsck(repair=repair)
    for problem in report.problems:
        sys.stdout.write(f"{problem.kind}: {problem.subject}: {problem.detail}\n")
    for garbage in report.reclaimable:
        sys.stdout.write(f"reclaimable: {garbage.kind}: {garbage.subject}: {garbage.detail}\n")
    if report.repaired:
        state = "repaired"
    elif report.problems:
        state = "problems found"
    elif report.reclaimable:  # no problem (exit 0), but not "clean" either: there is garbage
        state = (f"{len(report.reclaimable)} unreferenced ({human_size(report.reclaimable_bytes)}) "
                 "reclaimable by 'lamina fsck --repair'")
    else:
        state = "clean"
    sys.stdout.write(f"checked {report.checked_blobs} blobs: {len(report.problems)} problems, {state}\n")
    if report.problems and not repair:
        sys.exit(1)


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "format_", help="Pretty-print images using a Go template")
@click.pass_context
def df(ctx, verbose, format_):
    """Show lamina disk usage."""
    with client_from(ctx) as client:
        usage = client.system_df()
        if verbose:
            _df_verbose(client, usage)
            return
    rows = [
        _DfRow("Images", len(usage.images), sum(1 for i in usage.images if i.containers),
               usage.layers_size, usage.images_reclaimable),
        _DfRow("Containers", len(usage.containers), usage.containers_active, usage.containers_size,
               usage.containers_reclaimable),
        _DfRow("Local Volumes", len(usage.volumes), sum(1 for v in usage.volumes if v.links),
               sum(v.size for v in usage.volumes), sum(v.size for v in usage.volumes if not v.links)),
        _DfRow("Build Cache", len(usage.build_cache), 0, sum(c.size for c in usage.build_cache),
               sum(c.size for c in usage.build_cache)),
    ]
    print_formatted(rows, format_ or "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                    {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                     "Reclaimable": "RECLAIMABLE"})


class _DfRow:
    """One row of ``system df`` with the fields docker's template offers."""

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: int):
        self.Type, self.TotalCount, self.Active = kind, str(total), str(active)
        self.Size = human_size(size, 4)
        percent = f" ({reclaimable * 100 // size}%)" if size > 0 else ""
        self.Reclaimable = human_size(reclaimable, 4) + percent

    def template_fields(self) -> dict:
        return dict(sorted(self.__dict__.items()))


def _df_verbose(client, usage) -> None:
    """docker's ``system df -v``: one table per kind of thing."""
    import time

    from lamina.cli.output import human_duration

    now = time.time()

    def ago(timestamp: float) -> str:
        return human_duration(max(0.0, now - timestamp)) + " ago"

    out = sys.stdout
    out.write("Images space usage:\n\n")
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for image in sorted(usage.images, key=lambda i: -i.created_ts):
        rows.append([image.repository, image.tag, image.id.removeprefix("sha256:")[:12], ago(image.created_ts),
                     human_size(image.size, 4), human_size(image.shared_size, 4), human_size(image.unique_size, 4),
                     str(image.containers)])
    out.write(tabulate(rows) + "\n")
    out.write("Containers space usage:\n\n")
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    if usage.containers:
        from lamina.cli.containers import _image_labels, _PsRow

        labels = _image_labels(client, usage.containers)
        for container in usage.containers:
            row = _PsRow(container, False, labels[container.id])
            volumes = sum(1 for m in container.document.get("Mounts") or [] if m.get("Type") == "volume")
            rows.append([row.ID, row.Image, row.Command, str(volumes),
                         human_size(usage.container_sizes.get(container.id, 0), 4), row.RunningFor, row.Status,
                         row.Names])
    out.write(tabulate(rows) + "\n")
    out.write("Local Volumes space usage:\n\n")
    rows = [["VOLUME NAME", "LINKS", "SIZE"]]
    rows += [[v.name, str(v.links), human_size(v.size, 4)] for v in usage.volumes]
    out.write(tabulate(rows) + "\n")
    out.write(f"Build cache usage: {human_size(sum(c.size for c in usage.build_cache), 4)}\n\n")
    rows = [["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]]
    rows += [[c.id[:12], c.kind, human_size(c.size, 4), ago(c.created_ts), ago(c.last_used_ts), "0", "false"]
             for c in usage.build_cache]
    out.write(tabulate(rows))


@click.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images not just dangling ones")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_context
def system_prune(ctx, all_, volumes, force):
    """Remove unused data: stopped containers, unused images, build cache (and volumes)."""
    from lamina.cli.output import confirm_or_abort

    items = ["all stopped containers"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if all_ else "all dangling images")
    items.append("all build cache" if all_ else "all dangling build cache")
    warning = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
    if not force and not confirm_or_abort(warning):
        return
    with client_from(ctx) as client:
        result = client.prune_system(all=all_, volumes=volumes)
    out = sys.stdout
    if result["containers"]:
        out.write("Deleted Containers:\n" + "".join(f"{c}\n" for c in result["containers"]) + "\n")
    if result["volumes"]:
        out.write("Deleted Volumes:\n" + "".join(f"{v}\n" for v in result["volumes"]) + "\n")
    images = result["images"]
    if images.untagged or images.deleted:
        out.write("Deleted Images:\n" + "".join(f"untagged: {n}\n" for n in images.untagged)
                  + "".join(f"deleted: {d}\n" for d in images.deleted) + "\n")
    if result["build_cache"].deleted:
        out.write("Deleted build cache objects:\n" + "".join(f"{i}\n" for i in result["build_cache"].deleted) + "\n")
    out.write(f"Total reclaimed space: {human_size(result['space_reclaimed'])}\n")


@click.command("info")
@click.option("-f", "--format", "format_", help="Format the output using the given Go template")
@click.pass_context
def info(ctx, format_):
    """Display system-wide information."""
    with client_from(ctx) as client:
        document = client.info()
    if format_:
        _print_template(document, format_)
        return
    lines = [
        f"Containers: {document['Containers']}",
        f" Running: {document['ContainersRunning']}",
        f" Paused: {document['ContainersPaused']}",
        f" Stopped: {document['ContainersStopped']}",
        f"Images: {document['Images']}",
        f"Lamina Version: {document['ServerVersion']}",
        f"Storage Driver: {document['Driver']}",
        *(f" {key}: {value}" for key, value in document["DriverStatus"]),
        f"Cgroup Driver: {document['CgroupDriver']}",
        f"Cgroup Version: {document['CgroupVersion']}",
        f"Default Runtime: {document['DefaultRuntime']}",
        "Security Options:", *(f" {option.split(',')[0].removeprefix('name=')}" for option in document["SecurityOptions"]),
        f"Kernel Version: {document['KernelVersion']}",
        f"Operating System: {document['OperatingSystem']}",
        f"OSType: {document['OSType']}",
        f"Architecture: {document['Architecture']}",
        f"CPUs: {document['NCPU']}",
        f"Total Memory: {bytes_size(document['MemTotal'])}",
        f"Name: {document['Name']}",
        f"Lamina Root Dir: {document['DockerRootDir']}",
        f"Lamina Config: {document['LaminaConfig'] or '(defaults)'}",
        f"Python Version: {document['PythonVersion']}",
        "Insecure Registries:", *(f" {entry}" for entry in (document["RegistryConfig"]["InsecureRegistries"]
                                                            + document["RegistryConfig"]["InsecureRegistryCIDRs"])),
    ]
    mirrors = document["RegistryConfig"]["Mirrors"]
    if mirrors:
        lines += ["Registry Mirrors:", *(f" {mirror}" for mirror in mirrors)]
    sys.stdout.write("\n".join(lines) + "\n")


@click.command("version")
@click.option("-f", "--format", "format_", help="Format the output using the given Go template")
@click.pass_context
def version(ctx, format_):
    """Show lamina's version and the runtime it drives."""
    with client_from(ctx) as client:
        document = client.version()
    if format_:
        _print_template(document, format_)
        return
    own, runtime = document["Client"], document["Runtime"]
    lines = ["Client: lamina",
             f" Version:           {own['Version']}",
             f" Python version:    {own['PythonVersion']}",
             f" OS/Arch:           {own['Os']}/{own['Arch']}",
             "",
             "Runtime:",
             " runc:",
             f"  Version:          {runtime['Version'] or 'not found'}",
             " slirp4netns:",
             f"  Version:          {runtime['Slirp4netns'] or 'not found'}"]
    sys.stdout.write("\n".join(lines) + "\n")


def _print_template(document: dict, template: str) -> None:
    """``--format``: one rendered line, with ``\\n``/``\\t`` escapes as docker reads them."""
    from lamina.cli.gotemplate import render

    sys.stdout.write(render(template.replace("\\n", "\n").replace("\\t", "\t"), document) + "\n")


@click.group("system")
def system_group():
    """Manage lamina."""


system_group.add_command(df, "df")
system_group.add_command(system_prune, "prune")
system_group.add_command(info, "info")

from lamina.cli.service import service as _service  # noqa: E402 - light: the server loads when it runs

system_group.add_command(_service, "service")


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
