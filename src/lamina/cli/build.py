"""``lamina build``: flags as docker's, output as docker's classic builder prints it."""

from __future__ import annotations

import click


@click.command("build")
@click.argument("context")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag in the 'name:tag' format")
@click.option("-f", "--file", "dockerfile", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--target", help="Set the target build stage to build.")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--network", default="default", help="Set the networking mode for the RUN instructions during build")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--iidfile", help="Write the image ID to the file")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("--platform", help="Set platform if server is multi-platform capable")
@click.option("--secret", "secrets", multiple=True, help="Secret to expose to the build (id=ID,src=FILE)")
@click.option("--cache-from", "cache_from", multiple=True,
              help="Cache sources: IMAGE, type=registry,ref=REF (a cache or an image), type=local,src=DIR")
@click.option("--cache-to", "cache_to", multiple=True,
              help="Cache export: type=registry,ref=REF or type=local,dest=DIR [,mode=min|max]"
                   "[,compression=gzip|zstd|none]; type=inline (every lamina image carries its cache)")
@click.option("--add-host", "add_hosts", multiple=True, help="Add a custom host-to-IP mapping (host:ip)")
@click.option("--ulimit", "ulimits", multiple=True, help="Ulimit options")
@click.option("--shm-size", help="Size of /dev/shm")
@click.option("-m", "--memory", help="Memory limit")
@click.option("--memory-swap", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
@click.option("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
@click.option("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--cpu-period", type=int, help="Limit the CPU CFS (Completely Fair Scheduler) period")
@click.option("--cpu-quota", type=int, help="Limit the CPU CFS (Completely Fair Scheduler) quota")
@click.option("--security-opt", "security_opt", multiple=True, help="Security options for RUN containers")
@click.option("--cgroup-parent", help="Optional parent cgroup for the container (accepted)")
@click.option("--isolation", help="Container isolation technology (Linux: default only)")
@click.option("--compress", is_flag=True, help="Compress the build context (a no-op: no daemon)")
@click.option("--disable-content-trust", is_flag=True, help="Skip image verification (a no-op)")
@click.option("--rm/--no-rm", default=True, help="Remove intermediate containers after a successful build (always: a no-op)")
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers (always: a no-op)")
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "quiet"], case_sensitive=False),
              default="auto", show_default=True,
              help="Type of progress output: plain (docker's classic builder lines), tty (a live display "
                   "with the time of each step), auto (tty when stderr is a terminal), quiet")
@click.option("--builder", type=click.Choice(["classic", "buildkit"], case_sensitive=False),
              help="Whose results to match: docker's classic builder or BuildKit (default: DOCKER_BUILDKIT, "
                   "else buildkit, as current docker)")
@click.option("--squash", is_flag=True, help="Squash newly built layers into a single new layer")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, exists=True),
              help="containers-policy.json for base-image pulls, or policy-check rules (YAML) the image must pass")
@click.option("--check", is_flag=True, help="Lint the Dockerfile first (hadolint's rules, as lamina lint) "
                                            "and stop when a finding is an error")
@click.option("--reproducible-check", "reproducible_check", is_flag=True,
              help="Build a second time without cache and report the first difference, if any "
                   "(set SOURCE_DATE_EPOCH to fix the timestamps)")
@click.option("--sbom", is_flag=True, help="Attach a CycloneDX SBOM attestation to the built image (BuildKit's "
                                          "--attest type=sbom; push carries it as cosign's .att)")
@click.option("--provenance", is_flag=True, help="Attach a SLSA provenance attestation (builder, Dockerfile digest, "
                                                "build args, base images, context digest)")
@click.option("--attest-key", "attest_key", type=click.Path(dir_okay=False, exists=True),
              help="Sign the --sbom/--provenance attestations with this cosign key (else they are unsigned)")
