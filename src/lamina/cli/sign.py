"""``lamina generate-key-pair``, ``sign``, ``verify``, ``attest``, ``verify-attestation``, ``policy``:
cosign's commands and formats, over lamina.security.signing."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click


def _password(confirm: bool = False) -> str:
    """cosign's rule: ``COSIGN_PASSWORD`` when set (even empty), else ask on the terminal."""
    if "COSIGN_PASSWORD" in os.environ:
        return os.environ["COSIGN_PASSWORD"]
    prompt = "Enter password for private key"
    return click.prompt(prompt, hide_input=True, default="", show_default=False,
                        confirmation_prompt="Enter password for private key again" if confirm else False,
                        err=True)


def _private_key(path: str):
    from lamina.security.signing.keys import load_private_key, read_key_file

    data = read_key_file(path)
    password = _password() if b"ENCRYPTED" in data else None
    return load_private_key(data, password, where=path)


def _public_keys(paths: tuple[str, ...]):
    from lamina.security.signing.keys import load_public_key, read_key_file

    return [load_public_key(read_key_file(path), where=path) for path in paths]


def _annotations(pairs: tuple[str, ...]) -> dict[str, str]:
    from lamina.errors import UsageError

    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"annotation {pair!r} is not key=value")
        result[key] = value
    return result


@click.command("generate-key-pair")
@click.option("--output-key-prefix", default="cosign", show_default=True,
              help="Write PREFIX.key (encrypted private key) and PREFIX.pub")
@click.option("--force", is_flag=True, help="Overwrite existing key files")
def generate_key_pair(output_key_prefix: str, force: bool) -> None:
    """Generate an ECDSA P-256 key pair in cosign's format (password from COSIGN_PASSWORD or a prompt)."""
    from lamina.errors import UsageError
    from lamina.security.signing.keys import generate_key_pair as generate

    private_path, public_path = Path(output_key_prefix + ".key"), Path(output_key_prefix + ".pub")
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise UsageError(f"{path} exists; use --force to overwrite it")
    pair = generate(_password(confirm=True))
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pair.private_pem)
    public_path.write_bytes(pair.public_pem)
    click.echo(f"Private key written to {private_path}", err=True)
    click.echo(f"Public key written to {public_path}", err=True)


@click.command("sign")
@click.option("--key", "key_path", required=True, help="Private key file (cosign.key or a PEM key)")
@click.option("-a", "--annotations", "annotations", multiple=True, metavar="KEY=VALUE",
              help="Extra key=value pairs signed in the payload's optional section")
@click.argument("image")
@click.pass_context
def sign(ctx: click.Context, key_path: str, annotations: tuple[str, ...], image: str) -> None:
    """Sign IMAGE in its registry (cosign's .sig tag, appended to existing signatures); a stored copy
    of that image keeps the signatures too (save carries them)."""
    from lamina.oci.reference import parse_reference
    from lamina.security.signing.cosign import sign as sign_image
    from lamina.security.signing.transfer import keep_attachments

    result = sign_image(image, _private_key(key_path), annotations=_annotations(annotations))
    click.echo(f"Pushing signature to: {result.repository}:{result.signature_tag}")
    keep_attachments((ctx.find_root().obj or {}).get("root"), parse_reference(image), result.manifest_digest)


@click.command("verify")
@click.option("--key", "key_paths", multiple=True, help="Public key file (repeat for several)")
@click.option("--rekor-key", "rekor_paths", multiple=True,
              help="Rekor public key: also require the signature's Rekor SET to verify (offline)")
@click.option("--ca-roots", type=click.Path(dir_okay=False, exists=True),
              help="Fulcio root certificates (PEM) for keyless signatures (needs --rekor-key)")
