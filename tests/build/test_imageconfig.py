"""Image config and history text, checked against what docker's classic builder produced.

The expectations in TestAgainstClassicBuilder were recorded from ``DOCKER_BUILDKIT=0 docker
build`` of the same Dockerfile (FROM scratch, so the only inherited value is docker's PATH).
"""

from __future__ import annotations

import pytest

from lamina.build.dockerfile.expansion import expand_instruction
from lamina.build.dockerfile.instructions import Healthcheck
from lamina.build.dockerfile.stages import parse_stages
from lamina.build.imageconfig import (
    ImageState,
    apply_instruction,
    created_by,
    exposed_ports,
    go_duration,
    normalize_workdir,
    set_env,
)
from lamina.errors import BuildError

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build(text: str, config: dict | None = None, env: dict | None = None) -> tuple[ImageState, list[str]]:
    """Apply every instruction of the last stage; return the final state and the history lines."""
    stage = parse_stages(text).stages[-1]
    state = ImageState(config={"Env": [DEFAULT_PATH]} if config is None else config)
    history = []
    for instruction in stage.instructions:
        instruction = expand_instruction(instruction, env or {}).instruction
        state = apply_instruction(state, instruction)
        history.append(created_by(instruction, state, source_hash="file:abc"))
    return state, history


class TestAgainstClassicBuilder:
    DOCKERFILE = """FROM scratch
MAINTAINER Me <me@x>
ARG A=1
ARG B
ENV X=1 Y="two words"
ENV X=3
ENV LEGACY a b
LABEL k=v "q"="w x"
WORKDIR app
WORKDIR sub/../other
USER 1000:1000
EXPOSE 80 8000-8001/udp
VOLUME /data /cache
VOLUME ["/json"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=1m30s --timeout=1500ms --retries=3 CMD curl -f http://x/ || exit 1
ONBUILD RUN echo triggered
CMD echo hi
ENTRYPOINT ["/bin/app"]
SHELL ["/bin/bash", "-c"]
CMD ["a", "b c"]
COPY --chown=1:1 f.txt /f.txt
HEALTHCHECK NONE
ENTRYPOINT run me
"""

    def test_config(self):
        state, _ = build(self.DOCKERFILE)
        assert state.author == "Me <me@x>"
        assert state.config == {
            "User": "1000:1000",
            "ExposedPorts": {"80/tcp": {}, "8000/udp": {}, "8001/udp": {}},
            "Env": [DEFAULT_PATH, "X=3", "Y=two words", "LEGACY=a b"],
            "Entrypoint": ["/bin/bash", "-c", "run me"],
            "Cmd": ["a", "b c"],
            "Volumes": {"/cache": {}, "/data": {}, "/json": {}},
            "WorkingDir": "/app/other",
            "Labels": {"k": "v", "q": "w x"},
            "StopSignal": "SIGINT",
            "Healthcheck": {"Test": ["NONE"], "Interval": 90000000000, "Timeout": 1500000000, "Retries": 3},
            "OnBuild": ["RUN echo triggered"],
            "Shell": ["/bin/bash", "-c"],
        }

    def test_history(self):
        _, history = build(self.DOCKERFILE)
        assert history == [
            "/bin/sh -c #(nop)  MAINTAINER Me <me@x>",
            "/bin/sh -c #(nop)  ARG A=1",
            "/bin/sh -c #(nop)  ARG B",
            "/bin/sh -c #(nop)  ENV X=1 Y=two words",
            "/bin/sh -c #(nop)  ENV X=3",
            "/bin/sh -c #(nop)  ENV LEGACY=a b",
            "/bin/sh -c #(nop)  LABEL k=v q=w x",
            "/bin/sh -c #(nop) WORKDIR /app",
            "/bin/sh -c #(nop) WORKDIR /app/other",
            "/bin/sh -c #(nop)  USER 1000:1000",
            "/bin/sh -c #(nop)  EXPOSE 80 8000-8001/udp",
            "/bin/sh -c #(nop)  VOLUME [/data /cache]",
            "/bin/sh -c #(nop)  VOLUME [/json]",
            "/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
            # docker 25+ added StartInterval; 20.10 printed one "0s" fewer
            '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://x/ || exit 1"] "1m30s" "1.5s" "0s" "0s" \'\\x03\'}',
            "/bin/sh -c #(nop)  ONBUILD RUN echo triggered",
            '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo hi"]',
            '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/app"]',
            "/bin/bash -c #(nop)  SHELL [/bin/bash -c]",
            '/bin/bash -c #(nop)  CMD ["a" "b c"]',
            # docker >= 24 puts a space after --chown=…; 20.10 did not
            "/bin/bash -c #(nop) COPY --chown=1:1 file:abc in /f.txt ",
            "/bin/bash -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}",
            '/bin/bash -c #(nop)  ENTRYPOINT ["/bin/bash" "-c" "run me"]',
        ]