@click.pass_context
def build(ctx, context, tags, dockerfile, build_args, target, labels, no_cache, network, quiet, iidfile,
          pull, platform, secrets, cache_from, cache_to, rm, force_rm, progress, builder, squash, **run_flags):
    """Build an image from a Dockerfile."""
    from lamina.cli.buildrun import run_build

    policy_file = run_flags.pop("policy_file")
    reproducible_check = run_flags.pop("reproducible_check")
    attest = _attest_flags(run_flags.pop("sbom"), run_flags.pop("provenance"), run_flags.pop("attest_key"))
    if run_flags.pop("check"):
        _lint_first(context, dockerfile, quiet)
    run_host_config = _run_host_config(run_flags)

    cache_from = [_cache_source(spec) for spec in cache_from]
    cache_to = [_cache_export(spec) for spec in cache_to]
    from lamina.cli.sign import build_policy

    root = (ctx.find_root().obj or {}).get("root")
    with build_policy(policy_file, iidfile, root) as (iidfile, check_built_image):
        run_build(root, context, tags=tags, dockerfile=dockerfile,
                  build_args=build_args, target=target, labels=labels, no_cache=no_cache, network=network,
                  quiet=quiet, iidfile=iidfile, pull=pull, platform=platform, secrets=secrets,
                  cache_from=cache_from, cache_to=cache_to, progress=progress, run_host_config=run_host_config, builder=builder,
                  squash=squash, reproducible_check=reproducible_check, attest=attest)
        check_built_image()


def _attest_flags(sbom: bool, provenance: bool, key_path: str | None):
    """(sbom, provenance, private key or None), or None without --sbom/--provenance; the key and
    its password are read before the build starts."""
    if not (sbom or provenance):
        if key_path:
            raise click.UsageError("--attest-key needs --sbom or --provenance")
        return None
    from lamina.cli.sign import _private_key

    return sbom, provenance, _private_key(key_path) if key_path else None


def _lint_first(context: str, dockerfile: str | None, quiet: bool) -> None:
    """--check: print the lint findings (on stdout before the steps; stderr with -q, where stdout
    is the ID alone); a finding at level error stops the build before it starts."""
    from pathlib import Path

    from lamina.errors import BuildError
    from lamina.security.lint import format_findings, lint_before_build

    findings, path = lint_before_build(context, dockerfile, Path.cwd())
    click.echo(format_findings(findings, "tty"), nl=False, err=quiet)
    errors = [finding for finding in findings if finding.level == "error"]
    if errors:
        first = errors[0]
        raise BuildError(f"{path}:{first.line}: {first.code} {first.message} (lint found {len(errors)} error(s))")


def _run_host_config(flags: dict) -> dict:
    """The RUN containers' HostConfig from --add-host, --ulimit, -m, --cpu-* …; --compress,
    --disable-content-trust and --cgroup-parent change nothing visible in docker's classic
    builder on Linux either, and --isolation takes only ``default``, as docker's daemon."""
    isolation = flags.pop("isolation")
    for ignored in ("compress", "disable_content_trust", "cgroup_parent"):
        flags.pop(ignored)
    if isolation not in (None, "", "default"):
        from lamina.errors import BuildError

        raise BuildError(f"Unsupported isolation: \"{isolation}\"")
    if not any(flags.values()):
        return {}
    from lamina.runtime.hostflags import build_host_config

    return build_host_config(**flags)


def _cache_source(spec: str) -> str:
    """``--cache-from``: an image name, or BuildKit's ``type=registry,ref=REF`` / ``type=local,src=DIR``
    (checked here, read by the builder: a registry ref may be a cache or an image)."""
    from lamina.build.cachespec import parse_import
    from lamina.errors import UsageError

    try:
        parse_import(spec)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    return spec


def _cache_export(spec: str) -> str:
    """``--cache-to``: checked here, written by the builder after the build (cacheexport.py)."""
    from lamina.build.cachespec import parse_export
    from lamina.errors import UsageError

    try:
        parse_export(spec)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    return spec
