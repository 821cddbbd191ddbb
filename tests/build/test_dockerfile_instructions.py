"""Typed instructions: arguments, flags, --mount, healthcheck durations, stages and expansion."""

from __future__ import annotations

import pytest

from lamina.build.dockerfile.expansion import expand_instruction
from lamina.build.dockerfile.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    OnBuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse_go_duration,
)
from lamina.build.dockerfile.mounts import Mount, MountError, parse_mount, ram_in_bytes
from lamina.build.dockerfile.shell_words import process_word
from lamina.build.dockerfile.stages import parse_stages, parse_trigger
from lamina.errors import DockerfileError


def only(text: str):
    """The single instruction after ``FROM a``."""
    (instruction,) = parse_stages("FROM a\n" + text).stages[0].instructions
    return instruction


LOC = {"line": 2, "end_line": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RUN echo $HOME", Run(command=("echo $HOME",), source="RUN echo $HOME", **LOC)),
        ('RUN ["a", "b"]', Run(command=("a", "b"), json_form=True, source='RUN ["a", "b"]', **LOC)),
        (
            "COPY --from=build --chown=1:2 --chmod=644 --link a b /d/",
            Copy(
                sources=("a", "b"), dest="/d/", from_="build", chown="1:2", chmod="644", link=True,
                source="COPY --from=build --chown=1:2 --chmod=644 --link a b /d/", **LOC,
            ),
        ),
        (
            "COPY --parents --exclude=*.md --exclude=.git x /",
            Copy(
                sources=("x",), dest="/", parents=True, exclude=("*.md", ".git"),
                source="COPY --parents --exclude=*.md --exclude=.git x /", **LOC,
            ),
        ),
        (
            "ADD --checksum=sha256:aa --keep-git-dir=false --unpack u /d",
            Add(
                sources=("u",), dest="/d", checksum="sha256:aa", keep_git_dir=False, unpack=True,
                source="ADD --checksum=sha256:aa --keep-git-dir=false --unpack u /d", **LOC,
            ),
        ),
        ('ENV A=1 B="x y"', Env(pairs=(("A", "1"), ("B", '"x y"')), source='ENV A=1 B="x y"', **LOC)),
        ("ENV A b c", Env(pairs=(("A", "b c"),), legacy_form=True, source="ENV A b c", **LOC)),
        ("LABEL a=b", Label(pairs=(("a", "b"),), source="LABEL a=b", **LOC)),
        ("ARG A B=2 C=", Arg(pairs=(("A", None), ("B", "2"), ("C", "")), source="ARG A B=2 C=", **LOC)),
        ("EXPOSE 9000 80/udp 443", Expose(ports=("443", "80/udp", "9000"), source="EXPOSE 9000 80/udp 443", **LOC)),
        ('VOLUME ["/a", "/b"]', Volume(paths=("/a", "/b"), source='VOLUME ["/a", "/b"]', **LOC)),
        ("USER app:app", User(user="app:app", source="USER app:app", **LOC)),
        ("WORKDIR /srv/app", Workdir(path="/srv/app", source="WORKDIR /srv/app", **LOC)),
        ("CMD echo hi", Cmd(command=("echo hi",), source="CMD echo hi", **LOC)),
        ("CMD []", Cmd(command=(), json_form=True, source="CMD []", **LOC)),
        ("ENTRYPOINT []", Entrypoint(command=None, json_form=True, source="ENTRYPOINT []", **LOC)),
        ('SHELL ["/bin/bash", "-c"]', Shell(shell=("/bin/bash", "-c"), source='SHELL ["/bin/bash", "-c"]', **LOC)),
        ("STOPSIGNAL SIGKILL", StopSignal(signal="SIGKILL", source="STOPSIGNAL SIGKILL", **LOC)),
        ("MAINTAINER me <me@x>", Maintainer(name="me <me@x>", source="MAINTAINER me <me@x>", **LOC)),
        ("HEALTHCHECK NONE", Healthcheck(test=("NONE",), source="HEALTHCHECK NONE", **LOC)),
        (
            'HEALTHCHECK --interval=30s --timeout=1.5s --start-period=1m --start-interval=100ms --retries=3 CMD ["c"]',
            Healthcheck(
                test=("CMD", "c"), interval=30_000_000_000, timeout=1_500_000_000, start_period=60_000_000_000,
                start_interval=100_000_000, retries=3,
                source='HEALTHCHECK --interval=30s --timeout=1.5s --start-period=1m --start-interval=100ms --retries=3 CMD ["c"]',
                **LOC,
            ),
        ),
        ("HEALTHCHECK CMD curl -f x", Healthcheck(test=("CMD-SHELL", "curl -f x"), source="HEALTHCHECK CMD curl -f x", **LOC)),
        ("ONBUILD RUN make", OnBuild(expression="RUN make", source="ONBUILD RUN make", **LOC)),
    ],
)  # fmt: skip
def test_instruction_from_text(text, expected):
    assert only(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COPY --bogus=1 a b", "unknown flag: --bogus"),
        ("COPY --chwon=1 a b", "unknown flag: --chwon (did you mean chown?)"),
        ("RUN --mount=type=cache,target=/x --mount=type=tmpfs,target=/y --network=host --network=none x", "duplicate flag specified: --network"),
        ("COPY --from a b", "missing a value on flag: --from"),
        ("COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe"),
        ("COPY --link= a b", "missing a value on flag: --link"),
        ("WORKDIR --x /a", "unknown flag: --x"),
        ("RUN --network=bridge x", 'invalid network mode "bridge"'),
        ("RUN --security=weird x", 'security "weird" is not valid'),
        ("COPY a", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("COPY a <<EOF\nEOF", "COPY cannot accept a heredoc as a destination"),
        ("COPY --from=$X a b", "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV =x", "ENV names can not be blank"),
        ("ARG =x", "ARG names can not be blank"),
        ("ARG", "ARG requires at least one argument"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ('VOLUME [""]', "VOLUME specified can not be an empty string"),
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK CONNECT x", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK --interval=10us CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --timeout=5 CMD x", 'time: missing unit in duration "5"'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("RUNN x", "unknown instruction: RUNN (did you mean RUN?)"),
        ("frobnicate x", "unknown instruction: frobnicate"),
        ("RUN --mount=type=nfs x", 'unsupported mount type "nfs"'),
        ("RUN --mount=type=bind,from=$STAGE x", "'from' doesn't support variable expansion, define alias stage instead"),
    ],
)  # fmt: skip
def test_instruction_errors_name_the_line(text, message):
    with pytest.raises(DockerfileError) as excinfo:
        parse_stages("FROM a\n" + text)
    assert str(excinfo.value) == f"Dockerfile:2: {message}"


@pytest.mark.parametrize(
    ("text", "ignored_because"),
    [
        ("ARG --whatever X", "ARG flags are never checked"),
        ("STOPSIGNAL --whatever 9", "STOPSIGNAL flags are never checked"),
        ("HEALTHCHECK --whatever NONE", "HEALTHCHECK NONE flags are never checked"),
    ],
)
def test_flags_buildkit_never_checks(text, ignored_because):
    assert only(text).line == 2, ignored_because


@pytest.mark.parametrize(
    ("spec", "mount"),
    [
        ("type=cache,target=/root/.cache", Mount(type="cache", target="/root/.cache", read_only=False)),
        (
            "type=cache,id=pip,target=/c,sharing=locked,mode=0755,uid=1000,gid=1000",
            Mount(type="cache", cache_id="pip", target="/c", sharing="locked", mode=0o755, uid=1000, gid=1000, read_only=False),
        ),
        ("type=bind,source=src,dst=/src", Mount(type="bind", source="src", target="/src", read_only=True)),
        ("type=bind,from=build,src=/out,destination=/in,rw", Mount(from_="build", source="/out", target="/in", read_only=False)),
        ("type=bind,target=/x,readonly=false", Mount(target="/x", read_only=False)),
        ("type=tmpfs,target=/tmp,size=64m", Mount(type="tmpfs", target="/tmp", size_limit=64 << 20, read_only=False)),
        ("type=secret,id=npmrc,target=/root/.npmrc,required", Mount(type="secret", cache_id="npmrc", target="/root/.npmrc", required=True)),
        ("type=secret,id=token,env=TOKEN", Mount(type="secret", cache_id="token", env="TOKEN")),
        ("type=ssh", Mount(type="ssh")),
        ("TYPE=CACHE,Target=/c", Mount(type="cache", target="/c", read_only=False)),
        ('type=bind,"source=a,b",target=/x', Mount(source="a,b", target="/x")),
    ],
)  # fmt: skip
def test_mount_grammar(spec, mount):
    assert parse_mount(spec) == mount


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=cache,target=/c,sharing=weird", 'unsupported sharing value "weird"'),
        ("type=bind,target=/c,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=bind,target=/c,mode=0755", 'mode not allowed for "bind" type mounts'),
        ("type=cache,target=/c,uid=x", "invalid value x for uid"),
        ("type=bind,target=/c,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=cache,target=/c,required", "unexpected key 'required' for mount type 'cache'"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=bind,target=/c,ro=maybe", "invalid value for ro: maybe"),
        ("type=bind,targt=/c", "unexpected key 'targt' in 'targt=/c' (did you mean target?)"),
        ("type=bind,target=/c,bogus", "invalid field 'bogus' must be a key=value pair"),
    ],
)
def test_mount_errors(spec, message):
    with pytest.raises(MountError) as excinfo:
        parse_mount(spec)
    assert str(excinfo.value) == message


