"""The compat cases: Dockerfiles built by docker and by lamina, one table entry each.

Written for lamina from the Dockerfile reference; each groups many checks into one build so the
whole table stays quick. The base image ``cx-base/busybox:1`` (see ``harness.make_base``) has
users root, app (1000:1000), svc (1001:50, group staff), nobody; ``/data`` owned by app with a
file ``old``; ``/linkdir`` -> ``/data``; ``CMD ["sh"]``.
"""

from __future__ import annotations

from tests.compat.harness import Case, Dir, Fifo, File, Hard, Link, Socket, tar_of

B = "cx-base/busybox:1"

CASES: list[Case] = [
    Case(
        "arg-env-expansion",
        f"""ARG BASE={B}
ARG GLOBAL=g
FROM ${{BASE}} AS first
ARG A=alpha
ARG B
ARG C=
ARG GLOBAL
ARG FROMCLI
ENV E1=${{A:-x}} E2=${{B:-dflt}} E3=${{A:+set}} E4=${{B:+set}} E5="${{C:-empty}}" E6=\\$A E7='$A' E8="q $A q"
ENV E9=${{UNDEF}}end E10=$A$A E11=${{A}}_${{GLOBAL}} E12=${{FROMCLI}}
ENV SAME=1 SAMEREF=$SAME
ENV SAME=2 SAMEREF2=$SAME
LABEL l1="$A" "l 2"=two l3=${{B:-b}} l4='$A' l5=a\\ b
RUN echo "A=$A B=$B C=$C G=$GLOBAL F=$FROMCLI U=$UNUSED" > /args.txt
RUN env | grep -v -e HOSTNAME -e PWD -e SHLVL | sort > /env.txt
""",
        args=("--build-arg", "FROMCLI=cli value", "--build-arg", "A=override"),
        runs=(("cat", "/args.txt", "/env.txt"),),
    ),
    Case(
        "env-forms",
        f"""FROM {B}
ENV LEGACY the rest   of   line
ENV  ONE=1   TWO="two words"  THREE=three\\ escaped
ENV MULTI=a \\
    CONT=b
ENV PATH=/opt/bin:$PATH
ENV EMPTY=
ENV QUOTE="it's" DQ='say "hi"'
ENV TAB="a	b"
ENV ONE=uno
RUN echo "$LEGACY|$ONE|$TWO|$THREE|$CONT|$EMPTY|$QUOTE|$DQ" > /out
""",
        runs=(("cat", "/out"),),
    ),
    Case(
        "copy-paths",
        f"""FROM {B}
COPY f1 /new/
COPY f1 /newfile
COPY dir /dircopy
COPY dir/ /dircopy2/
COPY dir /dircopy3/
COPY f* /glob/
COPY dir/*.txt /txts/
COPY dir/s?b /qm
COPY [ "sp ace", "/with space/" ]
COPY f1 f2 /multi/
COPY dir/sub/deep.txt /a/b/c/
WORKDIR /wd
COPY f1 .
COPY f2 rel/
COPY f1 ./rel2/x
COPY dir ../updir/
COPY f1 /linkdir/
COPY f2 /data/old
COPY empty /emptydir
""",
        files={"f1": "one\n", "f2": File("two\n", 0o600), "sp ace": "space\n",
               "dir/a.txt": "a\n", "dir/b.txt": File("b\n", 0o755), "dir/sub/deep.txt": "deep\n",
               "dir/sub": Dir(0o700), "dir/link": Link("a.txt"), "empty": Dir(0o750)},
    ),
    Case(
        "copy-chown-variants",
        f"""FROM {B}
ARG OWNER=svc:staff
COPY --chown=app f /c/name
COPY --chown=1000 f /c/uid
COPY --chown=1234:55 f /c/uidgid
COPY --chown=app:staff f /c/namegroup
COPY --chown=svc:0 f /c/svc0
COPY --chown=$OWNER f /c/arg
COPY --chown=app dir /c/dir
COPY --chown=4321:4321 dir /deep/new/path/
ADD --chown=app f /c/added
USER app
COPY f /c/asuser
WORKDIR /c/wd-as-user
""",
        files={"f": File("f\n", 0o640, 5, 6), "dir/x": File("x\n", 0o4755), "dir/sub": Dir(0o2775)},
    ),
    Case(
        "add-archives",
        f"""FROM {B}
ADD plain.tar /plain
ADD gz.tar.gz /gz/
ADD bz.tar.bz2 /bz
ADD xz.tar.xz /xz
ADD renamed.bin /renamed/
ADD plain.tar /data/
COPY plain.tar /copied/
ADD notar.tar.gz /notar/
ADD *.tgz /globbed/
""",
        files={
            "plain.tar": tar_of([("top", None, 0o750), ("top/f", "f\n", 0o600), ("loose", "l\n", 0o644)]),
            "gz.tar.gz": tar_of([("g/file", "g\n", 0o640)], compress="gz"),
            "bz.tar.bz2": tar_of([("b/file", "b\n", 0o640)], compress="bz2"),
            "xz.tar.xz": tar_of([("x/file", "x\n", 0o640)], compress="xz"),
            "renamed.bin": tar_of([("r/file", "r\n", 0o644)], compress="gz"),
            "notar.tar.gz": "not a tar\n",
            "one.tgz": tar_of([("one", "1\n", 0o644)], compress="gz"),
            "two.tgz": tar_of([("two", "2\n", 0o644)], compress="gz"),
        },
    ),
    Case(
        "dockerignore-patterns",
        f"""FROM {B}
COPY . /ctx
""",
        files={
            ".dockerignore": "# comment\n*.log\n!keep.log\n**/tmp\nbuild/\n!build/keep/\n/abs\n./dot\n"
                             "docs/**/*.md\n!docs/**/README.md\n  spaced  \nDockerfile\n.dockerignore\n"
                             "sub/*/x\n",
            "a.log": "x", "keep.log": "k", "tmp": "t", "deep/er/tmp/f": "t", "deep/keep": "k",
            "build/out": "o", "build/keep/k": "k", "abs": "a", "sub/abs": "kept", "dot": "d",
            "docs/a.md": "a", "docs/x/y/b.md": "b", "docs/x/README.md": "r", "docs/x/c.txt": "c",
            "spaced": "s", "sub/q/x": "x", "sub/q/y": "y", "sub/x": "x",
        },
    ),
    Case(
        "workdir-user",
        f"""FROM {B}
WORKDIR rel
WORKDIR sub
WORKDIR ../other
ENV DIR=/env/dir
WORKDIR $DIR
WORKDIR ${{DIR}}/more
WORKDIR /data
WORKDIR /linkdir/inner
USER app
WORKDIR /as-app
RUN pwd > /tmp/pwd && id > /tmp/id
USER 1001:50
RUN id > /tmp/id2
USER svc:app
RUN id > /tmp/id3
USER root
WORKDIR /
RUN cat /tmp/pwd /tmp/id /tmp/id2 /tmp/id3 > /summary
""",
        runs=(("cat", "/summary"), ("sh", "-c", "pwd")),
    ),
    Case(
        "shell-cmd-entrypoint",
        f"""FROM {B}
SHELL ["/bin/sh", "-c", "echo shell-prefix; eval \\"$0\\""]
RUN echo hi > /out1
SHELL ["/bin/sh", "-ec"]
RUN echo "$0" > /out2
CMD echo from cmd
ENTRYPOINT echo from entry
""",
        runs=((), ("cat", "/out1", "/out2")),
    ),
    Case(
        "entrypoint-resets-inherited-cmd",
        """FROM cx-pre/with-cmd
ENTRYPOINT ["/bin/echo", "ep"]
""",
        pre=(("cx-pre/with-cmd", f'FROM {B}\nCMD ["inherited", "cmd"]\nENTRYPOINT ["/bin/echo"]\n'),),
        runs=((),),
    ),
    Case(
        "cmd-after-entrypoint-kept",
        """FROM cx-pre/with-cmd2
CMD ["child"]
""",
        pre=(("cx-pre/with-cmd2", f'FROM {B}\nENTRYPOINT ["/bin/echo", "p"]\nCMD ["parent"]\n'),),
        runs=((),),
    ),
    Case(
        "metadata-forms",
        f"""FROM {B}
EXPOSE 80 443/udp 8000-8002/tcp 8080:80 127.0.0.1:90:91/udp
ENV P=9000
EXPOSE $P ${{P}}/udp
VOLUME /v1 /v2
VOLUME ["/v3", "/v 4"]
VOLUME $P
STOPSIGNAL SIGQUIT
STOPSIGNAL 15
HEALTHCHECK --interval=10s --timeout=2s --start-period=1m --retries=5 CMD ["/bin/true", "x"]
HEALTHCHECK CMD true
LABEL a=1 b=2 \\
      c="three four"
LABEL a=override
MAINTAINER Someone <s@example.com>
ONBUILD RUN echo trigger
ONBUILD ENV T=1
USER app:staff
""",
    ),
    Case(
        "healthcheck-none",
        """FROM cx-pre/health
HEALTHCHECK NONE
""",
        pre=(("cx-pre/health", f"FROM {B}\nHEALTHCHECK --retries=3 CMD true\n"),),
    ),
    Case(
        "multistage-chains",
        f"""ARG V=1
FROM {B} AS Base
ARG V
RUN echo "base $V" > /base
FROM base AS middle
RUN echo middle > /middle
FROM scratch AS files
COPY f /f
COPY --from=middle /base /from-middle
FROM middle
COPY --from=files / /all/
COPY --from=0 /base /from-index
COPY --from={B} /etc/group /grp
COPY --from=Base /base /case
RUN cat /base /middle /all/f /all/from-middle > /summary
""",
        files={"f": "f\n"},
        runs=(("cat", "/summary"),),
    ),
    Case(
        "multistage-target",
        f"""FROM {B} AS one
RUN echo one > /one
ENV STAGE=one
FROM one AS two
RUN echo two > /two
FROM {B} AS three
RUN false
""",
        args=("--target", "two"),
        runs=(("sh", "-c", "cat /one /two; echo $STAGE"),),
    ),
    Case(
        "parser-escape-directive",
        f"""#  Escape = `
# a comment after the directive

FROM {B}
RUN echo a `
    b > /out
COPY f C:\\dir\\
RUN echo $HOME > /home
""",
        files={"f": "f\n"},
        runs=(("sh", "-c", "cat /out /home; ls /"),),
    ),
    Case(
        "parser-lines-case",
        f"""# syntax=docker/dockerfile:1
  # leading comment
from {B}
run echo one \\
# comment inside

    two \\
    \\
    three > /out
Env  A=1
	RuN echo tab >> /out
cOpY f /f
workdir /w
Cmd ["sh"]
""",
        files={"f": "f\n"},
        runs=(("cat", "/out"),),
    ),
    Case(
        "run-forms",
        f"""FROM {B}
RUN ["sh", "-c", "echo exec $HOME > /exec"]
RUN [ "/bin/sh", "-c", "echo spaced > /spaced" ]
RUN echo 'single $HOME' "double $HOME" > /quotes
RUN ["echo", "no shell $HOME"]
ARG X=1
RUN echo "$X" > /x
RUN set -e; echo multi; \\
    echo line > /multi
""",
        runs=(("cat", "/exec", "/spaced", "/quotes", "/x", "/multi"),),
    ),
    Case(
        "from-scratch-only",
        """FROM scratch
COPY f /f
COPY dir /d
ENV A=1
CMD ["/f"]
""",
        files={"f": File("f\n", 0o755), "dir/x": "x\n"},
    ),
    Case(
        "onbuild-trigger-forms",
        """FROM cx-pre/onbuild
RUN cat /trig > /tmp/child-saw
""",
        files={"ctxfile": "from child context\n"},
        pre=(("cx-pre/onbuild", f"""FROM {B}
ONBUILD ARG OB=default
ONBUILD RUN echo "ob=$OB" > /trig
ONBUILD COPY ctxfile /from-ctx
ONBUILD LABEL triggered=yes
ONBUILD USER app
onbuild workdir /obwd
"""),),
        runs=(("sh", "-c", "cat /trig /from-ctx /tmp/child-saw; pwd; id"),),
    ),
    # --- errors: docker refuses these, lamina must too, with the line --------------------------
    # lamina's words differ on purpose: lamina adds a did-you-mean hint
    Case("err-unknown-instruction", f"FROM {B}\nFOO bar\n", fail=r"Dockerfile:2: unknown instruction: FOO \(did you mean FROM\?\)",
         docker_error=r"dockerfile parse error line 2: unknown instruction: FOO", error_line=2),
    Case("err-no-from", "ENV A=1\nFROM scratch\n", fail=r"Dockerfile:1: no build stage in current context",
         docker_error=r"no build stage in current context", error_line=1),
    Case("err-empty", "# only a comment\n", fail=r"Dockerfile:1: file with no instructions",
         docker_error=r"failed to parse Dockerfile: file with no instructions"),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-copy-missing", f"FROM {B}\nRUN true\nCOPY nothere /x\n", fail='Dockerfile:3: COPY failed: "nothere": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat nothere: file does not exist", error_line=3),
    # lamina's words differ on purpose: lamina names the pattern that matched nothing
    Case("err-copy-glob-none", f"FROM {B}\nCOPY *.none /x/\n", fail='Dockerfile:2: COPY failed: no source files were specified for "\\*\\.none"',
         docker_error=r"COPY failed: no source files were specified", error_line=2),
    Case("err-copy-one-arg", f"FROM {B}\nCOPY onlyone\n", fail=r"Dockerfile:2: COPY requires at least two arguments, but only one was provided\. Destination could not be determined",
         docker_error=r"dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided\. Destination could not be determined", error_line=2),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-unknown-user", f"FROM {B}\nCOPY --chown=ghost f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: can't find uid for user ghost: no such user: ghost",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find uid for user ghost: no such user: ghost",
         error_line=2),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-unknown-group", f"FROM {B}\nCOPY --chown=app:ghostgrp f /f\n", files={"f": "f"},
         fail=r"Dockerfile:2: COPY failed: can't find gid for group ghostgrp: no such group: ghostgrp",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find gid for group ghostgrp: no such group: ghostgrp", error_line=2),
    Case("err-env-no-value", f"FROM {B}\nENV ONLYNAME\n", fail=r"Dockerfile:2: ENV must have two arguments",
         docker_error=r"failed to parse Dockerfile: ENV must have two arguments", error_line=2),
    Case("err-env-missing-equals", f"FROM {B}\nENV A=1 B\n", fail='Dockerfile:2: Syntax error - can\'t find = in "B"\\. Must be of the form: name=value',
         docker_error='failed to parse Dockerfile: Syntax error - can\'t find = in "B"\\. Must be of the form: name=value', error_line=2),
    Case("err-from-no-arg", "FROM\n", fail=r"Dockerfile:1: FROM requires either one or three arguments",
         docker_error=r"dockerfile parse error line 1: FROM requires either one or three arguments", error_line=1),
    # lamina's words differ on purpose: lamina's registry client words the unreachable registry its own way (the same fact)
    Case("err-from-missing-image", "FROM 127.0.0.1:1/cx-none/missing:1\n", fail=r"Dockerfile:1: 127\.0\.0\.1:\d+/cx-none/missing:1: cannot reach 127\.0\.0\.1:\d+: connect: connection refused",
         docker_error='Get "http://127\\.0\\.0\\.1:\\d+/v2/": dial tcp 127\\.0\\.0\\.1:\\d+: connect: connection refused'),
    # lamina's words differ on purpose: lamina's registry client words the unreachable registry its own way (the same fact)
    Case("err-copy-from-missing-stage", f"FROM {B}\nCOPY --from=127.0.0.1:1/nostage /x /y\n", fail=r"Dockerfile:2: COPY failed: invalid from flag value 127\.0\.0\.1:\d+/nostage: 127\.0\.0\.1:\d+/nostage:latest: cannot reach 127\.0\.0\.1:\d+: connect: connection refused",
         docker_error='invalid from flag value 127\\.0\\.0\\.1:\\d+/nostage: Get "http://127\\.0\\.0\\.1:\\d+/v2/": dial tcp 127\\.0\\.0\\.1:\\d+: connect: connection refused'),
    Case("err-run-fails", f"FROM {B}\nRUN exit 3\n", fail=r"Dockerfile:2: The command '/bin/sh -c exit 3' returned a non-zero code: 3",
         docker_error=r"The command '/bin/sh -c exit 3' returned a non-zero code: 3", error_line=2),
    Case("err-healthcheck-bad-interval", f"FROM {B}\nHEALTHCHECK --interval=abc CMD true\n", fail='Dockerfile:2: time: invalid duration "abc"',
         docker_error='dockerfile parse error line 2: time: invalid duration "abc"', error_line=2),
    # lamina's words differ on purpose: lamina adds a did-you-mean hint and writes the flag with its dashes
    Case("err-unknown-flag", f"FROM {B}\nCOPY --chwon=1 f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: unknown flag: --chwon \(did you mean chown\?\)",
         docker_error=r"dockerfile parse error line 2: Unknown flag: chwon", error_line=2),
    Case("err-onbuild-onbuild", f"FROM {B}\nONBUILD ONBUILD RUN true\n", fail=r"Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
         docker_error=r"dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", error_line=2),
    Case("err-onbuild-from", f"FROM {B}\nONBUILD FROM busybox\n", fail=r"Dockerfile:2: FROM isn't allowed as an ONBUILD trigger",
         docker_error=r"dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger", error_line=2),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-expose-bad", f"FROM {B}\nEXPOSE 80/xyz\n", fail=r"Dockerfile:2: invalid proto: xyz",
         docker_error=r"Invalid proto: xyz", error_line=2),
    Case("err-user-missing-at-run", f"FROM {B}\nUSER ghost\nRUN true\n", fail=r"Dockerfile:3: unable to find user ghost: no matching entries in passwd file",
         docker_error=r"unable to find user ghost: no matching entries in passwd file", error_line=3),
    Case("err-copy-outside-context", f"FROM {B}\nCOPY ../outside /x\n", fail=r"Dockerfile:2: COPY failed: forbidden path outside the build context: \.\./outside \(\)",
         docker_error=r"COPY failed: forbidden path outside the build context: \.\./outside \(\)",
         error_line=2),
    Case("err-maintainer-empty", f"FROM {B}\nMAINTAINER\n", fail=r"Dockerfile:2: MAINTAINER requires exactly one argument",
         docker_error=r"dockerfile parse error line 2: MAINTAINER requires exactly one argument", error_line=2),
    Case("err-stopsignal-bad", f"FROM {B}\nSTOPSIGNAL SIGNOPE\n", fail=r"Dockerfile:2: Invalid signal: SIGNOPE",
         docker_error=r"Invalid signal: SIGNOPE", error_line=2),
]