@click.option("--certificate-oidc-issuer", help="Keyless: the OIDC issuer the certificate must name")
@click.option("--certificate-identity", help="Keyless: the e-mail the certificate must name")
@click.option("-o", "--output", "output", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.argument("image")
def verify(key_paths: tuple[str, ...], rekor_paths: tuple[str, ...], ca_roots: str | None,
           certificate_oidc_issuer: str | None, certificate_identity: str | None, output: str, image: str) -> None:
    """Verify IMAGE's signatures; print the verified payloads; fail when none verifies."""
    from lamina.errors import UsageError
    from lamina.security.signing.cosign import verify as verify_image

    fulcio = None
    if ca_roots:
        from lamina.security.signing.keyless import FulcioTrust

        if key_paths or not (certificate_oidc_issuer and certificate_identity and rekor_paths):
            raise UsageError("--ca-roots needs --certificate-oidc-issuer, --certificate-identity and --rekor-key, "
                             "and no --key")
        fulcio = FulcioTrust(Path(ca_roots).read_bytes(), certificate_oidc_issuer, certificate_identity)
    elif not key_paths:
        raise UsageError("verify needs --key (or --ca-roots for keyless signatures)")
    from lamina.security.signing.archive import is_archive_spec, verify_archive

    verify_one = verify_archive if is_archive_spec(image) else verify_image
    verified = verify_one(image, _public_keys(key_paths), rekor_keys=_public_keys(rekor_paths) or None,
                          fulcio=fulcio)
    checks = ["  - The cosign claims were validated"]
    checks.append("  - The code-signing certificate was verified against the Fulcio roots" if fulcio else
                  "  - The signatures were verified against the specified public key")
    if rekor_paths:
        checks.append("  - The Rekor SET was verified offline (log inclusion was not checked)")
    click.echo(f"\nVerification for {image} --\nThe following checks were performed on each of these signatures:\n"
               + "\n".join(checks), err=True)
    unchecked = sorted({name for item in verified for name in item.unchecked})
    if unchecked:
        click.echo(f"  - Not checked offline: {', '.join(unchecked)} (transparency log / certificate chain)", err=True)
    if output == "json":
        sys.stdout.write(json.dumps([item.payload.document() for item in verified]) + "\n")
    else:
        for item in verified:
            sys.stdout.write(f"{item.payload.docker_reference} {item.payload.manifest_digest}\n")


@click.command("attest")
@click.option("--key", "key_path", required=True, help="Private key file (cosign.key or a PEM key)")
@click.option("--type", "kind", default="custom", show_default=True,
              help="cyclonedx, spdx, spdxjson, slsaprovenance, slsaprovenance1, custom, or a predicate type URI")
@click.option("--predicate", required=True, type=click.Path(dir_okay=False, exists=True),
              help="JSON file with the predicate (the SBOM, the provenance …)")
@click.argument("image")
def attest(key_path: str, kind: str, predicate: str, image: str) -> None:
    """Attach a signed in-toto attestation to IMAGE (cosign's .att tag, DSSE envelope)."""
    from lamina.errors import SignatureError
    from lamina.security.signing.attest import attest as attest_image

    try:
        document = json.loads(Path(predicate).read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{predicate}: predicate is not JSON ({exc})") from None
    tag, _ = attest_image(image, _private_key(key_path), document, kind)
    click.echo(f"Pushing attestation to: {image.split('@')[0]} ({tag})")


@click.command("verify-attestation")
@click.option("--key", "key_paths", required=True, multiple=True, help="Public key file (repeat for several)")
@click.option("--type", "kind", default=None, help="Only attestations of this type (as for attest)")
@click.argument("image")
def verify_attestation(key_paths: tuple[str, ...], kind: str | None, image: str) -> None:
    """Verify IMAGE's attestations; print each verified DSSE envelope; fail when none verifies."""
    from lamina.security.signing.archive import is_archive_spec, verify_archive_attestation
    from lamina.security.signing.attest import verify_attestation as verify_image

    verify_one = verify_archive_attestation if is_archive_spec(image) else verify_image
    verified = verify_one(image, _public_keys(key_paths), kind)
    click.echo(f"\nVerification for {image} --\nThe following checks were performed on each of these signatures:\n"
               "  - The signatures were verified against the specified public key\n"
               "  - The in-toto statement's subject is the image's manifest digest", err=True)
    for item in verified:
        sys.stdout.write(item.envelope.decode() + "\n")


@click.group("policy")
def policy_group() -> None:
    """Check images against organizational policies (YAML rules)."""


@policy_group.command("check")
@click.option("--policy", "policy_path", required=True, type=click.Path(dir_okay=False),
              help="YAML rules file (see docs/security.md)")
@click.option("-f", "--format", "output_format", type=click.Choice(["table", "json", "sarif"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to a file")
@click.argument("image")
@click.pass_context
def policy_check(ctx: click.Context, policy_path: str, output_format: str, output: str | None, image: str) -> None:
    """Check IMAGE against the rules in --policy; exit 1 when any rule does not pass (for CI).

    IMAGE is a stored image, docker-archive:PATH, oci-archive:PATH, oci:DIR or a registry reference.
    """
    from lamina.security.signing.orgpolicy import check_policy, render

    root = (ctx.find_root().obj or {}).get("root")
    report = check_policy(image, policy_path, root=root,
                          on_warning=lambda message: click.echo(f"lamina: warning: {message}", err=True))
    document = render(report, output_format)
    if output:
        Path(output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    if not report.passed:
        sys.exit(1)


@contextlib.contextmanager
def build_policy(policy_file: str | None, iidfile: str | None, root: str | None):
    """``build --policy FILE``: a containers-policy.json governs the base-image pulls (through
    ``$LAMINA_POLICY`` for this process); policy-check rules (YAML) are read before the build and
    the built image must pass them. Yields (the iidfile the build writes, the check to run after)."""
    if policy_file is None:
        yield iidfile, lambda: None
        return
    from lamina.errors import PolicyError
    from lamina.security.signing.orgpolicy import check_policy, load_org_policy, render

    data = Path(policy_file).read_bytes()
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict) and "default" in document:
        from lamina.security.signing.policy import load_policy

        load_policy(policy_file)
        os.environ["LAMINA_POLICY"] = str(Path(policy_file).resolve())
        yield iidfile, lambda: None
        return
    rules = load_org_policy(policy_file)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lamina-policy-") as scratch:
        target = iidfile or str(Path(scratch) / "iid")

        def check() -> None:
            image_id = Path(target).read_text().strip()
            report = check_policy(image_id, rules, root=root)
            if not report.passed:
                sys.stderr.buffer.write(render(report, "table"))
                failed = [r for r in report.results if r.status != "pass"]
                raise PolicyError(f"built image {image_id.removeprefix('sha256:')[:12]} breaks policy {policy_file}: "
                                  f"{failed[0].rule}: {failed[0].message}"
                                  + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))

        yield target, check


def push_guard(name: str, policy_file: str | None, sign_key: str | None, root: str | None):
    """``push --policy RULES --sign-by KEY``: check the stored image before anything is sent, read
    the key (and its password) before pushing; returns what to call with each pushed (reference, digest):
    it sends the attachments the store keeps for that manifest (``build --sbom``), then signs."""
    if policy_file:
        from lamina.errors import PolicyError
        from lamina.security.signing.orgpolicy import check_policy, render

        report = check_policy(f"store:{name}", policy_file, root=root)
        if not report.passed:
            sys.stderr.buffer.write(render(report, "table"))
            failed = [r for r in report.results if r.status != "pass"]
            raise PolicyError(f"{name} breaks policy {policy_file}: {failed[0].rule}: {failed[0].message}"
                              + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "") + "; nothing pushed")
    key = _private_key(sign_key) if sign_key else None

    def sign_pushed(reference, digest: str) -> None:
        from lamina.security.signing.cosign import sign as sign_image
        from lamina.security.signing.transfer import keep_attachments, push_attachments

        for tag in push_attachments(root, reference, digest):
            sys.stdout.write(f"Pushing attestations to: {reference.repository}:{tag}\n")
        if key is None:
            return

        result = sign_image(str(reference), key)
        if result.manifest_digest != digest:
            from lamina.errors import SignatureError

            raise SignatureError(f"{reference} moved to {result.manifest_digest} while signing {digest}")
        sys.stdout.write(f"Pushing signature to: {result.repository}:{result.signature_tag}\n")
        keep_attachments(root, reference, digest)

    return sign_pushed