def test_mount_fields_expand_at_build_time():
    run = only("RUN --mount=type=cache,id=$PROJECT,target=$DIR true")
    assert run.resolve_mounts(lambda word: process_word(word, {"PROJECT": "p", "DIR": "/d"})) == [
        Mount(type="cache", cache_id="p", target="/d", read_only=False)
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("1k", 1024), ("64m", 64 << 20), ("1.5g", 3 << 29), ("2GiB", 2 << 30), ("1 kb", 1024)],
)
def test_ram_in_bytes(text, size):
    assert ram_in_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("0", 0), ("1ns", 1), ("1.5s", 1_500_000_000), ("1h2m3s", 3_723_000_000_000), ("100µs", 100_000), ("-1s", -1_000_000_000), (".5m", 30_000_000_000)],
)
def test_go_durations(text, nanoseconds):
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize("text", ["", "1", "1x", ".", "s", "1.s2"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_copy_heredoc_sources():
    copy = only("COPY <<one <<-'two' /dst/\n1 $A\none\n\t2 $A\n\ttwo\n")
    assert copy.sources == ()
    assert [(h.name, h.text(), h.expand) for h in copy.heredocs] == [("one", "1 $A\n", True), ("two", "2 $A\n", False)]
    assert (copy.line, copy.end_line) == (2, 6)


def test_run_heredoc_is_kept_with_the_run():
    run = only("RUN <<EOF bash\nset -e\nEOF\n")
    assert run.command == ("<<EOF bash",)
    assert run.heredocs[0].content == "set -e\n"


def test_onbuild_expression_keeps_heredocs():
    onbuild = only("ONBUILD RUN <<EOF\necho x\nEOF\n")
    assert onbuild.expression == "RUN <<EOF\necho x\nEOF"
    assert isinstance(parse_trigger(onbuild.expression), Run)


class TestStages:
    def test_global_args_stages_and_names(self):
        dockerfile = parse_stages(
            "# syntax=docker/dockerfile:1\nARG BASE=alpine\nFROM --platform=$BUILDPLATFORM ${BASE} AS Build\n"
            "RUN make\nFROM scratch\nCOPY --from=build /out /\n"
        )
        assert [d.name for d in dockerfile.directives] == ["syntax"]
        assert [a.pairs for a in dockerfile.global_args] == [(("BASE", "alpine"),)]
        assert [(s.name, s.index, s.base, s.platform, s.line) for s in dockerfile.stages] == [
            ("build", 0, "${BASE}", "$BUILDPLATFORM", 3),
            (None, 1, "scratch", None, 5),
        ]
        assert [type(i).__name__ for i in dockerfile.stages[0].instructions] == ["Run"]
        assert dockerfile.stage("BUILD") is dockerfile.stages[0]
        assert dockerfile.stage("1") is dockerfile.stages[1]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("RUN x\nFROM a\n", "Dockerfile:1: no build stage in current context"),
            ("ARG A=1\n", "Dockerfile:1: dockerfile contains no stages to build"),
            ("FROM a AS 1x\n", 'Dockerfile:1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols'),
            ("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"),
            ("FROM --platfrom=x a\n", "Dockerfile:1: unknown flag: --platfrom (did you mean platform?)"),
        ],
    )  # fmt: skip
    def test_stage_errors(self, text, message):
        with pytest.raises(DockerfileError) as excinfo:
            parse_stages(text)
        assert str(excinfo.value) == message

    def test_duplicate_stage_names_fail_as_in_the_classic_builder(self):
        with pytest.raises(DockerfileError) as excinfo:
            parse_stages("FROM a AS x\nFROM b AS X\n")
        assert str(excinfo.value) == "Dockerfile:2: same stage name already used"