CASES += [
    Case(
        "volume-discards-run-changes",
        f"""FROM {B}
RUN mkdir /vol && echo before > /vol/before
VOLUME /vol
RUN echo after > /vol/after && echo changed > /vol/before
COPY f /vol/copied
RUN cat /vol/copied > /seen-copied; ls /vol > /seen-ls
""",
        files={"f": "f\n"},
        runs=(("cat", "/seen-copied", "/seen-ls"),),
    ),
    Case(
        "json-fallbacks",
        f"""FROM {B}
CMD [a, b]
ENTRYPOINT ["sh", "-c", 'single']
HEALTHCHECK CMD ["broken
EXPOSE 80/TCP 90/Udp
LABEL empty="" ünï="cödé"
USER 1000
STOPSIGNAL ${{SIG:-SIGUSR2}}
""",
    ),
    Case(
        "arg-forms",
        """ARG TAG=1
FROM cx-base/busybox:$TAG
ARG Q="a b" S='c d' PLAIN
ARG REF=$Q-ref
ARG FROMENV
ENV E=env
ARG E=arg
ARG NOVAL
RUN echo "$Q|$S|$PLAIN|$REF|$FROMENV|$E|${NOVAL:-unset}" > /out
ENV CONCAT=$REF$E
""",
        args=("--build-arg", "PLAIN=p", "--build-arg", "E=cli", "--build-arg", "NOTDECLARED=x"),
        runs=(("cat", "/out"),),
    ),
    Case(
        "copy-more-paths",
        f"""FROM {B}
ENV DIR=/envdir
COPY f $DIR/
COPY f /\\$dollar
COPY f /data
COPY links /links
COPY links/ /links2/
COPY hard* /hard/
COPY dir /data/
COPY uni* /uni/
FROM {B} AS src
RUN mkdir -p /out/sub && echo t > /out/a.txt && echo u > /out/b.txt && ln -s a.txt /out/link && \\
    ln -s /out/sub /out/dirlink && echo s > /out/sub/s && chown -R 1000:50 /out/sub && chmod 700 /out/sub
FROM {B}
COPY --from=src /out/*.txt /txt/
COPY --from=src /out/link /copied-link
COPY --from=src /out/dirlink /copied-dirlink
COPY --from=src /out /outcopy
COPY --from=src /out/sub/ /subcopy/
""",
        files={"f": "f\n", "links/rel": Link("../f"), "links/dangling": Link("/nowhere"), "links/abs": Link("/etc/passwd"),
               "links/real": "r\n", "hard1": "h\n", "dir/new": "n\n", "dir/old": "replaced\n",
               "unicodé name ü.txt": "u\n", "uni space": Dir(0o711)},
    ),
    Case(
        "add-archive-members",
        f"""FROM {B}
ADD links.tar /links/
ADD whiteout.tar /wh/
ADD gzipped-text.gz /gz/
ADD dironly /dironly/
ADD empty.tar /empty/
""",
        files={"links.tar": tar_of([("d", None, 0o755), ("d/f", "f\n", 0o640), ("d/sym", ("sym", "f"), 0o777),
                                    ("d/hard", ("hard", "d/f"), 0o640), ("abs", ("sym", "/etc/passwd"), 0o777)]),
               "whiteout.tar": tar_of([("w/.wh.gone", "", 0o644), ("w/kept", "k\n", 0o644)]),
               "dironly/nested.tar": tar_of([("n", "n\n", 0o644)]), "gzipped-text.gz": __import__("gzip").compress(b"text\n", mtime=0),
               "empty.tar": b"\0" * 1024},
    ),
    Case(
        "run-changes-base",
        f"""FROM {B}
RUN rm -rf /data/old && rm /linkdir && mkdir /linkdir && echo x > /linkdir/x
RUN chown 1001:50 /data && chmod 0711 /data
RUN ln /etc/passwd /hardlink && mkdir -p /opq/a && echo 1 > /opq/a/f
RUN rm -rf /opq/a && mkdir /opq/a && echo 2 > /opq/a/g
ENV PATH=/custom:$PATH
RUN mkdir /custom && printf '#!/bin/sh\\necho custom-cmd\\n' > /custom/mycmd && chmod +x /custom/mycmd
RUN mycmd > /custom-out
USER nobody
RUN id > /tmp/nobody
""",
        runs=(("cat", "/custom-out", "/tmp/nobody"), ("mycmd",)),
    ),
    Case(
        "workdir-odd-paths",
        f"""FROM {B}
WORKDIR /a/./b/../c/
RUN pwd > /tmp/1
WORKDIR //double//slash
RUN pwd > /tmp/2
ENV REL=relsub
WORKDIR $REL
COPY f ./
RUN pwd > /tmp/3
""",
        files={"f": "f\n"},
        runs=(("sh", "-c", "cat /tmp/1 /tmp/2 /tmp/3; pwd"),),
    ),
    Case("newer-dash-modifier", f"FROM {B}\nARG C=\nENV E=${{C-dash}}\n",
         lamina_accepts="${V-w} is current BuildKit syntax (docker 20.10: missing ':' in substitution)",
         expect=((("sh", "-c", "echo $E"), "\n"),)),
    Case("err-copy-from-self", f"FROM {B}\nCOPY --from=0 /bin /x\n", fail=r"Dockerfile:2: COPY failed: invalid from flag value 0: refers to current build stage",
         docker_error=r"invalid from flag value 0: refers to current build stage",
         error_line=2),
    Case("err-copy-from-future-index", f"FROM {B}\nCOPY --from=3 /bin /x\n", fail=r"Dockerfile:2: COPY failed: invalid from flag value 3: index out of bounds",
         docker_error=r"invalid from flag value 3: index out of bounds", error_line=2),
    # the target needs no stage before it: BuildKit never builds the first one; the classic builder
    # builds it and looks for an image called later
    Case("bk-copy-from-later-stage-is-skipped", f"FROM {B}\nCOPY --from=later /bin/sh /x\nFROM {B} AS later\n",
         buildkit=True),
    # lamina's words differ on purpose: lamina's registry client words the unreachable registry its own way (the same fact)
    Case("err-mode-copy-from-later-stage", f"FROM {B}\nCOPY --from=later /bin/sh /x\nFROM {B} AS later\n",
         fail=r"Dockerfile:2: COPY failed: invalid from flag value later: later:latest: cannot reach ",
         docker_error=r"invalid from flag value later: Get ", error_line=2),
    Case("err-from-as-missing-name", f"FROM {B} AS\n", fail=r"Dockerfile:1: FROM requires either one or three arguments",
         docker_error=r"dockerfile parse error line 1: FROM requires either one or three arguments", error_line=1),
    Case("err-from-extra-words", f"FROM {B} extra\n", fail=r"Dockerfile:1: FROM requires either one or three arguments",
         docker_error=r"dockerfile parse error line 1: FROM requires either one or three arguments", error_line=1),
    Case("err-stage-name-invalid", f"FROM {B} AS 1bad\n", fail='Dockerfile:1: invalid name for build stage: "1bad", name can\'t start with a number or contain symbols',
         docker_error='dockerfile parse error line 1: invalid name for build stage: "1bad", name can\'t start with a number or contain symbols', error_line=1),
    Case("err-stage-name-duplicate", f"FROM {B} AS same\nFROM {B} AS same\n", fail=r"Dockerfile:2: same stage name already used",
         docker_error=r"same stage name already used"),
    Case("err-label-no-value", f"FROM {B}\nLABEL a\n", fail=r"Dockerfile:2: LABEL must have two arguments",
         docker_error=r"failed to parse Dockerfile: LABEL must have two arguments", error_line=2),
    Case("err-healthcheck-no-cmd", f"FROM {B}\nHEALTHCHECK --interval=5s\n", fail=r"Dockerfile:2: HEALTHCHECK requires at least one argument",
         docker_error=r"dockerfile parse error line 2: HEALTHCHECK requires at least one argument", error_line=2),
    # lamina's words differ on purpose: lamina's own words for the same refusal of a negative count
    Case("err-healthcheck-bad-retries", f"FROM {B}\nHEALTHCHECK --retries=-1 CMD true\n", fail=r"Dockerfile:2: --retries cannot be negative \(-1\)",
         docker_error=r"dockerfile parse error line 2: --retries must be at least 1 \(not -1\)", error_line=2),
    Case("err-healthcheck-tiny-interval", f"FROM {B}\nHEALTHCHECK --interval=1us CMD true\n", fail='Dockerfile:2: Interval "interval" cannot be less than 1ms',
         docker_error='dockerfile parse error line 2: Interval "interval" cannot be less than 1ms', error_line=2),
    Case("err-workdir-empty", f"FROM {B}\nWORKDIR\n", fail=r"Dockerfile:2: WORKDIR requires exactly one argument",
         docker_error=r"dockerfile parse error line 2: WORKDIR requires exactly one argument", error_line=2),
    Case("err-user-empty", f"FROM {B}\nUSER\n", fail=r"Dockerfile:2: USER requires exactly one argument",
         docker_error=r"dockerfile parse error line 2: USER requires exactly one argument", error_line=2),
    Case("err-arg-empty", f"FROM {B}\nARG\n", fail=r"Dockerfile:2: ARG requires at least one argument",
         docker_error=r"dockerfile parse error line 2: ARG requires at least one argument", error_line=2),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-three-parts", f"FROM {B}\nCOPY --chown=a:b:c f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: invalid chown string format: a:b:c",
         docker_error=r"unable to convert uid/gid chown string to host mapping: invalid chown string format: a:b:c", error_line=2),
    Case("err-expose-empty", f"FROM {B}\nEXPOSE\n", fail=r"Dockerfile:2: EXPOSE requires at least one argument",
         docker_error=r"dockerfile parse error line 2: EXPOSE requires at least one argument", error_line=2),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-dockerignored-source", f"FROM {B}\nCOPY secret /s\n", files={"secret": "s", ".dockerignore": "secret\n"},
         fail='Dockerfile:2: COPY failed: "secret": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat secret: file does not exist", error_line=2),
    Case("err-multi-source-no-slash", f"FROM {B}\nCOPY a b /dst\n", files={"a": "a", "b": "b"}, fail=r"Dockerfile:2: COPY failed: When using COPY with more than one source file, the destination must be a directory and end with a /",
         docker_error=r"When using COPY with more than one source file, the destination must be a directory and end with a /", error_line=2),
    Case("err-onbuild-trigger-fails", "FROM cx-pre/ob-fail\nRUN true\n",
         pre=(("cx-pre/ob-fail", f"FROM {B}\nONBUILD RUN exit 4\n"),), fail=r"Dockerfile:1: The command '/bin/sh -c exit 4' returned a non-zero code: 4",
         docker_error=r"The command '/bin/sh -c exit 4' returned a non-zero code: 4"),
    Case("err-json-non-string", f'FROM {B}\nCMD ["a", 1]\n', fail=r"Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only",
         docker_error=r"failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only"),
]

