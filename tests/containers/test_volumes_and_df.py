"""``lamina volume …`` and ``lamina system df`` against docker's rules and output."""

from __future__ import annotations

import json
import re

import pytest


def test_volume_create_ls_inspect_rm(ctr):
    assert ctr.out("volume", "create", "cv-named") == "cv-named\n"
    assert ctr.out("volume", "create", "cv-named") == "cv-named\n"  # docker: creating again is a no-op
    generated = ctr.out("volume", "create", "--label", "tier=db").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", generated)
    listing = ctr.out("volume", "ls").splitlines()
    assert listing[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ["local", "cv-named"] in [line.split() for line in listing[1:]]
    assert ctr.out("volume", "ls", "-q", "--filter", "label=tier=db") == generated + "\n"
    assert ctr.out("volume", "ls", "-q", "--filter", "name=cv-nam") == "cv-named\n"
    document = json.loads(ctr.out("volume", "inspect", generated))[0]
    assert list(document) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert document["Labels"] == {"tier": "db"} and document["Driver"] == "local"
    assert document["Mountpoint"].endswith(f"/volumes/{generated}/_data")
    assert ctr.out("volume", "inspect", "-f", "{{.Name}} {{.Scope}}", "cv-named") == "cv-named local\n"
    assert ctr.out("volume", "rm", "cv-named", generated) == f"cv-named\n{generated}\n"
    assert "cv-named" not in ctr.out("volume", "ls", "-q")


def test_volume_bad_input_is_one_line(ctr):
    assert ctr.fails("volume", "inspect", "no-such-volume").strip() == \
        "lamina: error: get no-such-volume: no such volume"
    assert "no such volume" in ctr.fails("volume", "rm", "no-such-volume")
    ctr.out("volume", "rm", "-f", "no-such-volume")  # -f: a missing volume is not an error
    message = ctr.fails("volume", "create", "bad/name")
    assert "includes invalid characters for a local volume name" in message and len(message.splitlines()) == 1
    assert "plugin" in ctr.fails("volume", "create", "-d", "nfs", "x")
    assert "invalid filter" in ctr.fails("volume", "ls", "--filter", "colour=red")


def test_a_volume_in_use_cannot_be_removed_and_prune_keeps_it(ctr):
    ctr.out("volume", "create", "cv-used")
    container = ctr.out("create", "-v", "cv-used:/data", "busybox", "true").strip()
    message = ctr.fails("volume", "rm", "cv-used")
    assert f"remove cv-used: volume is in use - [{container}]" in message
    assert "volume is in use" in ctr.fails("volume", "rm", "-f", "cv-used")
    ctr.out("volume", "prune", "-a", "-f")
    assert "cv-used" in ctr.out("volume", "ls", "-q").split()
    assert ctr.out("volume", "ls", "-q", "-f", "dangling=false").split() == ["cv-used"]
    ctr.run("rm", container)
    assert "cv-used" in ctr.out("volume", "ls", "-q", "-f", "dangling=true").split()
    ctr.out("volume", "rm", "cv-used")


def test_prune_removes_anonymous_volumes_unless_all(ctr):
    ctr.out("volume", "create", "cv-keep")
    container = ctr.out("create", "cfgimage").strip()  # VOLUME /data: an anonymous volume
    anonymous = [m["Name"] for m in json.loads(ctr.out("inspect", container))[0]["Mounts"]]
    assert len(anonymous) == 1 and re.fullmatch(r"[0-9a-f]{64}", anonymous[0])
    ctr.run("start", "-a", container)  # copy-up fills the volume from the image
    ctr.run("rm", container)
    assert anonymous[0] in ctr.out("volume", "ls", "-q")
    out = ctr.out("volume", "prune", "-f")
    assert anonymous[0] in out and "cv-keep" not in out
    assert re.search(r"Total reclaimed space: \d", out)
    assert anonymous[0] not in ctr.out("volume", "ls", "-q")
    assert "cv-keep" in ctr.out("volume", "prune", "-a", "-f")
    assert "cv-keep" not in ctr.out("volume", "ls", "-q")


def test_prune_without_force_and_no_answer_removes_nothing(ctr):
    # docker 28's client: the prompt reads a piped stdin; its end is a "no" (exit 0, nothing removed)
    ctr.out("volume", "create", "cv-asked")
    result = ctr.run("volume", "prune", "-a", input=b"", check=False)
    assert result.returncode == 0 and b"Are you sure you want to continue? [y/N]" in result.stdout
    assert "cv-asked" in ctr.out("volume", "ls", "-q")
    ctr.out("volume", "rm", "cv-asked")


def _df_rows(ctr) -> dict[str, list[str]]:
    rows = {}
    for line in ctr.out("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|"
                        "{{.Reclaimable}}").splitlines():
        kind, *rest = line.split("|")
        rows[kind] = rest
    return rows


def test_system_df_counts_what_containers_and_volumes_use(ctr):
    before = _df_rows(ctr)
    assert list(before) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    ctr.out("volume", "create", "cv-df")
    container = ctr.out("create", "--name", "df-writer", "-v", "cv-df:/vol", "busybox", "sh", "-c",
                        "head -c 300000 /dev/zero > /written; head -c 5000 /dev/zero > /vol/v").strip()
    ctr.run("start", "-a", container)
    rows = _df_rows(ctr)
    assert int(rows["Containers"][0]) == int(before["Containers"][0]) + 1
    assert rows["Containers"][2:] == ["300kB", "300kB (100%)"]  # stopped: all of it reclaimable
    assert int(rows["Local Volumes"][0]) == int(before["Local Volumes"][0]) + 1
    assert int(rows["Images"][1]) >= 1  # busybox is used by a container now
    verbose = ctr.out("system", "df", "-v")
    for title in ("Images space usage:", "Containers space usage:", "Local Volumes space usage:",
                  "Build cache usage:"):
        assert title in verbose
    line = next(line for line in verbose.splitlines() if line.startswith("cv-df"))
    assert line.split() == ["cv-df", "1", "5kB"]
    line = next(line for line in verbose.splitlines() if line.endswith("df-writer"))
    assert container[:12] in line and "300kB" in line and "Exited (0)" in line
    ctr.run("rm", container)
    ctr.out("volume", "rm", "cv-df")


@pytest.mark.docker
def test_volume_listing_matches_docker(ctr, oracle):
    for tool in (ctr, oracle):
        tool.out("volume", "create", "--label", "k=v", "cmp-vol")
    try:
        theirs = json.loads(oracle.out("volume", "inspect", "cmp-vol"))[0]
        ours = json.loads(ctr.out("volume", "inspect", "cmp-vol"))[0]
        assert list(ours) == list(theirs)
        for key in ("Driver", "Labels", "Name", "Options", "Scope"):
            assert ours[key] == theirs[key], key
        assert ctr.out("volume", "ls", "-f", "name=cmp-vol") == oracle.out("volume", "ls", "-f", "name=cmp-vol")
    finally:
        for tool in (ctr, oracle):
            tool.run("volume", "rm", "cmp-vol", check=False)


def test_system_prune_removes_stopped_containers_dangling_images_and_with_volumes_anonymous_ones(ctr):
    stopped = ctr.out("create", "--name", "prune-me", "cfgimage").strip()  # has an anonymous /data volume
    anonymous = json.loads(ctr.out("inspect", stopped))[0]["Mounts"][0]["Name"]
    ctr.run("rm", stopped)  # without -v: the anonymous volume stays, unused
    stopped = ctr.out("create", "busybox", "true").strip()
    running = ctr.out("run", "-d", "busybox", "sleep", "30").strip()
    dangling = ctr.out("import", "-c", "ENV UNUSED=1", "-", input=ctr.run("export", stopped).stdout).strip()
    ctr.out("volume", "create", "named-stays")
    refused = ctr.run("system", "prune", input=b"n\n", check=False)  # answered no: removes nothing
    assert refused.returncode == 0 and b"WARNING! This will remove:" in refused.stdout
    assert stopped in ctr.ids()
    out = ctr.out("system", "prune", "-f", "--volumes")
    assert out.startswith("Deleted Containers:\n") and stopped in out and running not in out
    assert f"Deleted Volumes:\n{anonymous}\n" in out and "named-stays" not in out
    assert f"deleted: {dangling}" in out and re.search(r"Total reclaimed space: \S+\n$", out)
    assert ctr.ids() == [running] or running in ctr.ids() and stopped not in ctr.ids()
    assert ctr.fails("image", "inspect", dangling)
    assert "busybox" in ctr.out("images", "--format", "{{.Repository}}")  # in use by a running container
    ctr.run("rm", "-f", running)
    ctr.out("volume", "rm", "named-stays")