class TestExpansion:
    ENV = {"A": "1", "DIR": "/srv", "PORTS": "80 443/udp", "OWNER": "app"}

    @pytest.mark.parametrize(
        ("text", "field", "value"),
        [
            ('ENV B=$A C="${A}x y"', "pairs", (("B", "1"), ("C", "1x y"))),
            ("LABEL ${A}k=v$A", "pairs", (("1k", "v1"),)),
            ("WORKDIR $DIR/app", "path", "/srv/app"),
            ("USER ${OWNER}:${OWNER}", "user", "app:app"),
            ("VOLUME $DIR/data", "paths", ("/srv/data",)),
            ("STOPSIGNAL ${SIG:-SIGTERM}", "signal", "SIGTERM"),
            # sorted as written (BuildKit), then expanded in place
            ("EXPOSE $PORTS 22", "ports", ("80", "443/udp", "22")),
            ("COPY --chown=$OWNER $DIR/a ${DIR}/b/", "sources", ("/srv/a",)),
            ("COPY --chown=$OWNER $DIR/a ${DIR}/b/", "chown", "app"),
            ("COPY --chown=$OWNER $DIR/a ${DIR}/b/", "dest", "/srv/b/"),
            ("ARG X=$A", "pairs", (("X", "1"),)),
            ("RUN echo $A", "command", ("echo $A",)),
            ("CMD echo $A", "command", ("echo $A",)),
        ],
    )
    def test_expanded_field(self, text, field, value):
        expanded = expand_instruction(only(text), self.ENV).instruction
        assert getattr(expanded, field) == value

    def test_from_expands_with_global_args(self):
        stage = parse_stages("ARG TAG=3\nFROM alpine:$TAG AS a\n").stages[0]
        assert expand_instruction(stage.from_, {"TAG": "3.20"}).instruction == From(
            image="alpine:3.20", name="a", line=2, end_line=2, source="FROM alpine:$TAG AS a"
        )

    def test_heredoc_content_expands_unless_delimiter_quoted(self):
        copy = only("COPY <<A <<'B' /d/\n\"$A\"\nA\n$A\nB\n")
        contents = [h.content for h in expand_instruction(copy, self.ENV).instruction.heredocs]
        assert contents == ['"1"\n', "$A\n"]

    def test_used_and_unset_variables_are_reported(self):
        expanded = expand_instruction(only("ENV X=$A Y=$NOPE"), self.ENV)
        assert (expanded.used, expanded.unset) == ({"A"}, {"NOPE"})

    def test_expansion_error_names_the_line(self):
        with pytest.raises(DockerfileError, match=r"^Dockerfile:2: failed to process \"\$\{REQUIRED:\?set it\}\": REQUIRED: set it$"):
            expand_instruction(only("WORKDIR ${REQUIRED:?set it}"), {})

    def test_backtick_escape_token_is_used_for_expansion(self):
        dockerfile = parse_stages("# escape=`\nFROM a\nWORKDIR C:\\`$A\n")
        workdir = dockerfile.stages[0].instructions[0]
        assert expand_instruction(workdir, {"A": "x"}, escape=dockerfile.escape).instruction.path == "C:\\$A"
