"""lamina's secret findings equal Trivy's on the same archives: (target, rule, lines, masked line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamina.image import open_image
from lamina.security.secrets import scan_image_secrets
from tests.security.scan_archives import write_docker_archive
from tests.security.scan_oracle import secret_rows, trivy_report
from tests.security.scan_planted import AWS_SECRET, GCP_SERVICE_ACCOUNT, GITHUB_PAT, LINES, PRIVATE_KEY


def lamina_rows(archive: Path) -> tuple[set[tuple], list]:
    spec = f"docker-archive:{archive}"
    with open_image(spec) as image:
        files = scan_image_secrets(image)
    rows = set()
    for secret_file in files:
        target = "<config>" if secret_file.target == spec else secret_file.target
        rows.update((target, f.rule_id, f.start_line, f.end_line, f.match) for f in secret_file.findings)
    return rows, files


def trivy_rows(archive: Path, tmp_path: Path) -> set[tuple]:
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "secret")
    return secret_rows(report, config_target="<config>", artifact=report["ArtifactName"])


def compare(archive: Path, tmp_path: Path) -> set[tuple]:
    ours, _ = lamina_rows(archive)
    theirs = trivy_rows(archive, tmp_path)
    assert ours == theirs, f"only lamina: {sorted(ours - theirs)}\nonly Trivy: {sorted(theirs - ours)}"
    return ours


def test_every_rule_type_in_files_is_found_as_trivy_finds_it(tmp_path):
    body = "\n".join(f"# {rule}\n{line}" for rule, line in LINES.items()) + "\n"
    layers = [
        {"app/settings.env": body.encode(), "root/.ssh/id_ed25519": PRIVATE_KEY.encode(),
         "srv/gcp/credentials.json": GCP_SERVICE_ACCOUNT.encode()},
        {"etc/app/one-line.conf": ("x = 1; " + LINES["github-pat"]).encode()},
    ]
    rows = compare(write_docker_archive(tmp_path / "planted.tar", layers), tmp_path)
    assert {rule for _, rule, *_ in rows} >= set(LINES) | {"private-key", "gcp-service-account"}


def test_env_labels_and_history_of_the_config_are_scanned_like_trivy(tmp_path):
    config = {
        "Env": ["PATH=/usr/bin:/bin", f"GITHUB_TOKEN={GITHUB_PAT}", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}"],
        "Labels": {"deploy.hook": LINES["slack-web-hook"].split()[-1], "maintainer": "ops <ops@corp>"},
        "User": "app",
        "ExposedPorts": {"8080/tcp": {}},
    }
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:1 in / "},
               {"created": "2024-01-01T00:00:00Z", "created_by": f"/bin/sh -c echo {LINES['gitlab-pat']} > /x"}]
    archive = write_docker_archive(tmp_path / "config.tar", [{"x": b"0123456789ab"}, {"y": b"0123456789ab"}],
                                   config=config, history=history)
    rows = compare(archive, tmp_path)
    assert {rule for target, rule, *_ in rows if target == "<config>"} >= {"github-pat", "slack-web-hook", "gitlab-pat"}


def test_allow_rules_and_skipped_files_are_left_out_as_by_trivy(tmp_path):
    line = LINES["github-pat"].encode() + b"\n"
    layers = [{
        "app/test/fixture.txt": line, "app/src/user_test.go": line, "usr/share/doc/app/README": line,
        "usr/lib/python3/dist-packages/x.py": line, "app/node_modules/pkg/index.js": line,
        "app/vendor/lib/x.rb": line, "app/NOTES.md": line, "app/examples/demo.env": line,
        "app/package-lock.json": line, "app/.git/config": line, "app/keys.tar": line,
        "app/docs.txt": b"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",  # the documentation key
        "app/binary.dat": b"\x00\x01\x02" + line,
        "app/tiny": b"ghp_",  # under 10 bytes
        "app/real.env": line,  # the one that counts
    }]
    rows = compare(write_docker_archive(tmp_path / "allowed.tar", layers), tmp_path)
    assert {target for target, *_ in rows} == {"/app/real.env"}


def test_compiled_python_is_scanned_for_its_strings_as_by_trivy(tmp_path):
    import marshal

    code = compile(f"TOKEN = {LINES['github-pat'].split()[-1]!r}\nKEY = {LINES['slack-web-hook'].split()[-1]!r}\n",
                   "settings.py", "exec")
    pyc = b"\xa7\r\r\n" + b"\x00" * 12 + marshal.dumps(code)
    layers = [{"app/__pycache__/settings.cpython-311.pyc": pyc, "app/data.bin2": pyc}]
    rows = compare(write_docker_archive(tmp_path / "pyc.tar", layers), tmp_path)
    assert {(target, rule) for target, rule, *_ in rows} == {
        ("/app/__pycache__/settings.cpython-311.pyc", "github-pat"),
        ("/app/__pycache__/settings.cpython-311.pyc", "slack-web-hook")}


def test_a_deleted_or_rewritten_secret_is_reported_with_the_layer_that_holds_it(tmp_path):
    pat = LINES["github-pat"].encode() + b"\n"
    layers = [
        {"app/a.env": pat, "app/b.env": pat, "app/c.env": pat},
        {"app/.wh.a.env": b"", "app/b.env": b"clean now, nothing here\n", "app/c.env": b"moved\n\n" + pat},
    ]
    archive = write_docker_archive(tmp_path / "layers.tar", layers)
    rows = compare(archive, tmp_path)
    assert ("/app/c.env", "github-pat", 3, 3, "token: " + "*" * 40) in rows
    _, files = lamina_rows(archive)
    diff_ids = json.loads(json.dumps([f.findings[0].layer_diff_id for f in files]))
    assert diff_ids[0] != diff_ids[2]  # a.env's finding is in layer 1, c.env's in layer 2


def test_secrets_deep_in_big_files_get_trivys_line_numbers(tmp_path):
    filler = b"".join(b"line %05d of configuration text that holds nothing secret\n" % n for n in range(4000))
    pat = LINES["github-pat"].encode()
    content = filler[:70000] + pat + b"\n" + filler[70000:131000] + b"\n" + LINES["aws-access-key-id"].encode() \
        + b"\n" + filler[131000:]
    boundary = filler[: 64 * 1024 - 20] + pat + b"\n" + filler[: 2000]  # across the first chunk border
    rows = compare(write_docker_archive(tmp_path / "big.tar", [{"srv/big.conf": content,
                                                                "srv/border.conf": boundary}]), tmp_path)
    assert len(rows) == 3


def test_a_report_never_holds_a_secret_in_full(tmp_path):
    layers = [{"app/settings.env": "\n".join(LINES.values()).encode() + b"\n"}]
    archive = write_docker_archive(tmp_path / "mask.tar", layers, config={"Env": [f"T={GITHUB_PAT}"]})
    _, files = lamina_rows(archive)
    text = json.dumps([[f.match for f in sf.findings] + [c.content for f in sf.findings for c in f.code]
                       for sf in files])
    for secret in (GITHUB_PAT, AWS_SECRET, LINES["slack-web-hook"].split("/")[-1]):
        assert secret not in text


@pytest.mark.parametrize("damage", ["truncated", "not-a-tar"])
def test_a_corrupt_layer_is_one_error_naming_the_layer(tmp_path, damage):
    from lamina.errors import LaminaError

    archive = write_docker_archive(tmp_path / "ok.tar", [{"app/a.env": LINES["github-pat"].encode() * 300}])
    data = archive.read_bytes()
    if damage == "truncated":
        broken = data[: len(data) // 2]
    else:
        broken = data.replace(b"ustar", b"xxxxx")
    bad = tmp_path / "bad.tar"
    bad.write_bytes(broken)
    with pytest.raises(LaminaError) as error:
        with open_image(f"docker-archive:{bad}") as image:
            scan_image_secrets(image)
    assert "\n" not in str(error.value)