# BuildKit-only syntax, judged against the daemon's BuildKit (DOCKER_BUILDKIT=1 docker build):
# config, files and runs are compared, history text is not (BuildKit writes its own).
CASES += [
    Case(
        "bk-run-mounts",
        f"""FROM {B} AS src
RUN mkdir /out && echo from-stage > /out/s && echo 2 > /out/t
FROM {B}
RUN --mount=type=cache,target=/cache echo cached > /cache/c && cat /cache/c > /seen-cache
RUN --mount=type=cache,target=/cache,id=other ls /cache > /seen-other
RUN --mount=type=bind,from=src,source=/out,target=/mnt cat /mnt/s /mnt/t > /seen-bind
RUN --mount=type=bind,source=ctx.txt,target=/etc/ctx.txt cat /etc/ctx.txt > /seen-ctx
RUN --mount=type=bind,target=/ctx cat /ctx/ctx.txt > /seen-ctxdir
RUN --mount=type=tmpfs,target=/tmp/t echo x > /tmp/t/x && ls /tmp/t > /seen-tmpfs
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /seen-secret-len && wc -c < /run/secrets/tok > /seen-secret-len
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0400,uid=1000 stat -c '%a %u' /etc/tok > /seen-secret-stat
""",
        files={"ctx.txt": "context\n", "tok.secret": "s3cr3t\n",
               ".dockerignore": "tok.secret\n"},
        args=("--secret", "id=tok,src=SECRET:tok.secret"),
        buildkit=True,
        fs_optional=("cache", "ctx", "mnt", "run", "run/secrets", "tmp/t"),
        runs=(("sh", "-c", "cat /seen-*; find /cache /mnt /ctx /run /tmp/t /etc/tok -type f 2>/dev/null | wc -l"),),
    ),
    Case(
        "bk-copy-chmod",
        f"""FROM {B}
COPY --chmod=0755 f /x/exec
COPY --chmod=600 f g /y/
COPY --chmod=0700 --chown=app:staff dir /z
ADD --chmod=0640 f /added
ADD --chmod=444 arch.tar /unpacked/
""",
        files={"f": File("f\n", 0o644), "g": File("g\n", 0o755), "dir/a": "a\n", "dir/sub/b": File("b\n", 0o600),
               "arch.tar": tar_of([("t/f", "t\n", 0o600)])},
        buildkit=True,
    ),
    Case(
        "bk-platform-args-and-skipping",
        f"""FROM {B} AS unused
RUN exit 9
FROM --platform=$BUILDPLATFORM {B} AS build
ARG TARGETPLATFORM
ARG TARGETOS TARGETARCH BUILDPLATFORM BUILDOS
RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH $BUILDPLATFORM $BUILDOS" > /plat
FROM {B}
ARG TARGETARCH
ENV ARCH=$TARGETARCH
COPY --from=build /plat /plat
RUN echo "${{TARGETVARIANT:-novariant}}" > /variant
""",
        buildkit=True,
        runs=(("cat", "/plat", "/variant"),),
    ),
]