BASE = {"Entrypoint": ["/x"], "Cmd": ["c"], "Healthcheck": {"Test": ["CMD-SHELL", "a"], "Interval": 5_000_000_000}}


@pytest.mark.parametrize(
    ("text", "entrypoint", "cmd"),
    [
        # recorded from docker: an image with ENTRYPOINT ["/x"] CMD ["c"] as base
        ("ENTRYPOINT []", None, None),
        ("CMD []", ["/x"], []),
        ('ENTRYPOINT ["/y"]', ["/y"], None),
        ('CMD ["d"]\nENTRYPOINT ["/y"]', ["/y"], ["d"]),
        ("CMD", ["/x"], ["/bin/sh", "-c"]),
        ("ENTRYPOINT /y --flag", ["/bin/sh", "-c", "/y --flag"], None),
    ],
)
def test_entrypoint_resets_inherited_cmd(text, entrypoint, cmd):
    state, _ = build("FROM base\n" + text, config=dict(BASE))
    assert (state.config.get("Entrypoint"), state.config.get("Cmd")) == (entrypoint, cmd)


def test_healthcheck_zero_values_inherit_from_previous():
    state, _ = build("FROM base\nHEALTHCHECK --timeout=2s CMD b\n", config=dict(BASE))
    assert state.config["Healthcheck"] == {"Test": ["CMD-SHELL", "b"], "Interval": 5_000_000_000, "Timeout": 2_000_000_000}


def test_input_config_is_not_mutated():
    config = {"Env": ["A=1"], "Labels": {"a": "b"}}
    build("FROM x\nENV A=2\nLABEL c=d\n", config=config)
    assert config == {"Env": ["A=1"], "Labels": {"a": "b"}}


@pytest.mark.parametrize(
    ("env", "pairs", "expected"),
    [
        (["A=1", "B=2"], [("A", "3")], ["A=3", "B=2"]),
        (["A=1"], [("C", "x"), ("A", "")], ["A=", "C=x"]),
        ([], [("K", "v=w")], ["K=v=w"]),
    ],
)
def test_env_replaces_in_place_and_appends(env, pairs, expected):
    assert set_env(env, pairs) == expected


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (["80"], ["80/tcp"]),
        (["53/udp", "53/UDP"], ["53/udp"]),
        (["8000-8002"], ["8000/tcp", "8001/tcp", "8002/tcp"]),
        (["132/sctp"], ["132/sctp"]),
        (["127.0.0.1:8080:80"], ["80/tcp"]),
    ],
)
def test_exposed_ports(ports, expected):
    assert exposed_ports(ports) == expected


@pytest.mark.parametrize("port", ["abc", "80/icmp", "70000", "9-1", "/tcp"])
def test_bad_exposed_ports(port):
    with pytest.raises(BuildError):
        exposed_ports([port])


@pytest.mark.parametrize(
    ("current", "requested", "expected"),
    [("", "app", "/app"), ("/a", "b/../c", "/a/c"), ("/a", "/x//y/", "/x//y/"), ("/a", "..", "/"), ("", "//x", "//x"),
     ("//x/", "y/", "/x/y")],  # docker keeps an absolute WORKDIR as written, cleans a joined one
)
def test_workdir(current, requested, expected):
    assert normalize_workdir(current, requested) == expected


@pytest.mark.parametrize(
    ("signal", "ok"),
    [("SIGTERM", True), ("term", True), ("9", True), ("RTMIN+3", True), ("0", False), ("SIGNOPE", False)],
)
def test_stopsignal_validation(signal, ok):
    text = f"FROM x\nSTOPSIGNAL {signal}\n"
    if ok:
        assert build(text)[0].config["StopSignal"] == signal
    else:
        with pytest.raises(BuildError):
            build(text)


def test_run_history_carries_build_args():
    stage = parse_stages("FROM x\nRUN make $TARGET\n").stages[0]
    run = stage.instructions[0]
    state = ImageState()
    assert created_by(run, state) == "/bin/sh -c make $TARGET"
    assert created_by(run, state, build_args={"TARGET": "all", "CC": "gcc"}) == "|2 CC=gcc TARGET=all /bin/sh -c make $TARGET"


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [(0, "0s"), (1, "1ns"), (1_500, "1.5µs"), (100_000_000, "100ms"), (1_500_000_000, "1.5s"),
     (90_000_000_000, "1m30s"), (7_200_000_000_000, "2h0m0s"), (-1_000_000_000, "-1s")],
)  # fmt: skip
def test_go_duration_strings(nanoseconds, text):
    assert go_duration(nanoseconds) == text


def test_healthcheck_retries_print_as_go_runes():
    health = Healthcheck(test=("CMD", "x"), retries=65)
    assert created_by(health, ImageState()).endswith("\"0s\" 'A'}")
