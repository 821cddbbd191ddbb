"""``ps`` and ``inspect`` output a docker user scripts against: COMMAND quoting, SIZE, the
rest of docker's filters and their refusals, template methods, ``--format json``."""

from __future__ import annotations

import json
import re
import socket

from tests.containers.conftest import refusal


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ps_command_column_quotes_like_docker(ctr, oracle):
    args = ["busybox", "echo", "hello world", "it's", "plain"]
    for tool in (ctr, oracle):
        tool.run("create", "--name", "quoted", "--network", "none", *args)
    try:
        for flags in ([], ["--no-trunc"]):
            fmt = ["--format", "{{.Command}}"]
            theirs = oracle.out("ps", "-a", "--filter", "name=quoted", *flags, *fmt)
            assert ctr.out("ps", "-a", "--filter", "name=quoted", *flags, *fmt) == theirs
    finally:
        oracle.run("rm", "-f", "quoted", check=False)
    assert ctr.out("ps", "-a", "--filter", "name=quoted", "--no-trunc", "--format", "{{.Command}}") == \
        "\"echo 'hello world' it's plain\"\n"


def test_ps_size_column(ctr):
    ctr.run("run", "--name", "writer", "busybox", "sh", "-c", "head -c 3000 /dev/zero > /blob")
    table = ctr.out("ps", "-a", "-s", "--filter", "name=writer").splitlines()
    assert table[0].split()[-1] == "SIZE"
    assert re.search(r"  3kB \(virtual \d+(\.\d+)?MB\)$", table[1]), table[1]
    assert ctr.out("ps", "-a", "--filter", "name=writer", "--format", "{{.Size}}").startswith("3kB (virtual ")
    sizes = json.loads(ctr.out("container", "inspect", "-s", "--format", "{{json .}}", "writer"))
    assert sizes["SizeRw"] == 3000 and sizes["SizeRootFs"] > 3000


def _filtered(tool, port: int) -> list:
    tool.run("create", "--name", "f-first", "--label", "tier=web", "busybox")
    tool.run("create", "--name", "f-middle", "--expose", "8080", "-p", f"{port}:80", "busybox")
    tool.run("create", "--name", "f-last", "--network", "none", "busybox")

    def names(*filters: str) -> list[str]:
        flags = [part for f in filters for part in ("--filter", f)]
        return tool.out("ps", "-a", "--filter", "name=f-", *flags, "--format", "{{.Names}}").split()

    try:
        seen = [names(*filters) for filters in (["before=f-middle"], ["since=f-middle"], ["network=none"],
                                                ["publish=80"], ["publish=80/tcp"], ["expose=8000-8090"],
                                                ["health=none"], ["is-task=false"], ["health=healthy"],
                                                ["is-task=true"])]
        seen.append(tool.out("ps", "-a", "--filter", "name=f-first", "--format", '{{.Names}} {{.Label "tier"}}'))
        seen += [refusal(tool.run("ps", "--filter", bad, check=False))
                 for bad in ("exited=x", "status=bogus", "health=bogus", "is-task=maybe", "colour=blue")]
        return seen
    finally:
        tool.run("rm", "-f", "f-first", "f-middle", "f-last", check=False)


def test_ps_filters_docker_has(ctr, oracle28):
    port = _free_port()
    ours, theirs = _filtered(ctr, port), _filtered(oracle28, port)  # docker 28's client, the private dockerd
    assert ours[:3] + ours[6:] == theirs[:3] + theirs[6:]
    assert ours[:3] == [["f-first"], ["f-last"], ["f-last"]]
    # publish/expose of a container never started: the 20.10 daemon matches none (it reads the
    # port map of a running container), lamina matches the ports asked for (docs/compat.md)
    assert theirs[3] == theirs[4] == theirs[5] == []
    assert ours[3] == ours[4] == ours[5] == ["f-middle"]
    assert ours[6] == ours[7] == ["f-last", "f-middle", "f-first"] and ours[8] == ours[9] == []
    assert ours[10] == "f-first web\n"
    assert ours[11:] == [(1, 'strconv.Atoi: parsing "x": invalid syntax'), (1, "Invalid filter 'status=bogus'"),
                         (1, "Unrecognised filter value for health: bogus"), (1, "Invalid filter 'is-task=[maybe]'"),
                         (1, "Invalid filter 'colour'")]


def test_inspect_format_json_is_one_line(ctr):
    ctr.run("create", "--name", "onejson", "busybox")
    for verb in (["inspect"], ["container", "inspect"]):
        out = ctr.out(*verb, "--format", "json", "onejson")
        assert out.count("\n") == 1 and json.loads(out)[0]["Name"] == "/onejson"


def test_an_ambiguous_prefix_is_not_taken_for_an_image(ctr):
    ids = set()
    while True:  # two containers whose IDs share a first digit
        ids.add(ctr.out("create", "busybox").strip())
        firsts = [i[0] for i in ids]
        shared = next((c for c in firsts if firsts.count(c) > 1), None)
        if shared:
            break
    for verb in (["inspect"], ["rm"]):
        result = ctr.run(*verb, shared, check=False)
        assert result.returncode == 1
        assert f"lamina: error: Multiple IDs found with provided prefix: {shared}\n" in result.stderr.decode()


def test_inspect_templates_with_variables_and_pipes_like_docker(ctr, oracle):
    template = ('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{index .Config.Labels "b"}} '
                '{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}{{.Name | printf "%q"}} {{$.Path}} '
                '{{with .Config.Entrypoint}}{{index . 0}}{{else}}none{{end}} {{len .Args}} {{upper (index .Args 0)}}')
    args = ["create", "--name", "templated", "--network", "none", "-l", "b=2", "-l", "a=1", "-e", "X=1",
            "busybox", "echo", "one", "two"]
    ctr.run(*args)
    oracle.run(*args)
    try:
        theirs = oracle.out("inspect", "--format", template, "templated")
    finally:
        oracle.run("rm", "-f", "templated", check=False)
    assert ctr.out("inspect", "--format", template, "templated") == theirs
    assert theirs.startswith("a=1;b=2; 2 0:X=1 ")


def test_the_docs_port_template_works(ctr):
    port = _free_port()
    ctr.run("run", "-d", "--name", "ported", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "300")
    template = "{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}"
    assert ctr.out("inspect", "--format", template, "ported") == f" 80/tcp -> {port} \n"


def test_table_headers_run_the_template_on_the_titles(ctr):
    ctr.run("create", "--name", "titled", "--label", "tier=db", "busybox")
    out = ctr.out("ps", "-a", "--filter", "name=titled", "--format",
                  'table {{.ID}}\t{{.Label "tier"}}\t{{.Names | printf "%q"}}\t{{upper .Names}}')
    header, row = out.splitlines()
    assert header.split() == ["CONTAINER", "ID", "tier", '"NAMES"', "NAMES"]
    assert row.split()[1:] == ["db", '"titled"', "TITLED"]
