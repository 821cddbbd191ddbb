"""lamina's image-config checks fail where Trivy's fail: same DS IDs on the same implied lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamina.image import open_image
from lamina.security.misconfig import check_image_config
from tests.security.scan_archives import write_docker_archive
from tests.security.scan_oracle import trivy_report


def entry(created_by: str, empty: bool = False) -> dict:
    return {"created": "2024-01-01T00:00:00Z", "created_by": created_by, **({"empty_layer": True} if empty else {})}


BASE = [entry("/bin/sh -c #(nop) ADD file:4f1c2e in / "), entry('/bin/sh -c #(nop)  CMD ["bash"]', True)]

CASES = {
    "buildkit-bad": (BASE + [
        entry("RUN /bin/sh -c apt-get update && apt-get install curl # buildkit"),
        entry("RUN /bin/sh -c sudo rm -rf /tmp/x # buildkit"),
        entry("ADD app.py /app/app.py # buildkit"),
        entry("ADD https://downloads.corp/x.tgz /tmp/ # buildkit"),
        entry("RUN /bin/sh -c cd /app && wget http://a/b && curl http://c/d # buildkit"),
        entry("EXPOSE map[22/tcp:{}]", True),
        entry("ENV SECRET_KEY=abc", True),
        entry("ENV GITHUB_TOKEN=x PUBLIC_KEY=y", True),
        entry("USER root", True),
    ], {"User": "root", "ExposedPorts": {"22/tcp": {}}}),
    "buildkit-good": (BASE + [
        entry("RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl # buildkit"),
        entry("COPY app.py /app/app.py # buildkit"),
        entry("WORKDIR /app", True),
        entry("HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"30s\" \"0s\" \"0s\" \"0s\" '\\x00'}", True),
        entry("USER app", True),
    ], {"User": "app", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000}}),
    "legacy-builder": ([entry("/bin/sh -c #(nop) ADD file:99 in / ")] + [
        entry("/bin/sh -c apt-get update"),
        entry("/bin/sh -c apk add curl && apt-get dist-upgrade -y"),
        entry("/bin/sh -c #(nop)  ENV AWS_SECRET_ACCESS_KEY=abc", True),
        entry("/bin/sh -c #(nop)  USER 0:0", True),
        entry("/bin/sh -c apt-get -y install --no-install-recommends git"),
    ], {}),
    "no-history": ([], {"User": "nobody"}),
}


def trivy_failures(archive: Path, tmp_path: Path) -> set[tuple[str, int]]:
    report = trivy_report(archive, tmp_path / "trivy-cache", "--scanners", "misconfig",
                          "--image-config-scanners", "misconfig")
    return {(failure["ID"], failure.get("CauseMetadata", {}).get("StartLine") or 0)
            for result in report.get("Results") or [] if result.get("Class") == "config"
            for failure in result.get("Misconfigurations") or [] if failure.get("Status") == "FAIL"}


@pytest.mark.slow  # Trivy loads its rego checks: ~2 s a run
@pytest.mark.parametrize("case", sorted(CASES))
def test_failed_checks_equal_trivys(tmp_path, case):
    history, run_config = CASES[case]
    layer_count = sum(1 for item in history if not item.get("empty_layer")) or 1
    archive = write_docker_archive(tmp_path / f"{case}.tar", [{f"f{n}": b"0123456789ab"} for n in range(layer_count)],
                                   config={"Env": ["PATH=/bin"], **run_config}, history=history or None)
    with open_image(f"docker-archive:{archive}") as image:
        result = check_image_config(image.config_bytes())
    ours = {(failure.id, failure.start_line) for failure in result.failures
            if failure.id.startswith("DS-") and failure.id != "DS-0004"}  # lamina's own, and SSH from the config
    assert ours == trivy_failures(archive, tmp_path)


def test_an_exposed_ssh_port_is_ds_0004_even_when_history_does_not_say_expose(tmp_path):
    history, run_config = CASES["buildkit-bad"]
    archive = write_docker_archive(tmp_path / "ssh.tar", [{"a": b"0123456789ab"}] * 6,
                                   config=run_config, history=history)
    with open_image(f"docker-archive:{archive}") as image:
        failures = check_image_config(image.config_bytes()).failures
    assert [failure.id for failure in failures].count("DS-0004") == 1
    archive = write_docker_archive(tmp_path / "web.tar", [{"a": b"0123456789ab"}] * 6,
                                   config={**run_config, "ExposedPorts": {"2222/tcp": {}, "80/tcp": {}}},
                                   history=history)
    with open_image(f"docker-archive:{archive}") as image:
        assert "DS-0004" not in {failure.id for failure in check_image_config(image.config_bytes()).failures}


def test_add_of_a_url_without_checksum_is_lamina_0001_and_add_of_a_local_file_is_ds_0005():
    history = BASE + [entry("ADD https://downloads.corp/tool.tgz /opt/ # buildkit"),
                      entry("ADD --checksum=sha256:0123 https://downloads.corp/a.bin /opt/ # buildkit"),
                      entry("ADD app.tar.gz /srv/ # buildkit"), entry("ADD run.sh /srv/ # buildkit")]
    config = json.dumps({"config": {"User": "app"}, "history": history}).encode()
    failures = check_image_config(config).failures
    assert [failure.start_line for failure in failures if failure.id == "LAMINA-0001"] == [1]
    assert [failure.start_line for failure in failures if failure.id == "DS-0005"] == [4]


def test_a_config_that_is_not_json_is_one_error():
    from lamina.errors import LaminaError

    with pytest.raises(LaminaError, match="not JSON"):
        check_image_config(b"{not json")