CASES += [
    Case(
        "expansion-corners",
        f"""FROM {B}
ARG A=a
ARG EMPTY=
ENV N1=${{A:-$EMPTY}} N2=${{EMPTY:-${{A}}}} N3=${{EMPTY:-${{NOPE:-deep}}}} N4=${{A:+${{A}}${{A}}}}
ENV D1=$$ D2=a$ D3=$1 D4=${{A}}}} D5=\\${{A}} D6="\\$A" D7='\\$A' D8=\\\\$A
ENV W1="a   b" W2=a\\ \\ b W3="x"'y'z W4=${{A}}"$A"'$A'
LABEL "$A"=key-from-arg l2=${{A:-x}}\\ y l3="multi \\
line"
EXPOSE ${{PORT:-8080}}
VOLUME ["/$A"]
USER ${{NOPE:-app}}
WORKDIR /${{A}}dir
STOPSIGNAL ${{SIG:-SIGTERM}}
""",
    ),
    Case(
        "arg-env-precedence",
        f"""FROM {B}
ENV V=fromenv
ARG V=fromarg
RUN echo "$V" > /v1
ARG W=default
ENV W=env-$W
RUN echo "$W" > /w1
ARG FROMHOSTENV
ARG EMPTYCLI
RUN echo "[$FROMHOSTENV][${{EMPTYCLI-unset}}][$EMPTYCLI]" > /cli
""",
        args=("--build-arg", "V=cli", "--build-arg", "W=cli", "--build-arg", "EMPTYCLI="),
        runs=(("cat", "/v1", "/w1", "/cli"),),
    ),
    Case(
        "onbuild-through-stage",
        """FROM cx-pre/ob2 AS first
RUN echo first > /first
FROM first
RUN ls / > /tmp/ls && cat /trig > /tmp/trig
""",
        pre=(("cx-pre/ob2", f"FROM {B}\nONBUILD RUN echo fired >> /trig\n"),),
        runs=(("cat", "/trig", "/tmp/ls"),),
    ),
    Case(
        "healthcheck-inherit-and-replace",
        """FROM cx-pre/hc
HEALTHCHECK CMD ["/bin/true"]
ENTRYPOINT []
CMD ["/bin/echo", "cmd"]
""",
        pre=(("cx-pre/hc", f"FROM {B}\nHEALTHCHECK --interval=7s --retries=9 CMD false\nENTRYPOINT [\"/bin/sh\"]\n"),),
        runs=((),),
    ),
    Case(
        "crlf-bom-dockerfile",
        f"\ufeffFROM {B}\r\nRUN echo crlf \\\r\n  joined > /out\r\nENV A=1 \\\r\n  B=2\r\nLABEL x=y\r\n",
        runs=(("cat", "/out"),),
    ),
    Case(
        "user-and-ownership",
        f"""FROM {B}
USER 1234
RUN id > /tmp/id-1234 && touch /tmp/made-by-1234
USER app
ADD arch.tar /as-app-tar/
COPY f /as-app-copy
RUN id > /tmp/id-app && mkdir -p /tmp/app-dir && touch /tmp/app-dir/x
USER svc:0
RUN id > /tmp/id-svc
""",
        files={"f": "f\n", "arch.tar": tar_of([("t", "t\n", 0o640)])},
        runs=(("sh", "-c", "cat /tmp/id-*"),),
    ),
    Case(
        "dockerignore-more",
        f"""FROM {B}
COPY . /ctx/
""",
        files={".dockerignore": "\ufeff*\r\n!keep*\r\n!dir/\r\ndir/**/*.o\r\n!dir/**/main.o\r\n**/.git\r\n",
               "keep1": "k", "keep2/x": "x", "drop": "d", "dir/a.o": "o", "dir/s/b.o": "o", "dir/s/main.o": "m",
               "dir/s/c.c": "c", "dir/.git/HEAD": "h"},
    ),
    Case(
        "context-symlinks",
        f"""FROM {B}
COPY tree /tree
COPY linkfile /lf
COPY linkdir /ld
COPY linkdir/ /ld2/
COPY tree/[fsr]* /star/
COPY tree/*/g /g-real-dirs-only/
""",
        files={"tree/f": "f\n", "tree/rel": Link("f"), "tree/up": Link("../outside"), "tree/abs": Link("/tmp"),
               "tree/dirlink": Link("sub"), "tree/sub/g": "g\n", "linkfile": Link("tree/f"), "linkdir": Link("tree/sub"),
               "outside": "o\n"},
    ),
    Case(
        "newer-heredoc",
        f"FROM {B}\nRUN <<EOF\necho hi > /hi\nEOF\n",
        lamina_accepts="heredocs are BuildKit dockerfile/1.4 syntax; docker 20.10 reads 'echo hi' as an instruction",
        expect=((("cat", "/hi"), "hi\n"),),
    ),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-host-symlink-source", f"FROM {B}\nCOPY hostlink /x\n", files={"hostlink": Link("/etc/hostname")},
         fail='Dockerfile:2: COPY failed: "hostlink": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat hostlink: file does not exist", error_line=2),
    # lamina's words differ on purpose: docker's words mislead (no ':' is missing); lamina names the missing '}'
    Case("err-unterminated-brace", f"FROM {B}\nENV A=${{B\n", fail='Dockerfile:2: failed to process "\\$\\{B": syntax error: missing \'\\}\'',
         docker_error='failed to process "\\$\\{B": missing \':\' in substitution', error_line=2),
    # lamina's words differ on purpose: lamina names the modifier as written (:=)
    Case("err-bad-substitution", f"FROM {B}\nENV A=${{B:=x}}\n", fail='Dockerfile:2: failed to process "\\$\\{B:=x\\}": unsupported modifier \\(:=\\) in substitution',
         docker_error='failed to process "\\$\\{B:=x\\}": unsupported modifier \\(=\\) in substitution', error_line=2),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-glob-through-absolute-link", f"FROM {B}\nCOPY tree/* /star/\n",
         files={"tree/f": "f\n", "tree/abs": Link("/tmp")}, fail='Dockerfile:2: COPY failed: "tree/abs": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat tree/abs: file does not exist", error_line=2),
    # lamina's words differ on purpose: lamina names the pattern that matched nothing
    Case("err-glob-inside-symlinked-dir", f"FROM {B}\nCOPY linkdir/* /x/\n",
         files={"real/f": "f\n", "linkdir": Link("real")}, fail='Dockerfile:2: COPY failed: no source files were specified for "linkdir/\\*"',
         docker_error=r"COPY failed: no source files were specified", error_line=2),
    Case("add-hostile-tar", f"FROM {B}\nADD evil.tar /evil/\n",
         files={"evil.tar": tar_of([("../../escape", "x\n", 0o644), ("/abs/file", "a\n", 0o644),
                                    ("ok/../../up", "u\n", 0o644), ("lnk", ("sym", "/etc"), 0o777)])}),
    Case("newer-add-tar-through-symlink", f"FROM {B}\nADD evil.tar /evil/\n",
         files={"evil.tar": tar_of([("lnk", ("sym", "/etc"), 0o777), ("lnk/passwd", "pwned\n", 0o644)])},
         lamina_accepts="a member below an archive symlink to a missing dir: docker's chrooted open fails, "
                        "lamina makes the dir inside the destination (/evil/etc/passwd; the image's "
                        "/etc/passwd is untouched)",
         expect=((("cat", "/evil/etc/passwd"), "pwned\n"), (("grep", "-c", "pwned", "/etc/passwd"), "0\n"))),
]

CASES += [
    Case(
        "add-url",
        f"""FROM {B}
ADD $URL/plain.txt /downloaded/
ADD $URL/plain.txt /named-file
ADD $URL/arch.tar.gz /not-unpacked/
ADD $URL/sub/deep.txt?query=1 /q/
WORKDIR /wd
ADD $URL/plain.txt rel
""",
        served={"plain.txt": b"downloaded\n", "sub/deep.txt": b"deep\n", "arch.tar.gz": tar_of([("t", "t\n", 0o644)], compress="gz")},
    ),
    Case(
        "context-xattrs",
        f"""FROM {B}
COPY capped /capped
COPY tagged /tagged
COPY dir /dir
""",
        files={"capped": File("c\n", 0o755, xattrs=(("security.capability",
                                                     bytes.fromhex("0100000200200000000000000000000000000000")),)),
               "tagged": File("t\n", xattrs=(("user.note", b"hello"),)),
               "dir/inner": File("i\n", xattrs=(("user.inner", b"x"),))},
        xattrs=True,
    ),
    Case(
        "inherited-metadata",
        """FROM cx-pre/meta
RUN echo child > /vol/child && echo x > /tmp/outside
EXPOSE 81
LABEL b=child
WORKDIR sub
COPY f .
RUN pwd > /tmp/pwd && id > /tmp/id
""",
        files={"f": "f\n"},
        pre=(("cx-pre/meta", f"""FROM {B}
MAINTAINER base <b@x>
LABEL a=base b=base
EXPOSE 80/udp
RUN mkdir -m 777 /vol
VOLUME /vol
STOPSIGNAL SIGINT
WORKDIR /base
USER app
ENV BASEVAR=1
SHELL ["/bin/sh", "-xc"]
HEALTHCHECK CMD echo healthy
"""),),
        runs=(("sh", "-c", "ls -a /vol; cat /tmp/pwd /tmp/id"),),
    ),
]

CASES += [
    Case(
        "expansion-names",
        """ARG TAG
FROM cx-base/busybox:${TAG:-1} AS my.stage-1_x
ARG A=x
ARG A_B=ab
ENV N1=$A_B N2=${A}_B N3=$A-B N4=$A.B N5=$A9 N6=${A:-} N7="${A:-quoted default}" N8=$é N9=$ N10=a$
ENV "N11"=q N12=${A}${A_B}
FROM my.STAGE-1_x
RUN env | grep '^N' | sort > /env
""",
        runs=(("cat", "/env"),),
    ),
    Case(
        "copy-dir-rules",
        f"""FROM {B}
COPY --chown=svc:staff dir /data/
COPY --chown=svc:staff dir /newdir/
COPY single* /one-match-no-slash
COPY ["a b", "c d", "/spaced dir/"]
ADD --chown=app arch.tar /tar-chown/
COPY --chown=1000:50 --from={B} /etc /etc-copy
""",
        files={"dir/f": File("f\n", 0o600), "dir/sub/g": "g\n", "single-file": "s\n", "a b": "ab\n", "c d": "cd\n",
               "arch.tar": tar_of([("t", None, 0o700), ("t/f", "t\n", 0o640)])},
    ),
    Case("err-env-nested-quotes", f'FROM {B}\nENV N7="${{A:-"quoted default"}}"\n', fail='Dockerfile:2: Syntax error - can\'t find = in "default\\\\"\\}\\\\""\\. Must be of the form: name=value',
         docker_error='failed to parse Dockerfile: Syntax error - can\'t find = in "default\\\\"\\}\\\\""\\. Must be of the form: name=value', error_line=2),
    # lamina's words differ on purpose: lamina names the path in the image, not the daemon's overlay directory
    Case("err-copy-into-file", f"FROM {B}\nCOPY f /data/old/\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: mkdir /data/old: not a directory",
         docker_error=r"failed to copy files: failed to create new directory: mkdir \S+/data/old: not a directory", error_line=2),
    # lamina's words differ on purpose: lamina names the path in the image, not the daemon's overlay directory
    Case("err-copy-dir-onto-file", f"FROM {B}\nCOPY dir /data/old\n", files={"dir/x": "x"}, fail=r"Dockerfile:2: COPY failed: mkdir /data/old: not a directory",
         docker_error=r"failed to copy files: failed to copy directory: mkdir \S+/data/old: not a directory", error_line=2),
    Case("err-glob-multi-no-slash", f"FROM {B}\nCOPY f* /dst\n", files={"f1": "1", "f2": "2"}, fail=r"Dockerfile:2: COPY failed: When using COPY with more than one source file, the destination must be a directory and end with a /",
         docker_error=r"When using COPY with more than one source file, the destination must be a directory and end with a /", error_line=2),
    Case("err-bad-target-stage", f"FROM {B} AS a\nRUN true\n", args=("--target", "b"), fail=r"failed to reach build target b in Dockerfile",
         docker_error=r"failed to reach build target b in Dockerfile"),
    Case("err-arg-bad-name", f"FROM {B}\nARG =x\n", fail=r"Dockerfile:2: ARG names can not be blank",
         docker_error=r"dockerfile parse error line 2: ARG names can not be blank", error_line=2),
    Case("err-env-bad-name", f"FROM {B}\nENV =x\n", fail=r"Dockerfile:2: ENV names can not be blank",
         docker_error=r"dockerfile parse error line 2: ENV names can not be blank", error_line=2),
    # lamina's words differ on purpose: lamina says why the reference is invalid
    Case("err-from-bad-ref", "FROM cx-base/busybox:1@sha256:abc\n", fail=r"Dockerfile:1: invalid reference format: 'cx-base/busybox:1@sha256:abc': invalid digest 'sha256:abc': expected 64 lower-case hex digits",
         docker_error=r"invalid reference format", error_line=1),
    Case("err-cmd-json-nested", f'FROM {B}\nENTRYPOINT ["a", {{"b": 1}}]\n', fail=r"Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only",
         docker_error=r"failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only"),
]

CASES += [
    Case(
        "classic-platform-args",
        f"""FROM --platform=linux/amd64 {B}
ARG TARGETPLATFORM=default-platform
RUN echo "[$TARGETPLATFORM]" > /plat
""",
        runs=(("cat", "/plat"),),
    ),
]

# Ideas taken from the Dockerfile reference and the shapes moby's integration tests probe
# (written anew here, on this base image).
CASES += [
    Case(
        "shell-instruction-forms",
        f"""FROM {B}
SHELL ["/bin/echo", "shell-said"]
RUN ignored words
ENTRYPOINT -l
CMD default arg
SHELL ["/bin/sh", "-c"]
HEALTHCHECK CMD exit 0
""",
    ),
    Case(
        "odd-names-and-volumes",
        f"""FROM {B}
ADD ..dotdot /
COPY null /null-copied
ADD null /null-added
VOLUME null
VOLUME /with-content
COPY f /with-content/f
ADD . /ctxroot
COPY / /ctxroot2/
""",
        files={"..dotdot": "dd\n", "null": "n\n", "f": "f\n"},
    ),
    Case(
        "continuation-chars",
        f"""FROM {B}
RUN echo hi \\\\
RUN echo "a\\\\b" > /1
RUN printf '%s\\n' x\\
y > /2
RUN echo "  \\
  spaced" > /3
""",
        runs=(("cat", "/1", "/2", "/3"),),
    ),
    Case(
        "double-compressed-and-odd-archives",
        f"""FROM {B}
ADD double.tar.xz.gz /double/
""",
        files={"double.tar.xz.gz": __import__("gzip").compress(tar_of([("x", "x\n", 0o644)], compress="xz"), mtime=0)},
    ),
    # lamina's words differ on purpose: lamina says where the archive ends
    Case("err-add-truncated-tar", f"FROM {B}\nADD truncated.tar /trunc/\n",
         files={"truncated.tar": tar_of([("t", "t" * 2000, 0o644)])[:1024]}, fail=r"Dockerfile:2: ADD failed: archive is truncated \(unexpected end of data at byte 1024\)",
         docker_error=r"failed to copy files: Error processing tar file\(exit status 1\): unexpected EOF", error_line=2),
    Case(
        "arg-defined-after-use-and-stage-names",
        f"""FROM {B} as Foo
RUN echo "[$late]" > /before
ARG late
RUN echo "[$late]" > /after
FROM foo AS foo1
FROM foo1 As foo2
RUN cat /before /after > /both
FROM {B}
COPY --from=FOO2 /both /both
ENV DIRPATH=/foo SUB=bar
WORKDIR $DIRPATH
WORKDIR $SUB/$MISSING
RUN pwd > /pwd
""",
        args=("--build-arg", "late=value"),
        runs=(("cat", "/both", "/pwd"),),
    ),
    Case("err-empty-scratch", "FROM scratch\n", fail=r"No image was generated\. Is your Dockerfile empty\?",
         docker_error=r"No image was generated\. Is your Dockerfile empty\?"),
    Case("err-volume-empty-string", f'FROM {B}\nVOLUME ""\n', fail=r"Dockerfile:2: VOLUME specified can not be an empty string",
         docker_error=r"VOLUME specified can not be an empty string", error_line=2),
    Case("err-onbuild-no-args", f"FROM {B}\nONBUILD\n", fail=r"Dockerfile:2: ONBUILD requires at least one argument",
         docker_error=r"dockerfile parse error line 2: ONBUILD requires at least one argument", error_line=2),
    Case("err-run-127", f"FROM {B}\nRUN badEXE a1 \\\\& a2\ta3\n", fail="Dockerfile:2: The command '/bin/sh -c badEXE a1 \\\\\\\\& a2\ta3' returned a non-zero code: 127",
         docker_error="The command '/bin/sh -c badEXE a1 \\\\\\\\& a2\ta3' returned a non-zero code: 127", error_line=2),
    Case("cmd-without-arguments", "FROM cx-pre/cmd3\nCMD\n", pre=(("cx-pre/cmd3", f"FROM {B}\nCMD [\"x\"]\n"),)),
]

CASES += [
    Case(
        "bk-mount-details",
        f"""FROM {B} AS stage
RUN echo staged > /staged
FROM {B}
RUN --mount=type=cache,target=/var/cache/x,uid=1000,gid=50,mode=0700 stat -c '%u %g %a' /var/cache/x > /c1 && touch /var/cache/x/made
RUN --mount=type=cache,target=/var/cache/x,uid=1000,gid=50,mode=0700 ls /var/cache/x > /c2
RUN --mount=type=cache,id=/var/cache/x,target=/elsewhere ls /elsewhere > /c3
RUN --mount=type=cache,target=/locked,sharing=locked echo locked > /locked/l && cat /locked/l > /c4
RUN --mount=type=bind,source=dir,target=/src,rw echo scribble > /src/new && ls /src > /b1
RUN --mount=type=bind,from={B},source=/etc/group,target=/g cat /g > /b2
RUN --mount=type=bind,from=stage,source=/staged,target=/stf cat /stf > /b3
RUN --mount=type=secret,id=absent cat /run/secrets/absent > /s1 2>/dev/null; echo "rc=$?" >> /s1
RUN --mount=type=tmpfs,target=/data echo tmp > /data/t && ls /data > /t1
RUN --mount=type=bind,target=/ctx,source=. ls /ctx | sort > /b4
""",
        files={"dir/a": "a\n", "dir/b": "b\n"},
        buildkit=True,
        fs_optional=("var", "var/cache", "var/cache/x", "elsewhere", "locked", "src", "ctx", "run", "run/secrets",
                     "data/*"),
        runs=(("sh", "-c", "cat /c1 /c2 /c3 /c4 /b1 /b2 /b3 /s1 /t1 /b4; ls /dir /data 2>&1"),),
    ),
    # lamina's words differ on purpose: lamina adds how to pass the secret
    Case("bk-err-required-secret", f"FROM {B}\nRUN --mount=type=secret,id=need,required=true cat /run/secrets/need\n",
         buildkit=True, fail=r"Dockerfile:2: secret need not found \(pass it with --secret id=need,src=FILE\)",
         docker_error=r"secret need not found: not found"),
    Case("bk-err-mount-unknown-type", f"FROM {B}\nRUN --mount=type=nope,target=/x true\n", buildkit=True, fail='Dockerfile:2: unsupported mount type "nope"',
         docker_error='dockerfile parse error line 2: unsupported mount type "nope"',
         error_line=2),
]

# Hostile inputs: lamina must fail cleanly (one error line) where docker fails, and build what it builds.
CASES += [
    # lamina's words differ on purpose: lamina names the bad pattern (docker names no line either)
    Case("err-dockerignore-bad-pattern", f"FROM {B}\nCOPY . /x\n", files={".dockerignore": "[\n", "f": "f"}, fail=r"invalid \.dockerignore pattern '\[': syntax error in pattern",
         docker_error=r"error checking context: syntax error in pattern"),
    # lamina's words differ on purpose: docker 20.10 takes a malformed pattern as matching nothing; lamina names it as malformed
    Case("err-copy-bad-glob", f"FROM {B}\nCOPY [ab /x/\n", files={"a": "a"}, fail=r"Dockerfile:2: COPY failed: invalid pattern '\[ab': syntax error in pattern",
         docker_error=r"COPY failed: no source files were specified", error_line=2),
    Case("err-nul-in-dockerfile", f"FROM {B}\nRUN echo \0 > /x\n", fail="Dockerfile:2: The command '/bin/sh -c echo \x00 > /x' returned a non-zero code: 1",
         docker_error="The command '/bin/sh -c echo \x00 > /x' returned a non-zero code: 1"),
    Case("invalid-utf8", f"FROM {B}\nLABEL x=a\xffb\nENV E=\xfe\nRUN echo \xff > /f\n".encode("latin-1").decode(
        "utf-8", "surrogateescape"), runs=(("cat", "/f"),)),
    Case(
        "hostile-context-entries",
        f"""FROM {B}
COPY . /ctx/
""",
        files={"loop1": Link("loop2"), "loop2": Link("loop1"), "self": Link("."), "up": Link(".."),
               "deep/er/f": "f\n", "long" + "x" * 200: "long\n", "pipe": Fifo(), "deep/pipe2": Fifo(0o600)},
    ),
    Case(
        "long-and-many-lines",
        f"FROM {B}\n" + "".join(f"ENV V{i}={'v' * 50}\n" for i in range(60)) + "RUN echo " + "a" * 20000 + " > /long\n",
        runs=(("wc", "-c", "/long"),),
    ),
]

CASES += [
    Case(
        "cli-labels-and-onbuild-args",
        """FROM cx-pre/ob3
LABEL own=1
""",
        args=("--label", "z.last=1", "--label", "a.first=two words", "--build-arg", "OBV=from-cli"),
        pre=(("cx-pre/ob3", f"FROM {B}\nONBUILD ARG OBV=dflt\nONBUILD RUN echo $OBV > /obv\nONBUILD LABEL seen=$OBV\n"),),
        runs=(("cat", "/obv"),),
    ),
]

CASES += [
    # BuildKit's scratch has WorkingDir "/", the classic builder's none: lamina takes BuildKit's
    # when the Dockerfile needs BuildKit anyway (here --chmod), the classic one otherwise.
    Case("bk-from-scratch", "FROM scratch\nCOPY --chmod=0600 f /f\nENV A=1\n", files={"f": "f\n"}, buildkit=True),
]

CASES += [
    Case(
        "bk-builder-differences",
        f"""FROM {B}
RUN --mount=type=tmpfs,target=/scratchpad true
COPY modes /modes
COPY --chown=app:app modes /modes-owned
ADD suid.tar /tar/
RUN mkdir /vol && echo before > /vol/before
VOLUME /vol
RUN echo after > /vol/after
USER app
WORKDIR /made-by-app
RUN touch /made-by-app/x 2>/dev/null; echo "rc=$?" > /tmp/wd
USER root
WORKDIR /
""",
        files={"modes/suid": File("s\n", 0o4755), "modes/sgid": File("g\n", 0o2755), "modes/sgid-noexec": File("n\n", 0o2644),
               "modes/dir": Dir(0o2775), "modes/sticky": Dir(0o1777),
               "suid.tar": tar_of([("bin-suid", "b\n", 0o4755)])},
        buildkit=True,
        fs_optional=("scratchpad",),
        runs=(("sh", "-c", "cat /tmp/wd; ls /vol"),),
    ),
]

CASES += [
    Case(
        "bk-copy-owners-and-dirs",
        f"""FROM {B}
RUN --mount=type=tmpfs,target=/scratchpad true
COPY private /private-copy
COPY --chown=app private /private-owned/
COPY --chown=svc:staff f /deep/new/parents/f
COPY --chown=1234:5678 private/ /data/
ADD owned.tar /owned/
COPY --chown=app:app f /data/old
COPY f /linkdir/via-link
""",
        files={"private/x": File("x\n", 0o600), "private/sub/y": "y\n", "private/sub": Dir(0o750),
               "private": Dir(0o700), "f": File("f\n", 0o640, 5, 6),
               "owned.tar": tar_of([("d", None, 0o711), ("d/f", "f\n", 0o604)])},
        buildkit=True,
        fs_optional=("scratchpad",),
    ),
]

CASES += [
    Case(
        "expansion-escapes",
        r"""FROM cx-base/busybox:1
ENV X=x
ENV Q1="\"quoted\"" Q2=\"bare\" Q3='a\b' Q4="a\\b" Q5=a\\b Q6="\$X" Q7=\$X Q8='$X' Q9="'$X'" Q10='"$X"'
ENV E1=b=c E2="=lead" E3=trail= E4=\ lead-space E5="tab	in" E6=$X\ $X
LABEL 'k 1'="v \"1\"" k2=\$X k3="${X}\\"
ENV P1=${X:-\$X} P2="${X:+a\}b}" P3=${NOPE:-a\ b}
""",
    ),
    Case("err-label-quoted-key-with-equals", 'FROM cx-base/busybox:1\nLABEL "a=b"=c\n', fail='Dockerfile:2: failed to process "\\\\"a": unexpected end of statement while looking for matching double-quote',
         docker_error='failed to process "\\\\"a": unexpected end of statement while looking for matching double-quote',
         error_line=2),
]

CASES += [
    Case(
        "copy-from-details",
        f"""ARG SRC=builder
FROM {B} AS builder
RUN mkdir -p /out/d && echo a > /out/a && echo b > /out/d/b && chmod 4755 /out/a && chown -R 1001:50 /out \\
    && ln -s a /out/la && ln /out/a /out/ha
FROM {B}
ARG SRC
COPY --from=builder --chown=app /out /chowned
COPY --from=builder /out/ /data/
COPY --from=builder /out/la /followed
COPY --from=builder /out/* /globbed/
""",
    ),
]

CASES += [
    Case("newer-add-zstd-archive", f"FROM {B}\nADD z.tar.zst /z/\n",
         files={"z.tar.zst": __import__("zstandard").ZstdCompressor().compress(tar_of([("zf", "z\n", 0o640)]))},
         lamina_accepts="ADD unpacks zstd archives as current docker does; docker 20.10 copies them as files",
         docker_builds_it=True, expect=((("cat", "/z/zf"), "z\n"),)),
]



def _tar(members: list[tuple], **options) -> bytes:
    """A tar (PAX unless ``options`` say otherwise) of ``(name, content, mode[, attributes])``
    members, mtime 1600000000: content None is a directory; ``attributes`` set other TarInfo
    fields (``type``, ``linkname``, ``uid``, ``pax_headers``, ``devmajor`` …)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", **{"format": tarfile.PAX_FORMAT, **options}) as archive:
        for name, content, mode, *rest in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1_600_000_000
            if content is None:
                info.type = tarfile.DIRTYPE
            for key, value in (rest[0] if rest else {}).items():
                setattr(info, key, value)
            if info.isreg():
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    return buffer.getvalue()


_LONG = f"made/{'d' * 60}/{'e' * 60}/{'f' * 60}"

# Scoping, word splitting, odd forms and file-tree corners (written for lamina from the
# Dockerfile reference; each checked against docker 20.10's classic builder).
CASES += [
    Case(
        "arg-scope-stages",
        f"""ARG G=gdef
ARG IMG={B}
ARG OVER=odef
ARG FROMSTAGE=first
FROM $IMG AS first
RUN echo "first G=[$G] IMG=[$IMG] OVER=[$OVER]" > /first
ARG G
ARG OVER
ARG L=$G-local
RUN echo "G=[$G] OVER=[$OVER] L=[$L]" >> /first
ARG L=redeclared
RUN echo "L=[$L]" >> /first
FROM ${{IMG}} AS second
ARG G=stagedefault
ARG L2=$IMG
RUN echo "G=[$G] L2=[$L2]" > /second
FROM ${{FROMSTAGE}}
ARG LIT
ARG HOME
ARG UNSETENV
ENV FROMLIT=$LIT
COPY --from=second /second /second
RUN echo "LIT=[$LIT] FROMLIT=[$FROMLIT] HOME=[$HOME] UNSETENV=[${{UNSETENV-unset}}]" > /third
""",
        args=("--build-arg", "OVER=cli", "--build-arg", "G=first-cli", "--build-arg", "G=gcli",
              "--build-arg", "LIT=a \"b\" $c ${d}", "--build-arg", "HOME", "--build-arg", "CX_SURELY_UNSET_VAR_X",
              "--build-arg", "UNSETENV"),
        runs=(("cat", "/first", "/second", "/third"), ("sh", "-c", "echo $FROMLIT")),
    ),
    # proxy build args given but not declared: not recorded, yet docker still writes "|0 …"
    Case(
        "arg-predefined-proxy",
        f"""FROM {B}
RUN echo "[$HTTP_PROXY][$https_proxy][$NO_PROXY][$ftp_proxy]" > /undeclared
ARG https_proxy
RUN echo "[$HTTP_PROXY][$https_proxy]" > /declared
""",
        args=("--build-arg", "HTTP_PROXY=http://proxy.invalid:1", "--build-arg", "https_proxy=http://s.invalid:2",
              "--build-arg", "NO_PROXY=localhost"),
        runs=(("cat", "/undeclared", "/declared"), ("sh", "-c", "env | grep -ci proxy")),
    ),
    Case(
        "metadata-word-forms",
        f"""FROM {B}
ENV PORTS="80 81/udp" ONE=82 my-var=dash my.var=dot
EXPOSE $PORTS ${{ONE}}/tcp 83/sctp 80/tcp $NOPE "85" ${{NOPE:-91}}
EXPOSE 86-87/udp
STOPSIGNAL sigusr1
STOPSIGNAL KILL
STOPSIGNAL SIGRTMIN+3
STOPSIGNAL 64
HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=500ms --retries=1 CMD exit 0
LABEL single value with   spaces
LABEL quoted "a b" c
""",
    ),
    Case("err-stopsignal-zero", f"FROM {B}\nSTOPSIGNAL 0\n", fail=r"Dockerfile:2: Invalid signal: 0",
         docker_error=r"Invalid signal: 0", error_line=2),
    Case("err-healthcheck-cmd-shell-type", f"FROM {B}\nHEALTHCHECK CMD-SHELL exit 0\n", fail='Dockerfile:2: Unknown type "CMD-SHELL" in HEALTHCHECK \\(try CMD\\)',
         docker_error='dockerfile parse error line 2: Unknown type "CMD-SHELL" in HEALTHCHECK \\(try CMD\\)',
         error_line=2),
    Case("newer-healthcheck-zero-values",
         f"FROM {B}\nHEALTHCHECK --interval=0s --timeout=0 --start-period=0s --retries=0 CMD true\n",
         lamina_accepts="current BuildKit takes 0 as 'the default' for the durations and --retries; docker 20.10 "
                        "wants at least 1ms and 1 retry"),
    Case(
        "user-unknown-without-run",
        f"""FROM {B}
USER ghost
WORKDIR /made-for-ghost
COPY f /f
ENV AFTER=1
USER 4242:ghostgroup
COPY f /f2
""",
        files={"f": "f\n"},
    ),
    Case("err-user-unknown-group-at-run", f"FROM {B}\nUSER app:ghostgrp\nRUN true\n", fail=r"Dockerfile:3: unable to find group ghostgrp: no matching entries in group file",
         docker_error=r"unable to find group ghostgrp: no matching entries in group file", error_line=3),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-group-only", f"FROM {B}\nCOPY --chown=:50 f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: can't find uid for user : no such user: ",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find uid for user : no such user: ", error_line=2),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-trailing-colon", f"FROM {B}\nCOPY --chown=1000: f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: can't find gid for group : no such group: ",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find gid for group : no such group: ", error_line=2),
    Case(
        "copy-dest-forms",
        f"""FROM {B}
COPY f /newdir/.
COPY ./dir/../f /cleaned
COPY dir/ /
COPY f /linkdir
COPY dir /linkdir
RUN ln -s /data/old /filelink && ln -s /nowhere /dangling
COPY f /filelink
COPY f /dangling
ENV D=/dir/ E=/file
COPY f a\\[1\\] $D
COPY ["a\\\\[1\\\\]", "$E"]
WORKDIR /wd
COPY f .
COPY f ..
COPY f ./
""",
        files={"f": "f\n", "dir/etc/extra": "e\n", "dir/d2/x": "x\n", "a[1]": "literal\n", "a1": "one\n"},
    ),
    Case(
        "copy-glob-dirs-and-files",
        f"""FROM {B}
COPY d* /all/
COPY */f /fs/
COPY ["d?", "/qm/"]
""",
        files={"d1/f": "1\n", "d1/sub/g": "g\n", "d2/f": File("2\n", 0o600), "dfile": "df\n", "d3": Dir(0o700),
               "e/f": "e\n"},
    ),
    Case(
        "copy-dir-merges-existing",
        f"""FROM {B} AS src
RUN mkdir -p /out/data /out/tmp && chmod 750 /out/data && chown 1001:50 /out/data && echo s > /out/data/s
FROM {B}
COPY ctxdir/ /
COPY --from=src /out/ /merged/
RUN mkdir -p /merged/data && chmod 711 /merged/data
COPY --from=src /out/ /merged/
COPY --chown=app ctxdir /owned/
""",
        files={"ctxdir/data": Dir(0o700), "ctxdir/data/new": "n\n", "ctxdir/tmp": Dir(0o755),
               "ctxdir/bin": Dir(0o750, 3, 4)},
        runs=(("sh", "-c", "stat -c '%a %u %g %n' /data /tmp /bin /merged/data /owned /owned/data"),),
    ),
    Case(
        "copy-odd-modes",
        f"""FROM {B} AS src
RUN mkdir /m && cd /m && touch none sgid-noexec suidsgid && chmod 000 none && chmod 2644 sgid-noexec && \\
    chmod 6755 suidsgid && mkdir sticky && chmod 1777 sticky
FROM {B}
COPY modes /ctx-modes
COPY --chown=app modes /ctx-owned
COPY --from=src /m /from-stage
COPY --from=src --chown=1001 /m /from-stage-owned
""",
        files={"modes/none": File("n\n", 0o000), "modes/sgid-noexec": File("g\n", 0o2644),
               "modes/suidsgid": File("s\n", 0o6755), "modes/sticky": Dir(0o1777), "modes/wx": Dir(0o333)},
    ),
    Case(
        "copy-from-through-links",
        f"""FROM {B} AS src
RUN mkdir -p /real/sub && echo r > /real/sub/r && ln -s /real /abslink && ln -s real /rellink && \\
    ln -s sub/r /real/filelink
FROM {B}
COPY --from=src /abslink/sub/r /via-abs
COPY --from=src /rellink/sub /via-rel
COPY --from=src /abslink/ /dir-via-link/
COPY --from=src /real/filelink /followed-file
COPY --from=src /linkdir/old /base-link
""",
    ),
    # lamina's words differ on purpose: lamina refuses a variable --from in BuildKit's words; docker 20.10's classic builder reads '$S' as an image name
    Case("err-copy-from-arg", f"FROM {B} AS builder\nRUN echo b > /b\nFROM {B}\nARG S=builder\nCOPY --from=$S /b /b\n",
         fail=r"Dockerfile:5: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
         docker_error=r"invalid from flag value \$S: invalid reference format: repository name must be lowercase", error_line=5),
    # hard links survive inside one directory source, not between sources
    Case(
        "context-hardlinks",
        f"""FROM {B}
COPY . /ctx/
COPY a b /pair/
COPY d /d
COPY d1 d2 /two/
""",
        files={"a": File("a\n", 0o755), "b": Hard("a"), "d/x": "x\n", "d/y": Hard("d/x"), "d1/x": "x1\n",
               "d2/y": Hard("d1/x"), "d1/x2": Hard("d1/x")},
        runs=(("sh", "-c", "stat -c '%h %n' /ctx/a /ctx/b /pair/a /pair/b /d/x /d/y /two/x /two/x2 /two/y"),),
    ),
    Case(
        "add-tar-over-existing",
        f"""FROM {B}
RUN mkdir -p /dst/b /dst/keep && echo a > /dst/a && echo bb > /dst/b/inner && echo k > /dst/keep/k && \\
    ln -s /dst/keep /dst/l && chmod 700 /dst/keep
ADD over.tar /dst/
ADD dot.tar /data/
ADD dot.tar /fresh/
""",
        files={"over.tar": tar_of([("a", None, 0o755), ("a/new", "n\n", 0o644), ("b", "was a dir\n", 0o600),
                                   ("keep", None, 0o750), ("keep/k2", "k2\n", 0o644), ("l", "replaced link\n", 0o644)]),
               "dot.tar": _tar([("./", None, 0o700, {"uid": 4242, "gid": 4343}), ("./inner", b"i\n", 0o644)])},
    ),
    # members whose directories the archive only implies: the image's own dirs (and the
    # symlinks to them) stay as they are
    Case(
        "add-tar-implied-dirs",
        f"""FROM {B}
ADD implied.tar /
ADD explicit.tar /
""",
        files={"implied.tar": _tar([("data/new", b"n\n", 0o644), ("tmp/deeper/f", b"f\n", 0o600),
                                    ("fresh/a/b", b"b\n", 0o644), ("linkdir/through", b"t\n", 0o644)]),
               "explicit.tar": _tar([("linkdir", None, 0o750), ("linkdir/x", b"x\n", 0o644)])},
    ),
    Case(
        "add-tar-formats",
        f"""FROM {B}
ADD global.tar /global/
ADD gnu.tar /gnulong/
ADD dupes.tar /dupes/
ADD owner.tar /owner/
ADD special.tar /special/
ADD text.bz2 text.xz partial.tar.gz /compressed/
""",
        files={
            "global.tar": _tar([("g/file", b"g\n", 0o644), ("g/long-" + "x" * 150, b"long\n", 0o640)],
                               pax_headers={"comment": "global header"}),
            "gnu.tar": _tar([("gnu/" + "y" * 150, b"gnu\n", 0o644),
                             ("gnu/link", None, 0o777, {"type": __import__("tarfile").SYMTYPE, "linkname": "z" * 150})],
                            format=__import__("tarfile").GNU_FORMAT),
            "dupes.tar": _tar([("f", b"first\n", 0o644), ("f", b"second\n", 0o600), ("d", b"file first\n", 0o644),
                               ("d", None, 0o711), ("d/in", b"in\n", 0o644), ("e", None, 0o755), ("e/x", b"x\n", 0o644),
                               ("e", b"file replaces dir\n", 0o644)]),
            "owner.tar": _tar([("owned", b"o\n", 0o644, {"pax_headers": {"uid": "123456", "gid": "654321"}}),
                               ("named", b"n\n", 0o644, {"uname": "app", "gname": "staff", "uid": 7, "gid": 8})]),
            "special.tar": _tar([("fifo", None, 0o640, {"type": __import__("tarfile").FIFOTYPE}),
                                 ("null", None, 0o640, {"type": __import__("tarfile").CHRTYPE, "devmajor": 1, "devminor": 3}),
                                 ("implicit/deep/f", b"f\n", 0o600, {"uid": 77}), ("late/f", b"l\n", 0o644),
                                 ("late", None, 0o700, {"uid": 5}),
                                 ("big-ids", b"b\n", 0o644, {"uid": 70000, "gid": 80000})]),
            "text.bz2": __import__("bz2").compress(b"bz text\n"), "text.xz": __import__("lzma").compress(b"xz text\n"),
            "partial.tar.gz": __import__("gzip").compress(b"\0" * 100 + b"garbage", mtime=0),
        },
    ),
    Case(
        "json-forms-expansion",
        f"""FROM {B}
ENV SRC=f DST=/json-dst NAME=world
COPY ["$SRC", "$DST/"]
ADD ["${{SRC}}", "/added-$NAME"]
WORKDIR ["/not-json"]
RUN ["sh", "-c", "echo [$NAME] > /exec-env"]
RUN ["echo", "$NAME"]
CMD ["echo", "$NAME", "${{NAME}}", "\\u0041\\t\\"q\\"", "é", "a\\\\b", "\\/"]
ENTRYPOINT ["/bin/sh", "-c", "exec \\"$@\\"", "--"]
""",
        files={"f": "f\n"},
        runs=(("cat", "/exec-env"), ()),
    ),
    Case(
        "stages-by-arg-and-cmd-across",
        f"""ARG PICK=second
FROM {B} AS first
RUN echo first > /which
CMD ["echo", "base-cmd"]
FROM {B} AS second
RUN echo second > /which
FROM $PICK AS ep
ENTRYPOINT ["echo", "ep"]
FROM ep AS both
CMD ["echo", "later-cmd"]
ENTRYPOINT ["/bin/echo"]
FROM both
RUN cat /which > /picked
ENTRYPOINT echo shell-ep
""",
        args=("--build-arg", "PICK=first"),
        runs=(("cat", "/picked"), ()),
    ),
    Case(
        "onbuild-chain",
        """FROM cx-pre/obc2
RUN cat /trace > /final
""",
        files={"ob.tar": tar_of([("from-tar", "t\n", 0o640)])},
        pre=(("cx-pre/obc1", f"FROM {B}\nONBUILD RUN echo one >> /trace\nONBUILD ADD ob.tar /obtar/\n"),
             ("cx-pre/obc2", "FROM cx-pre/obc1\nRUN echo mid >> /trace\nONBUILD RUN echo two >> /trace\nONBUILD ENV T=2\n")),
        runs=(("sh", "-c", "cat /final; echo $T"),),
    ),
    # a trigger may name a stage of the child's Dockerfile that nothing else uses
    Case(
        "onbuild-copy-from-child-stage",
        f"""FROM {B} AS builder
RUN echo built > /out
FROM cx-pre/ob-from
RUN cat /copied > /seen
""",
        pre=(("cx-pre/ob-from", f"FROM {B}\nONBUILD COPY --from=builder /out /copied\nONBUILD CMD [\"from-trigger\"]\n"),),
        runs=(("cat", "/seen"),),
    ),
    Case(
        "run-status-semantics",
        f"""FROM {B}
RUN false; echo continued > /c1
RUN false || echo alternate > /c2
RUN ["sh", "-c", "false; echo exec-continued > /c3"]
SHELL ["/bin/sh", "-e", "-c"]
RUN if false; then echo no; fi; echo if-ok > /c4
""",
        runs=(("cat", "/c1", "/c2", "/c3", "/c4"),),
    ),
    # docker's init layer: a RUN sees /.dockerenv and /etc/mtab -> /proc/mounts, the image keeps neither
    Case(
        "run-sees-init-layer",
        f"""FROM {B}
RUN ls -a / > /root-list; readlink /etc/mtab > /mtab; test -f /.dockerenv && stat -c %a /.dockerenv > /env-mode
RUN rm /.dockerenv && ls -a / > /root-list-after
""",
        runs=(("cat", "/root-list", "/mtab", "/env-mode", "/root-list-after"),),
    ),
    Case("err-run-set-e", f"FROM {B}\nRUN set -e; false; echo never\n", fail=r"Dockerfile:2: The command '/bin/sh -c set -e; false; echo never' returned a non-zero code: 1",
         docker_error=r"The command '/bin/sh -c set -e; false; echo never' returned a non-zero code: 1", error_line=2),
    Case("err-shell-not-json", f"FROM {B}\nSHELL /bin/sh -c\n", fail=r"Dockerfile:2: SHELL requires the arguments to be in JSON form",
         docker_error=r"dockerfile parse error line 2: SHELL requires the arguments to be in JSON form", error_line=2),
    # RUN []: docker's container gets no command, so the daemon runs the image's ENTRYPOINT or CMD
    Case(
        "run-empty-json",
        f"""FROM {B}
RUN []
CMD ["touch", "/cmd-ran"]
RUN []
ENTRYPOINT ["sh", "-c", "echo ep >> /ep-ran"]
RUN [ ]
ENTRYPOINT []
CMD ["true"]
""",
    ),
    # lamina's words differ on purpose: lamina says it was the step's container that could not be made
    Case("err-run-empty-json-with-arg", f"FROM {B}\nARG A=1\nRUN []\n", fail=r"Dockerfile:3: failed to create the step's container: No command specified",
         docker_error=r"No command specified", error_line=3),
    # lamina's words differ on purpose: lamina says it was the step's container that could not be made
    Case("err-run-empty-json-no-cmd", "FROM cx-pre/nocmd\nRUN []\n", pre=(("cx-pre/nocmd", f"FROM {B}\nCMD []\n"),),
         fail=r"Dockerfile:2: failed to create the step's container: No command specified",
         docker_error=r"No command specified", error_line=2),
    Case(
        "run-env-per-user",
        f"""FROM {B}
RUN env | grep -v HOSTNAME | sort > /env-root
USER app
RUN env | grep -v HOSTNAME | sort > /tmp/env-app
USER 1234:staff
RUN env | grep -v HOSTNAME | sort > /tmp/env-1234 && id >> /tmp/env-1234
USER nobody
ENV HOME=/custom-home
RUN env | grep -v HOSTNAME | sort > /tmp/env-nobody
""",
        runs=(("sh", "-c", "cat /env-root /tmp/env-*"), ("sh", "-c", "env | grep -v HOSTNAME | sort")),
    ),
    Case(
        "run-replaces-across-steps",
        f"""FROM {B}
RUN mkdir -p /w/dir2file/sub /w/file2dir-parent && echo a > /w/dir2file/sub/a && echo f > /w/file2dir && \\
    echo gone > /w/recreated && ln -s /data /w/link2dir && echo h > /w/hl && touch /w/meta && chmod 600 /w/meta
RUN rm -r /w/dir2file && echo now-a-file > /w/dir2file && rm /w/file2dir && mkdir /w/file2dir && \\
    echo inside > /w/file2dir/x && rm /w/recreated && rm /w/link2dir && mkdir /w/link2dir && ln /w/hl /w/hl2
RUN echo recreated > /w/recreated && chmod 4755 /w/meta && chown 1000:50 /w/meta && mkdir -m 1777 /w/sticky && \\
    chmod 2750 /w/file2dir && echo more >> /w/hl
RUN rm /w/hl && touch -d @1000000000 /w/hl2
""",
        runs=(("sh", "-c", "cat /w/hl2 /w/recreated; stat -c '%a %u %g %n' /w/meta /w/sticky /w/file2dir"),),
    ),
    Case(
        "mtimes-kept",
        f"""FROM {B} AS src
RUN echo s > /s && touch -d @1500000000 /s && mkdir /sd && echo t > /sd/t && touch -d @1400000000 /sd/t
FROM {B}
COPY f /f
ADD f /added
ADD arch.tar /tar/
COPY --from=src /s /s
COPY --from=src /sd /sd
RUN echo x > /run-made && touch -d @1300000000 /run-made
""",
        files={"f": "f\n", "arch.tar": tar_of([("t", "t\n", 0o644)])},
        runs=(("sh", "-c", "stat -c '%Y %n' /s /sd/t /tar/t /run-made; "
               "test $(stat -c %Y /f) = $(stat -c %Y /added) && echo same-f"),),
    ),
    Case(
        "long-names-and-links",
        f"""FROM {B}
COPY ctx /ctx
RUN mkdir -p /{_LONG} && echo deep > /{_LONG}/{"n" * 200} && ln -s /{_LONG}/{"n" * 200} /made/longlink && \\
    ln /{_LONG}/{"n" * 200} /made/{"h" * 150}
""",
        files={f"ctx/{'a' * 80}/{'b' * 80}/{'c' * 254}": "long\n", "ctx/longtarget": Link("x" * 200),
               "ctx/short": "s\n", "ctx/" + "k" * 120: Hard("ctx/short")},
        runs=(("sh", "-c", "cat /made/longlink; ls /made | wc -l"),),
    ),
    # file names that are not UTF-8 (Latin-1 bytes), from the context and made by RUN
    Case(
        "non-utf8-names",
        f"""FROM {B}
COPY . /ctx/
RUN touch "/made-$(printf '\\377\\376')" && mkdir "/dir-$(printf '\\351')" && ls / | grep -c made-
""",
        files={"latin-\udce9t\udce9": "l\n", "dir-\udcff/inner": "i\n", "ok-é": "u\n"},
    ),
    Case(
        "dockerignore-anchoring",
        f"""FROM {B}
COPY . /ctx/
""",
        files={".dockerignore": "*.md\n/a?c\n[0-9]*\nsub/*.txt\n!sub/keep.txt\nx/../y\nz/\nign dir\n**/*.bak\n"
                                "!deep/**/save.bak\n#notcomment\n #spaced\nend#hash\n",
               "r.md": "r", "sub/r.md": "kept", "abc": "x", "sub/abc": "kept", "1file": "x", "sub/2file": "kept",
               "sub/a.txt": "x", "sub/keep.txt": "k", "sub/d/b.txt": "kept", "y": "x", "z/f": "x", "ign dir/f": "x",
               "deep/a/b/c.bak": "x", "deep/a/save.bak": "k", "root.bak": "x", "#notcomment": "c", " #spaced": "s",
               "end#hash": "h"},
    ),
    # docker's client sends an ignored Dockerfile anyway and the daemon deletes it: its
    # ignored parent directory stays, empty
    Case(
        "dockerignore-keeps-named-dockerfile",
        f"FROM {B}\n",
        files={".dockerignore": "sub\nDockerfile\n*.txt\nbuild\n!build/keep\n", "sub": Dir(0o700),
               "sub/Dockerfile": f"FROM {B}\nCOPY . /ctx/\nCOPY sub /sub-copied\n",
               "sub/other": "o\n", "a.txt": "a\n", "kept": "k\n", "build": Dir(0o700, 5, 5), "build/keep": "k\n",
               "build/drop": "d\n"},
        args=("-f", "SECRET:sub/Dockerfile"),
    ),
    Case(
        "dockerfile-outside-context",
        f"FROM {B}\nRUN echo ignored > /ignored\n",
        files={"f": "from context\n"},
        pre=(("cx-pre/outside", f"FROM {B}\nCOPY f /f\nRUN cat /f > /g\n"),),
        args=("-f", "SECRET:../pre-cx-pre-outside.Dockerfile"),
        runs=(("cat", "/g"),),
    ),
    Case(
        "scratch-copy-and-run",
        f"""FROM scratch
COPY --from={B} / /
COPY --chown=1000:50 f /f
COPY --chown=7 d /d
RUN env | grep -v HOSTNAME | sort > /env
""",
        files={"f": "f\n", "d/x": "x\n"},
        runs=(("cat", "/env"), ("sh", "-c", "env | grep -v HOSTNAME | sort")),
    ),
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-name-on-scratch", "FROM scratch\nCOPY --chown=app f /f\n", files={"f": "f"}, fail=r"Dockerfile:2: COPY failed: can't find uid for user app: open /etc/passwd: no such file or directory",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find uid for user app: open \S+/etc/passwd: no such file or directory", error_line=2),
    Case(
        "volume-paths-and-metadata",
        f"""FROM {B}
RUN mkdir /v && chmod 700 /v && echo keep > /v/keep
VOLUME /v /newvol /nested/deep/vol /linkdir
RUN chmod 755 /v && chown app /v && echo x > /newvol/x && echo y > /nested/deep/vol/y && echo z > /data/z
WORKDIR /v/wd
RUN echo w > w
VOLUME /only-declared
COPY f /only-declared/f
""",
        files={"f": "f\n"},
        runs=(("sh", "-c", "ls -la /v /newvol /nested/deep /data | grep -v total | sed 's/ [A-Z][a-z][a-z] .* / /'"),),
    ),
    Case(
        "parser-continuation-corners",
        f"""# a comment first: what follows is no directive
# escape=`
FROM {B}
RUN echo a \\{" " * 3}
    b > /out
RUN ["sh", "-c", \\
     "echo json-cont >> /out"]
  # indented comment
RUN echo c \\
  # indented comment in continuation
    d >> /out
RUN echo at-eof >> /out \\""",
        runs=(("cat", "/out"),),
    ),
    Case("err-escape-directive-repeated", f"# escape=`\n# escape=\\\nFROM {B}\n", fail=r"Dockerfile:2: only one escape parser directive can be used",
         docker_error=r"failed to parse Dockerfile: only one escape parser directive can be used"),
    Case("newer-substitution-operators", f"FROM {B}\nENV X=abc\nENV A=${{X#a}} C=${{X/b/c}} D=${{X%c}}\n",
         lamina_accepts="${V#p}, ${V%s} and ${V/a/b} are current BuildKit syntax (docker 20.10: missing ':' in "
                        "substitution)",
         expect=((("sh", "-c", "echo $A $C $D"), "bc acc ab\n"),)),
]

# Directives, URL downloads, health checks and user corners (written for lamina from the
# Dockerfile reference; checked against docker 20.10's classic builder).
CASES += [
    Case("directive-after-syntax", f"# syntax=docker/dockerfile:1\n# escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
    Case("directive-after-blank-line", f"\n# escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
    Case("directive-after-unknown", f"# foo=bar\n# escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
    Case("directive-no-space", f"#escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
    Case(
        "healthcheck-word-case",
        f"""FROM {B}
healthcheck --interval=5s cmd echo lower
HEALTHCHECK --timeout=3s --interval=5s NONE
""",
    ),
    Case("healthcheck-cmd-json-shell", f'FROM {B}\nHEALTHCHECK --retries=2 CMD ["CMD-SHELL", "exit 0"]\n'),
    Case(
        "add-url-details",
        f"""FROM {B}
ADD $URL/plain.txt /tmp
ADD --chown=app:staff $URL/plain.txt /owned/
ADD $URL/sp%20ace.txt /enc/
ADD $URL/plain.txt f /mixed/
WORKDIR /data
ADD $URL/sub/deep.txt .
""",
        files={"f": "f\n"},
        served={"plain.txt": b"downloaded\n", "sub/deep.txt": b"deep\n", "sp ace.txt": b"space\n"},
        runs=(("sh", "-c", "stat -c '%Y %a %u %g %n' /tmp/plain.txt /owned/plain.txt /enc/* /mixed/* /data/deep.txt"),),
    ),
    # lamina's words differ on purpose: the same fact in lamina's words
    Case("err-add-url-dir", f"FROM {B}\nADD $URL/sub/ /x/\n", served={"sub/f": b"f\n"}, fail=r"Dockerfile:2: ADD failed: cannot determine filename from url: http://127\.0\.0\.1:\d+/sub/",
         docker_error=r"ADD failed: cannot determine filename for source http://127\.0\.0\.1:\d+/sub/", error_line=2),
    Case(
        "user-numeric-groups",
        f"""FROM {B}
USER 1234:5678
RUN id > /tmp/a
USER 1001
RUN id > /tmp/b
USER svc
RUN id > /tmp/c
USER 1000:50
RUN id > /tmp/d
USER 0:50
RUN id > /tmp/e
""",
        runs=(("sh", "-c", "cat /tmp/a /tmp/b /tmp/c /tmp/d /tmp/e"),),
    ),
    Case(
        "onbuild-continuation-text",
        """FROM cx-pre/ob-cont
RUN cat /x
""",
        pre=(("cx-pre/ob-cont", f"FROM {B}\nONBUILD RUN echo a \\\n    b > /x\nONBUILD   ENV  K=v\\\n  W=x\n"
                                "ONBUILD LABEL x=1 y=\"# in quotes\"\n"),),
        runs=(("cat", "/x"),),
    ),
    Case(
        "hash-inside-lines",
        f"""FROM {B}
RUN echo a # not a comment > /x; echo b > /y
ENV H=a#b
LABEL c=#x
CMD echo # hash
""",
        runs=(("cat", "/y"),),
    ),
    Case(
        "global-arg-chains",
        """ARG V=1
ARG TAG=$V
ARG NAME=cx-base/busybox
FROM ${NAME}:${TAG} AS one
ARG TAG
ARG V
RUN echo "$TAG $V" > /tv
FROM one
""",
        runs=(("cat", "/tv"),),
    ),
    # lamina's words differ on purpose: lamina names the path in the image, not the daemon's overlay directory
    Case("err-workdir-over-file", f"FROM {B}\nWORKDIR /data/old\nRUN true\n", fail=r"Dockerfile:2: mkdir /data/old: not a directory",
         docker_error=r"Cannot mkdir: /data/old is not a directory", error_line=2),
    Case(
        "cmd-shell-then-shell-change",
        f"""FROM {B}
CMD echo one
SHELL ["/bin/sh", "-xc"]
ENTRYPOINT echo two
RUN echo three > /three
""",
        runs=((),),
    ),
]

CASES += [
    Case(
        "run-etc-mounts-discarded",
        f"""FROM {B}
RUN echo "1.2.3.4 extra" >> /etc/hosts; echo "nameserver 9.9.9.9" > /etc/resolv.conf; echo h > /etc/hostname; \\
    echo x > /dev/shm/x; echo y > /dev/y; mkdir -p /run/r && echo r > /run/r/f; true
RUN grep -c extra /etc/hosts > /c1; grep -c 9.9.9.9 /etc/resolv.conf > /c2; cat /etc/hostname | wc -c > /c3; \\
    ls /dev/shm /dev/y > /c4 2>&1; cat /run/r/f > /c5; true
""",
        args=("--network", "none"),
        runs=(("sh", "-c", "cat /c1 /c2 /c3 /c4 /c5"),),
    ),
    Case(
        "run-on-bare-root",
        f"""FROM scratch
COPY --from={B} /bin /bin
RUN ls -a / > /bin/root-ls; ls -ld /tmp > /tmp-ls 2>&1; true
""",
        runs=(("cat", "/bin/root-ls", "/tmp-ls"),),
    ),
]

CASES += [
    Case(
        "dockerignore-beside-dockerfile",
        f"FROM {B}\nCOPY . /ctx/\n",
        files={"build/app.Dockerfile": f"FROM {B}\nCOPY . /ctx/\n", "build/app.Dockerfile.dockerignore": "a\n",
               ".dockerignore": "b\n", "a": "a\n", "b": "b\n", "c": "c\n"},
        args=("-f", "SECRET:build/app.Dockerfile"),
    ),
    Case("target-name-case", f"FROM {B} AS One\nRUN echo 1 > /one\nFROM {B} AS two\nRUN exit 5\n",
         args=("--target", "ONE"), runs=(("cat", "/one"),)),
    Case("err-target-index", f"FROM {B} AS one\nRUN echo 1 > /one\n", args=("--target", "0"), fail=r"failed to reach build target 0 in Dockerfile",
         docker_error=r"failed to reach build target 0 in Dockerfile"),
    Case(
        "onbuild-global-args",
        """ARG G=global
ARG CH=chained
FROM cx-pre/ob-glob
RUN cat /seen > /final
""",
        args=("--build-arg", "CH=cli"),
        pre=(("cx-pre/ob-glob", f"FROM {B}\nONBUILD RUN echo \"[$G][$CH]\" > /seen\nONBUILD ARG CH\nONBUILD ARG G\n"
                                "ONBUILD RUN echo \"[$G][$CH]\" >> /seen\nONBUILD ENV E=$G-$CH\n"),),
        runs=(("sh", "-c", "cat /final; echo $E"),),
    ),
    Case(
        "arg-defaults-from-env-and-args",
        f"""FROM {B}
ENV E=env-value
ARG A=$E
ARG B=${{A}}-b
ARG C=$B
ENV F=$C
RUN echo "$A|$B|$C|$F" > /out
""",
        args=("--build-arg", "B=cli-b"),
        runs=(("cat", "/out"),),
    ),
]

CASES += [
    Case(
        "quoted-words",
        """FROM "cx-base/busybox:1"
USER "app"
STOPSIGNAL "SIGKILL"
VOLUME /v/ "/q" '/s'
WORKDIR "/quoted dir"
EXPOSE "8080/udp"
""",
    ),
    # lamina's words differ on purpose: lamina names the path in the image, not the daemon's overlay directory
    Case("err-add-tar-onto-file", f"FROM {B}\nADD arch.tar /data/old\n", files={"arch.tar": tar_of([("t", "t\n", 0o644)])},
         fail=r"Dockerfile:2: ADD failed: mkdir /data/old: not a directory",
         docker_error=r"failed to copy files: Error processing tar file\(exit status 1\): Error setting up pivot dir: mkdir \S+/data/old/\.pivot_root\d+: not a directory", error_line=2),
    Case("err-volume-quoted-space", f'FROM {B}\nVOLUME "/q v"\n', fail='Dockerfile:2: failed to process "\\\\"/q": unexpected end of statement while looking for matching double-quote',
         docker_error='failed to process "\\\\"/q": unexpected end of statement while looking for matching double-quote', error_line=2),
    Case("stopsignal-numbers", f"FROM {B}\nSTOPSIGNAL 99\n"),
    Case("stopsignal-negative", f"FROM {B}\nSTOPSIGNAL -3\n"),
    Case("expose-odd-accepted", f"FROM {B}\nEXPOSE 0 80/tcp/udp 81/ 82/TCP/x [1.2.3.4]:1:1 [::1]:83:83/udp 127.0.0.1::84\n"),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-expose-bad-ip", f"FROM {B}\nEXPOSE abc:80:80\n", fail=r"Dockerfile:2: invalid ip address: abc",
         docker_error=r"Invalid ip address: abc", error_line=2),
    # lamina's words differ on purpose: lamina names the address it read, not Go's parser detail
    Case("err-expose-unbracketed-ipv6", f"FROM {B}\nEXPOSE ::1:80:80\n", fail=r"Dockerfile:2: invalid ip address: ::1",
         docker_error=r"Invalid ip address ::1: address ::1:: too many colons in address", error_line=2),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-expose-too-big", f"FROM {B}\nEXPOSE 65536\n", fail=r"Dockerfile:2: invalid containerPort: 65536",
         docker_error=r"Invalid containerPort: 65536", error_line=2),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-healthcheck-repeated-flag", f"FROM {B}\nHEALTHCHECK --interval=1s --interval=2s CMD true\n", fail=r"Dockerfile:2: duplicate flag specified: --interval",
         docker_error=r"dockerfile parse error line 2: Duplicate flag specified: interval",
         error_line=2),
    Case("err-volume-empty-json", f"FROM {B}\nVOLUME []\n", fail=r"Dockerfile:2: VOLUME requires at least one argument",
         docker_error=r"dockerfile parse error line 2: VOLUME requires at least one argument", error_line=2),
    Case("err-shell-empty-json", f"FROM {B}\nSHELL []\n", fail=r"Dockerfile:2: SHELL requires at least one argument",
         docker_error=r"dockerfile parse error line 2: SHELL requires at least one argument", error_line=2),
    Case("entrypoint-no-args", "FROM cx-pre/ep0\nENTRYPOINT\n", pre=(("cx-pre/ep0", f'FROM {B}\nENTRYPOINT ["x"]\nCMD ["y"]\n'),)),
    Case("err-onbuild-maintainer", f"FROM {B}\nONBUILD MAINTAINER x\n", fail=r"Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger",
         docker_error=r"dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger", error_line=2),
    Case("chown-empty-value", f"FROM {B}\nCOPY --chown= f /f\nADD --chown= f /g\n", files={"f": File("f\n", 0o640, 5, 6)}),
    Case("copy-from-empty-is-context", f"FROM {B}\nCOPY --from= f /f\n", files={"f": File("f\n", 0o640, 5, 6)}),
    Case("user-only-group", f"FROM {B}\nUSER :50\nRUN id > /tmp/id\nUSER :staff\nRUN id >> /tmp/id\n",
         runs=(("cat", "/tmp/id"), ("id",))),
]

CASES += [
    # lamina's words differ on purpose: lamina names the pattern that matched nothing
    Case("err-copy-from-stage-glob-none", f"FROM {B} AS s\nFROM {B}\nCOPY --from=s /nope* /x/\n", fail='Dockerfile:3: COPY failed: no source files were specified for "/nope\\*"',
         docker_error=r"COPY failed: no source files were specified", error_line=3),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-copy-from-stage-missing", f"FROM {B} AS s\nFROM {B}\nCOPY --from=s /nope /x\n", fail='Dockerfile:3: COPY failed: "/nope": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: stat nope: file does not exist", error_line=3),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-add-from-flag", f"FROM {B} AS s\nFROM {B}\nADD --from=s /etc/group /x\n", fail=r"Dockerfile:3: unknown flag: --from",
         docker_error=r"dockerfile parse error line 3: Unknown flag: from", error_line=3),
    Case("err-add-url-missing", f"FROM {B}\nADD $URL/absent.txt /x\n", served={"present.txt": b"p\n"}, fail=r"Dockerfile:2: ADD failed: failed to GET http://127\.0\.0\.1:\d+/absent\.txt with status 404 File not found",
         docker_error=r"ADD failed: failed to GET http://127\.0\.0\.1:\d+/absent\.txt with status 404 File not found",
         error_line=2),
    Case("add-url-redirected-dir", f"FROM {B}\nADD $URL/sub /redir/\n", served={"sub/f": b"f\n"}),
    Case(
        "scratch-workdir-copy",
        """FROM scratch
WORKDIR /app
COPY f .
WORKDIR sub
COPY f ~/
ENV HOME=/h
COPY f $HOME/
""",
        files={"f": "f\n"},
    ),
    Case("bom-then-directive", f"\ufeff# escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
]

# instructions whose words expand to nothing
CASES += [
    Case("user-expands-empty", f"FROM {B}\nUSER app\nUSER $NOPE\nRUN id > /id\n", runs=(("cat", "/id"),)),
    Case("err-workdir-expands-empty", f"FROM {B}\nWORKDIR $NOPE\n", fail=r"Dockerfile:2: cannot normalize nothing",
         docker_error=r"cannot normalize nothing", error_line=2),
    Case("copy-dest-expands-empty", f"FROM {B}\nWORKDIR /w\nCOPY f $NOPE\nLABEL $NOPE=x\n", files={"f": "f\n"}),
    Case("expose-expands-empty", f"FROM {B}\nEXPOSE $NOPE\n"),
    Case("err-volume-expands-empty", f"FROM {B}\nVOLUME $NOPE\n", fail=r"Dockerfile:2: VOLUME specified can not be an empty string",
         docker_error=r"VOLUME specified can not be an empty string", error_line=2),
    Case("err-stopsignal-expands-empty", f"FROM {B}\nSTOPSIGNAL $NOPE\n", fail=r"Dockerfile:2: Invalid signal: ",
         docker_error=r"Invalid signal: ", error_line=2),
    Case("err-from-expands-empty", "ARG IMG\nFROM $IMG\n", fail=r"Dockerfile:2: base name \(\$IMG\) should not be blank",
         docker_error=r"base name \(\$IMG\) should not be blank", error_line=2),
    Case("err-stage-name-variable", f"ARG N=x\nFROM {B} AS $N\n", fail='Dockerfile:2: invalid name for build stage: "\\$N", name can\'t start with a number or contain symbols',
         docker_error='dockerfile parse error line 2: invalid name for build stage: "\\$N", name can\'t start with a number or contain symbols', error_line=2),
    Case("chown-expands-empty", f"FROM {B}\nCOPY --chown=$NOPE f /f\n", files={"f": File("f\n", 0o640, 5, 6)}),
    Case("env-label-expand-empty", f"FROM {B}\nENV A=$NOPE B=${{NOPE}}x\nLABEL l=$NOPE\nARG C=$NOPE\nRUN echo \"[$C]\" > /c\n",
         runs=(("cat", "/c"),)),
]

CASES += [
    Case(
        "run-process-environment",
        f"""FROM {B}
RUN grep -e ^Cap -e NoNewPrivs /proc/self/status > /status; umask > /umask; ulimit -n > /nofile; \\
    ls /dev | sort > /devs; cat /proc/self/oom_score_adj > /oom; id > /id; ls -ld /dev/shm /dev/pts /dev/mqueue 2>&1 | sed 's/ [A-Z][a-z][a-z] .* / /' > /devdirs; \\
    busybox mknod /mynull c 1 3 && busybox mkfifo /myfifo && echo made > /made; cat /etc/hosts > /hosts; true
""",
        args=("--network", "none"),
        runs=(("sh", "-c", "cat /status /umask /nofile /devs /oom /id /made /hosts /devdirs"),),  # no times in /devdirs
    ),
]

CASES += [
    Case(
        "volume-removals-discarded",
        f"""FROM {B}
RUN mkdir -p /v/sub && echo a > /v/a && echo b > /v/sub/b && ln -s a /v/link && chown -R 1000:50 /v/sub
VOLUME /v /data
RUN rm -rf /data/old /v/sub && mv /v/a /moved-a && ln -sf /nowhere /v/link && mkdir /v/new && echo > /v/sub2; \\
    rm -rf /data; echo "rc=$?" > /rc
RUN ls -la /v /data | grep -v -e total -e ' \\.\\.\\?$' | sed 's/ [A-Z][a-z][a-z] .* / /' > /seen
""",
        runs=(("cat", "/rc", "/seen", "/moved-a"),),
    ),
]

CASES += [
    Case("err-directive-trailing-text", f"# escape=`garbage here\nFROM {B}\nENV X=a\\b Y=c`d\n", fail="Dockerfile:1: invalid escape token '`garbage here' does not match ` or \\\\",
         docker_error="failed to parse Dockerfile: invalid escape token '`garbage here' does not match ` or \\\\"),
    Case("directive-empty-value", f"# escape=\n# escape=`\nFROM {B}\nENV X=a\\b Y=c`d\n"),
    Case("directive-after-instruction", f"FROM {B}\n# escape=`\nENV X=a\\b Y=c`d\n"),
    Case("err-directive-bad-escape", f"# escape=x\nFROM {B}\n", fail="Dockerfile:1: invalid escape token 'x' does not match ` or \\\\",
         docker_error="failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\\\"),
]

CASES += [
    Case(
        "copy-dir-over-links-and-files",
        f"""FROM {B}
RUN mkdir -p /x /y/d && ln -s /data /x/sub && ln -s /nowhere /x/dang && echo f > /x/file && ln -s file /x/flink
COPY dir /x/
COPY --from={B} /etc /x/flink/
""",
        files={"dir/sub/f": "f\n", "dir/dang/g": "g\n", "dir/file/h": "h\n"},
        runs=(("sh", "-c", "ls -la /x /data | grep -v total | sed 's/ [A-Z][a-z][a-z] .* / /'"),),
    ),
    Case("copy-file-over-dir", f"FROM {B}\nRUN mkdir -p /y/d/inner /y/e && echo i > /y/d/inner/i\nCOPY dir /y/\nCOPY f /y/e\n",
         files={"dir/d": "file\n", "f": "f\n"}),
]

CASES += [
    Case(
        "add-tar-special-modes",
        f"""FROM {B}
ADD modes.tar /m/
ADD --chown=app modes.tar /owned/
""",
        files={"modes.tar": _tar([("suid", b"s\n", 0o4755), ("sgid", b"g\n", 0o2755), ("sgid-noexec", b"n\n", 0o2644),
                                  ("sticky", None, 0o1777), ("none", None, 0o000), ("none/inner", b"i\n", 0o000),
                                  ("x", b"x\n", 0o644, {"pax_headers": {"SCHILY.xattr.user.note": "hi"}})])},
        xattrs=True,
    ),
]

CASES += [
    Case("newer-healthcheck-start-interval", f"FROM {B}\nHEALTHCHECK --start-period=5s --start-interval=1s CMD true\n",
         lamina_accepts="--start-interval is current BuildKit (docker 25+); docker 20.10: unknown flag"),
    Case("newer-copy-link-and-parents", f"FROM {B}\nCOPY --link f /linked\nCOPY --parents a/b/f /p/\n",
         files={"f": "f\n", "a/b/f": "abf\n"},
         lamina_accepts="--link and --parents are current BuildKit; docker 20.10's classic builder: unknown flag",
         expect=((("cat", "/linked", "/p/a/b/f"), "f\nabf\n"),)),
]

# the context on stdin: a bare Dockerfile is a context of that one file; a tar is the context
CASES += [
    Case("stdin-bare-dockerfile", f"FROM {B}\nCOPY . /ctx/\nRUN ls -la /ctx | grep -c Dockerfile > /n\n", stdin="dockerfile",
         runs=(("cat", "/n"),)),
    Case("stdin-context-tar", f"FROM {B}\nCOPY . /ctx/\n",
         files={"a": File("a\n", 0o600, 7, 8), "d/b": "b\n", ".dockerignore": "d\n"}, stdin="tar"),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-stdin-bare-dockerfile-copy", f"FROM {B}\nCOPY f /f\n", stdin="dockerfile", fail='Dockerfile:2: COPY failed: "f": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat f: file does not exist", error_line=2),
]
CASES += [
    Case("stdin-context-tar-ignores-itself", f"FROM {B}\nCOPY . /ctx/\n",
         files={"a": "a\n", "d/b": "b\n", ".dockerignore": "d\n.dockerignore\nDockerfile\n"}, stdin="tar"),
    Case("stdin-context-tar-named-dockerfile", f"FROM {B}\nCOPY . /ctx/\n",
         files={"sub/build.df": f"FROM {B}\nCOPY . /ctx/\n", "a": "a\n", ".dockerignore": "sub/build.df\na\n"},
         args=("-f", "sub/build.df"), stdin="tar"),
]
CASES += [
    Case("url-context-dockerfile", f"FROM {B}\nCOPY . /ctx/\n", stdin="url-dockerfile"),
    Case("url-context-tar", f"FROM {B}\nCOPY . /ctx/\n", files={"a": "a\n", "d/b": "b\n", ".dockerignore": "d\n"},
         stdin="url-tar"),
    Case("url-context-tar-named-dockerfile", f"FROM {B}\nCOPY . /ctx/\n",
         files={"sub/build.df": f"FROM {B}\nCOPY . /ctx/\nRUN echo named > /named\n", "a": "a\n"},
         args=("-f", "sub/build.df"), stdin="url-tar", runs=(("cat", "/named"),)),
]

# argument-count rules of single-string instructions and health checks
CASES += [
    Case("string-instructions-keep-spaces", f"FROM {B}\nWORKDIR /a b\nUSER some user\nMAINTAINER a  b   c\n"),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-copy-repeated-flag", f"FROM {B}\nCOPY --chown=app --chown=app f /f\n", files={"f": "f\n"}, fail=r"Dockerfile:2: duplicate flag specified: --chown",
         docker_error=r"dockerfile parse error line 2: Duplicate flag specified: chown",
         error_line=2),
    # lamina's words differ on purpose: lamina writes these in lower case, the flag with its dashes
    Case("err-expose-reversed-range", f"FROM {B}\nEXPOSE 80-79\n", fail=r"Dockerfile:2: invalid containerPort: 80-79",
         docker_error=r"Invalid containerPort: 80-79", error_line=2),
    Case("err-stopsignal-two-words", f"FROM {B}\nSTOPSIGNAL SIGKILL extra\n", fail=r"Dockerfile:2: Invalid signal: SIGKILL extra",
         docker_error=r"Invalid signal: SIGKILL extra", error_line=2),
    Case("err-healthcheck-cmd-empty", f"FROM {B}\nHEALTHCHECK CMD\n", fail=r"Dockerfile:2: Missing command after HEALTHCHECK CMD",
         docker_error=r"dockerfile parse error line 2: Missing command after HEALTHCHECK CMD", error_line=2),
    Case("err-healthcheck-none-extra", f"FROM {B}\nHEALTHCHECK NONE extra\n", fail=r"Dockerfile:2: HEALTHCHECK NONE takes no arguments",
         docker_error=r"dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments", error_line=2),
    Case("err-healthcheck-unknown-type", f"FROM {B}\nHEALTHCHECK FOO true\n", fail='Dockerfile:2: Unknown type "FOO" in HEALTHCHECK \\(try CMD\\)',
         docker_error='dockerfile parse error line 2: Unknown type "FOO" in HEALTHCHECK \\(try CMD\\)', error_line=2),
    Case("cmd-json-trailing-comma", f'FROM {B}\nCMD ["echo", "a",]\nENTRYPOINT ["sh", "-c"] \n'),
]

CASES += [
    Case(
        "copy-from-relative-source",
        f"""FROM {B} AS s
WORKDIR /app
RUN echo app > out && echo root > /out
FROM {B}
WORKDIR /dst
COPY --from=s out ./rel
COPY --from=s ./out ./dotrel
COPY --from=s app/out abs-less
""",
        runs=(("cat", "/dst/rel", "/dst/dotrel", "/dst/abs-less"),),
    ),
]

# sockets in the context: docker's client sends none
CASES += [
    Case("context-sockets", f"FROM {B}\nCOPY . /ctx/\nCOPY s* /glob/\nCOPY d /d\n",
         files={"sock": Socket(), "sfile": "s\n", "d/inner.sock": Socket(), "d/f": "f\n", "link": Link("sock")}),
    # lamina's words differ on purpose: lamina names the source as written, not docker's internal stat of it
    Case("err-copy-socket", f"FROM {B}\nCOPY sock /s\n", files={"sock": Socket()}, fail='Dockerfile:2: COPY failed: "sock": not found in build context \\(or excluded by \\.dockerignore\\)',
         docker_error=r"COPY failed: file not found in build context or excluded by \.dockerignore: stat sock: file does not exist", error_line=2),
    # lamina's words differ on purpose: lamina names the pattern that matched nothing
    Case("err-copy-glob-only-socket", f"FROM {B}\nCOPY so* /s/\n", files={"sock": Socket()}, fail='Dockerfile:2: COPY failed: no source files were specified for "so\\*"',
         docker_error=r"COPY failed: no source files were specified", error_line=2),
]

# user lookups against odd /etc/passwd and /etc/group files (first match wins, short lines)
CASES += [
    # lamina's words differ on purpose: lamina leaves out docker's internal 'host mapping' prefix (and daemon paths)
    Case("err-chown-lone-name-without-group", f"FROM {B}\nRUN echo 'short:x:2003:2003::/:/bin/sh' >> /etc/passwd\n"
         "COPY --chown=short f /f\n", files={"f": "f\n"}, fail=r"Dockerfile:3: COPY failed: can't find gid for group short: no such group: short",
         docker_error=r"unable to convert uid/gid chown string to host mapping: can't find gid for group short: no such group: short", error_line=3),
    Case(
        "user-lookup-odd-files",
        f"""FROM {B}
RUN printf '%s\\n' '# comment:x:5:5::/:/bin/sh' '' '  dup:x:2001:2001::/home/dup:/bin/sh' 'dup:x:2002:2002::/:/bin/sh' \\
      'short:x:2003' 'badgid:x:2004:notanumber::/:/bin/sh' '123:x:2005:2005::/:/bin/sh' 'sp ace:x:2006:2006::/:/bin/sh' \\
      >> /etc/passwd && printf '%s\\n' 'grp:x:3001:dup' 'grp:x:3002:' '3003:x:3004:' >> /etc/group
COPY --chown=dup:grp f /f1
COPY --chown=123:3003 f /f2
USER dup
RUN id > /tmp/id1
USER 123
RUN id > /tmp/id2
USER dup:3003
RUN id > /tmp/id3
""",
        files={"f": "f\n"},
        runs=(("sh", "-c", "cat /tmp/id1 /tmp/id2 /tmp/id3"),),
    ),
]
CASES += [
    Case(
        "chown-lookup-odd-lines",
        f"""FROM {B}
RUN printf '%s\\n' '  lead:x:2101:2101::/:/bin/sh' 'lead:x:2102:2102::/:/bin/sh' 'bad:x:notanumber:1' 'short:x:2103' \\
      >> /etc/passwd && printf '%s\\n' '#lead:x:3100:' ' lead:x:3101:' 'bad:x:oops:' 'short:x:3103' '+5:x:3104:' >> /etc/group
COPY --chown=lead f /f1
COPY --chown=bad:short f /f2
COPY --chown=short:bad f /f3
COPY --chown=+7:+5 f /f4
""",
        files={"f": "f\n"},
    ),
]
CASES += [
    # lamina's words differ on purpose: lamina names the runtime (runc) without dockerd's shim and OCI wrapping
    Case("err-shell-missing-binary", f'FROM {B}\nSHELL ["/bin/nope", "-c"]\nRUN true\n', fail='Dockerfile:3: runc: exec: "/bin/nope": stat /bin/nope: no such file or directory',
         docker_error='failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/bin/nope": stat /bin/nope: no such file or directory: unknown', error_line=3),
    # lamina's words differ on purpose: lamina names the runtime (runc) without dockerd's shim and OCI wrapping
    Case("err-run-exec-missing-binary", f'FROM {B}\nRUN ["/nope", "x"]\n', fail='Dockerfile:2: runc: exec: "/nope": stat /nope: no such file or directory',
         docker_error='failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown', error_line=2),
    # lamina's words differ on purpose: lamina names the runtime (runc) without dockerd's shim and OCI wrapping
    Case("err-run-exec-directory", f'FROM {B}\nRUN ["/etc"]\n', fail='Dockerfile:2: runc: exec: "/etc": permission denied',
         docker_error='failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc": permission denied: unknown', error_line=2),
    # lamina's words differ on purpose: lamina names the runtime (runc) without dockerd's shim and OCI wrapping
    Case("err-run-exec-not-executable", f'FROM {B}\nRUN ["/etc/passwd"]\n', fail='Dockerfile:2: runc: exec: "/etc/passwd": permission denied',
         docker_error='failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown', error_line=2),
]
CASES += [
    Case(
        "run-recreates-missing-workdir",
        f"""FROM {B}
WORKDIR /w/deep
RUN rm -rf /w
USER app
RUN pwd > /tmp/pwd; touch x 2>/dev/null; echo "rc=$?" >> /tmp/pwd
""",
        runs=(("sh", "-c", "cat /tmp/pwd; stat -c '%a %u %g %n' /w /w/deep"),),
    ),
]
CASES += [
    Case(
        "metadata-steps-recreate-workdir",
        """FROM cx-pre/gone-workdir
ENV A=1
LABEL l=1
WORKDIR /elsewhere
RUN rmdir /elsewhere
EXPOSE 80
ARG X=1
CMD ["sh"]
""",
        pre=(("cx-pre/gone-workdir", f"FROM {B}\nWORKDIR /gone/deeper\nRUN rm -rf /gone\n"),),
        runs=(("sh", "-c", "pwd; stat -c '%a %u %g %n' /gone /gone/deeper /elsewhere"),),
    ),
]
CASES += [
    # lamina's words differ on purpose: each side names its own rootfs path
    Case("err-volume-over-file", f"FROM {B}\nVOLUME /data/old\n", fail=r"Dockerfile:2: cannot mount volume over existing file, file exists \S+/data/old$",
         docker_error=r"cannot mount volume over existing file, file exists \S+/data/old", error_line=2),
    # lamina's words differ on purpose: each side names its own rootfs path
    Case("err-volume-over-file-later-step", f"FROM {B}\nVOLUME /v\nCOPY f /v\nENV A=1\n", files={"f": "f\n"},
         fail=r"Dockerfile:4: cannot mount volume over existing file, file exists \S+/v$",
         docker_error=r"cannot mount volume over existing file, file exists \S+/v", error_line=4),
    # lamina's words differ on purpose: each side names its own rootfs path
    Case("err-volume-over-file-at-run", f"FROM {B}\nVOLUME /v\nCOPY f /v\nRUN true\n", files={"f": "f\n"},
         fail=r"Dockerfile:4: cannot mount volume over existing file, file exists \S+/v$",
         docker_error=r"cannot mount volume over existing file, file exists \S+/v", error_line=4),
    Case("volume-over-dir-link-and-missing", f"FROM {B}\nRUN ln -s /nowhere /dangling\nVOLUME /linkdir /dangling /missing\n"
         "ENV A=1\n"),
]

# Which builder (issue 12, item 6): the same Dockerfile judged by each builder. lamina builds the
# plain case with DOCKER_BUILDKIT=0 against the classic builder and its bk- twin with
# DOCKER_BUILDKIT=1 against docker's BuildKit: where the two builders differ, each mode must
# match its own (WORKDIR and copied parents' owners, setuid bits kept, what RUN writes in a
# VOLUME, <Dockerfile>.dockerignore, FROM scratch's WorkingDir, unused stages, several sources).
_MODE_OWNERS = f"""FROM {B} AS src
RUN mkdir -p /s/t && echo hi > /s/t/f
FROM {B}
USER app
WORKDIR /made/deep
USER root
COPY --chown=app dir /p/q/r/
COPY --from=src --chown=1000:1000 /s /fp/q/
COPY --chown=app suid /bin/suid
VOLUME /v
RUN mkdir -p /v && echo x > /v/f
COPY . /ctx/
"""
_MODE_OWNERS_FILES = {"dir/sub/a": "a\n", "suid": File("s\n", 0o4755), "secret": "secret\n",
                      "Dockerfile.dockerignore": "secret\n", "other": "x\n"}
_MODE_OWNERS_RUNS = (("sh", "-c", "stat -c '%u %a %n' /made /made/deep /p /p/q /p/q/r /fp /fp/q /bin/suid; "
                                  "ls /v /ctx; pwd"),)
_MODE_STAGES = f"FROM {B} AS broken\nRUN exit 3\nFROM {B}\nRUN echo ok > /ok\n"
_MODE_SOURCES = f"""FROM {B}
COPY dir* /5
COPY f* /6
WORKDIR /w
COPY f1 f2 .
COPY dir1 f1 /7
"""
_MODE_SOURCES_FILES = {"dir1/x": "1\n", "dir2/y": "2\n", "f1": "3\n", "f2": "4\n"}
CASES += [
    Case("mode-owners-volumes-ignore", _MODE_OWNERS, files=_MODE_OWNERS_FILES, runs=_MODE_OWNERS_RUNS),
    Case("bk-mode-owners-volumes-ignore", _MODE_OWNERS, files=_MODE_OWNERS_FILES, runs=_MODE_OWNERS_RUNS,
         buildkit=True),
    Case("mode-scratch-workdir", "FROM scratch\nCOPY f /f\nENV A=1\n", files={"f": "f\n"}),
    Case("bk-mode-scratch-workdir", "FROM scratch\nCOPY f /f\nENV A=1\n", files={"f": "f\n"}, buildkit=True),
    Case("err-mode-unused-stage-is-built", _MODE_STAGES, fail=r"Dockerfile:2: The command '/bin/sh -c exit 3' returned a non-zero code: 3",
         docker_error=r"The command '/bin/sh -c exit 3' returned a non-zero code: 3", error_line=2),
    Case("bk-mode-unused-stage-is-skipped", _MODE_STAGES, buildkit=True, runs=(("cat", "/ok"),)),
    Case("err-mode-several-sources-into-dot", f"FROM {B}\nWORKDIR /w\nCOPY f1 f2 .\n", files=_MODE_SOURCES_FILES,
         fail=r"Dockerfile:3: COPY failed: When using COPY with more than one source file, the destination must be a directory and end with a /",
         docker_error=r"When using COPY with more than one source file, the destination must be a directory and end with a /", error_line=3),
    Case("bk-mode-several-sources-without-slash", _MODE_SOURCES, files=_MODE_SOURCES_FILES, buildkit=True,
         runs=(("sh", "-c", "find /5 /6 /w /7 | sort; cat /6"),)),
    # with a backtick escape a backslash is a plain character: the classic builder copies the file
    # literally named dir\file (docker 20.10's BuildKit 0.8 finds no such source)
    Case("escape-backtick-backslash-source-is-literal", f"# escape=`\nFROM {B}\nCOPY dir\\file /out\n",
         files={"dir\\file": "literal\n", "dir/file": "nested\n"}, runs=(("cat", "/out"),)),
    # BuildKit mounts the context it was sent: what .dockerignore excludes is not there
    Case("bk-bind-context-hides-ignored-files",
         f"FROM {B}\nRUN --mount=type=bind,target=/c ls -a /c /c/d > /seen\n"
         f"RUN --mount=type=bind,target=/c,rw ls -a /c/d > /seen-rw\n",
         files={"f": "f\n", "hidden": "h\n", "d/z": "z\n", "d/keep": "k\n", ".dockerignore": "hidden\nd/z\n"},
         buildkit=True, fs_optional=("c",), runs=(("cat", "/seen", "/seen-rw"),)),
]
