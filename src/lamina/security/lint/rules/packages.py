"""Rules about package managers in RUN lines: pinned versions, non-interactive flags, caches.

apt-get, apk, yum, dnf/microdnf, zypper, pip, npm, gem, yarn and go, each with the exact
conditions hadolint 2.15 checks (including its quirks, e.g. any ``rm -rf …`` counts as cleaning
the apt lists), so that the findings are the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lamina.security.lint.model import BaseImage, Step, declared_names, pairs_of
from lamina.security.lint.registry import Check, LintSettings, rule, simple_rule
from lamina.security.lint.shell import Command

TRUTHY = frozenset({"1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES"})


def _runs(step: Step) -> list[Command]:
    return step.shell.commands if step.keyword == "run" else []


def _strip_install_prefix(words: list[str]) -> list[str]:
    index = 0
    while index < len(words) and words[index] != "install":
        index += 1
    while index < len(words) and words[index] == "install":
        index += 1
    return words[index:]


def _install_before_clean(
    commands: list[Command], install: Callable[[Command], bool], clean: Callable[[Command], bool]
) -> bool:
    """hadolint's ``(<) <$> findIndex install <*> findIndex clean``: both present, install first."""
    install_at = next((i for i, c in enumerate(commands) if install(c)), None)
    clean_at = next((i for i, c in enumerate(commands) if clean(c)), None)
    return install_at is not None and clean_at is not None and install_at < clean_at


# ---- apt ------------------------------------------------------------------------------------


@simple_rule(
    "DL3008",
    "warning",
    "Pin versions in apt get install. Instead of `apt-get install <package>` use "
    "`apt-get install <package>=<version>`",
    onbuild=True,
)
def apt_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if command.has_args("apt-get", ("install",)):
            for package in command.args_no_flags(("t", "target-release")):
                if package != "install" and not (
                    "=" in package or "/" in package or package.endswith(".deb")
                ):
                    return False
    return True


@simple_rule(
    "DL3014",
    "warning",
    "Use the `-y` switch to avoid manual input `apt-get -y install <package>`",
    onbuild=True,
)
def apt_without_yes(step: Step) -> bool:
    for command in _runs(step):
        if command.has_args("apt-get", ("install",)):
            yes = (
                command.has_any_flag(("y", "yes", "qq", "assume-yes"))
                or command.count_flag("q") == 2
                or command.count_flag("quiet") == 2
                or "-q=2" in command.arguments
            )
            if not yes:
                return False
    return True


@simple_rule(
    "DL3015", "info", "Avoid additional packages by specifying `--no-install-recommends`", onbuild=True
)
def apt_recommends(step: Step) -> bool:
    for command in _runs(step):
        if command.has_args("apt-get", ("install",)):
            if not (
                command.has_flag("no-install-recommends")
                or "APT::Install-Recommends=false" in command.arguments
            ):
                return False
    return True


@simple_rule(
    "DL3027", "warning", "Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead",
    onbuild=True,
)  # fmt: skip
def apt_tool(step: Step) -> bool:
    return step.keyword != "run" or not step.shell.using("apt")


_SCRATCH = BaseImage(None, "scratch", None, None, None, None)


def _left_behind_per_stage(steps: list[Step], leaves_cache: Callable[[Step], bool]) -> Iterator[int]:
    """Lines whose RUN left a cache behind in a stage that ends up in the image (DL3009, DL3060).

    hadolint reports them for the last stage, and for a stage a later FROM builds on by name.
    """
    last_from: BaseImage | None = None
    stage_images: set[str] = set()
    left: dict[int, BaseImage] = {}
    for step in steps:
        if step.keyword == "from":
            last_from = step.base_image
            stage_images.add(last_from.name)
        elif step.keyword == "run" and leaves_cache(step):
            left[step.line] = last_from or _SCRATCH
    current = last_from or _SCRATCH
    for line, image in sorted(left.items()):
        if image == current or (image.alias is not None and image.alias in stage_images):
            yield line


@rule("DL3009", "info", "Delete the apt lists (/var/lib/apt/lists) after installing something", onbuild=True)
def apt_lists_left(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    def leaves_lists(step: Step) -> bool:
        commands = step.shell.commands
        updates = any(c.has_args(("apt", "apt-get", "aptitude"), ("update",)) for c in commands)
        cleans = any(c.has_args("rm", ("-rf", "/var/lib/apt/lists/*")) for c in commands)
        if not updates or cleans:
            return False
        if step.has_cache_or_tmpfs_mount_with("/var/lib/apt/lists"):
            return False
        return not (
            step.has_cache_or_tmpfs_mount_with("/var/lib/apt")
            and step.has_cache_or_tmpfs_mount_with("/var/cache/apt")
        )

    return _left_behind_per_stage(steps, leaves_lists)


# ---- apk ------------------------------------------------------------------------------------


@simple_rule(
    "DL3018",
    "warning",
    "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`",
    onbuild=True,
)
def apk_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if command.has_args("apk", ("add",)):
            for package in command.args_no_flags(("t", "virtual", "repository", "X")):
                if package == "add":
                    continue
                if not (any(mark in package for mark in "=~><") or package.endswith(".apk")):
                    return False
    return True


@simple_rule(
    "DL3019",
    "info",
    "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done "
    "installing packages",
    onbuild=True,
)
def apk_cache(step: Step) -> bool:
    if step.keyword != "run" or step.has_cache_or_tmpfs_mount_with("/var/cache/apk"):
        return True
    return not any(c.has_args("apk", ("add",)) and not c.has_flag("no-cache") for c in step.shell.commands)


# ---- yum, dnf, zypper -------------------------------------------------------------------------


@simple_rule(
    "DL3030", "warning", "Use the -y switch to avoid manual input `yum install -y <package>`", onbuild=True
)
def yum_without_yes(step: Step) -> bool:
    return not any(
        c.has_args("yum", ("install", "groupinstall", "localinstall"))
        and not c.has_any_flag(("y", "assumeyes"))
        for c in _runs(step)
    )


@simple_rule("DL3032", "warning", "`yum clean all` missing after yum command.", onbuild=True)
def yum_clean(step: Step) -> bool:
    commands = _runs(step)

    def install(c: Command) -> bool:
        return c.has_args("yum", ("install",))

    def clean(c: Command) -> bool:
        return c.has_args("yum", ("clean", "all")) or c.has_args("rm", ("-rf", "/var/cache/yum/*"))

    return not any(install(c) for c in commands) or _install_before_clean(commands, install, clean)


@simple_rule(
    "DL3038", "warning", "Use the -y switch to avoid manual input `dnf install -y <package>`", onbuild=True
)
def dnf_without_yes(step: Step) -> bool:
    return not any(
        c.has_args(("dnf", "microdnf"), ("install", "groupinstall", "localinstall"))
        and not c.has_any_flag(("y", "assumeyes"))
        for c in _runs(step)
    )


_DNF_INSTALLS = ("install", "in", "upgrade", "up", "upgrade-minimal", "up-min", "reinstall", "rei")


@simple_rule("DL3040", "warning", "`dnf clean all` missing after dnf command.", onbuild=True)
def dnf_clean(step: Step) -> bool:
    if step.keyword != "run":
        return True
    commands = step.shell.commands

    def cleaned(name: str) -> bool:
        def install(c: Command) -> bool:
            return c.has_args(name, _DNF_INSTALLS)

        def clean(c: Command) -> bool:
            return c.has_args(name, ("clean", "all")) or c.has_args("rm", ("-rf", "/var/cache/libdnf5*"))

        return not any(install(c) for c in commands) or _install_before_clean(commands, install, clean)

    if all(cleaned(name) for name in ("dnf", "microdnf")):
        return True
    return step.has_cache_or_tmpfs_mount_with("/var/cache/libdnf5") or step.has_cache_or_tmpfs_mount_with(
        ".cache/libdnf5"
    )


@simple_rule(
    "DL3034",
    "warning",
    "Non-interactive switch missing from `zypper` command: `zypper install -y`",
    onbuild=True,
)
def zypper_without_yes(step: Step) -> bool:
    verbs = ("install", "in", "remove", "rm", "source-install", "si", "patch")
    return not any(
        c.has_args("zypper", verbs) and not c.has_any_flag(("non-interactive", "n", "no-confirm", "y"))
        for c in _runs(step)
    )


@simple_rule("DL3035", "warning", "Do not use `zypper dist-upgrade`.", onbuild=True)
def zypper_dist_upgrade(step: Step) -> bool:
    return not any(c.has_args("zypper", ("dist-upgrade", "dup")) for c in _runs(step))


@simple_rule("DL3036", "warning", "`zypper clean` missing after zypper use.", onbuild=True)
def zypper_clean(step: Step) -> bool:
    commands = _runs(step)

    def install(c: Command) -> bool:
        return c.has_args("zypper", ("install", "in"))

    def clean(c: Command) -> bool:
        return c.has_args("zypper", ("clean", "cc"))

    if not any(install(c) for c in commands) or step.has_cache_or_tmpfs_mount_with("/var/cache/zypp"):
        return True
    return _install_before_clean(commands, install, clean)


@simple_rule(
    "DL3037", "warning", "Specify version with `zypper install -y <package>=<version>`.", onbuild=True
)
def zypper_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if command.has_args("zypper", ("install", "in")):
            for package in command.args_no_flags():
                if package in ("install", "in"):
                    continue
                if not (any(mark in package for mark in "=<>") or package.endswith(".rpm")):
                    return False
    return True


class _StageVariables:
    """The ENV names per stage (a stage built FROM another inherits them) and all ARG names."""

    def __init__(self) -> None:
        self.stage = 0
        self.first_stage_named: dict[str, int] = {"": 0}
        self.envs: dict[int, set[str]] = {0: set()}
        self.args: set[str] = set()

    def see(self, step: Step) -> None:
        instruction = step.instruction
        if step.keyword == "from":
            image = step.base_image
            parent = self.first_stage_named.get(image.name)
            self.stage += 1
            self.first_stage_named.setdefault(image.alias or "", self.stage)
            self.envs[self.stage] = set(self.envs.get(parent, set())) if parent is not None else set()
        elif step.keyword == "env" and instruction is not None:
            self.envs.setdefault(self.stage, set()).update(declared_names(step))
        elif step.keyword == "arg" and instruction is not None:
            self.args.update(declared_names(step))

    def defines(self, package: str) -> bool:
        names = self.envs.get(self.stage, set()) | self.args
        return any("${" + name + "}" in package for name in names)


def _rpm_version_fixed(variables: _StageVariables, package: str) -> bool:
    parts = package.split("-")
    if len(parts) <= 1:
        return False
    if package.endswith(".rpm"):
        return True
    if "$" in package:
        return variables.defines(package)
    rest = parts[1:]
    return all(re.fullmatch(r"[0-9A-Za-z.~^_:+]*", part) for part in rest) and any(
        part[:1].isdigit() for part in rest
    )


def _rpm_versions_rule(names: tuple[str, ...], skip_verbs: tuple[str, ...]) -> Check:
    def check(steps: list[Step], settings: LintSettings) -> Iterator[int]:
        variables = _StageVariables()
        for step in steps:
            variables.see(step)
            if step.keyword != "run":
                continue
            fine = True
            for command in step.shell.commands:
                if not command.has_args(names, ("install",)):
                    continue
                packages = [a for a in command.args_no_flags() if a not in ("install", "module")]
                if command.has_args(names, ("module",)):
                    fine = fine and all(":" in package for package in packages)
                elif not command.has_args(names, skip_verbs):
                    fine = fine and all(_rpm_version_fixed(variables, package) for package in packages)
            if not fine:
                yield step.line

    return check


rule("DL3033", "warning", "Specify version with `yum install -y <package>-<version>`.", onbuild=True)(
    _rpm_versions_rule(("yum",), ("module",))
)
rule("DL3041", "warning", "Specify version with `dnf install -y <package>-<version>`.", onbuild=True)(
    _rpm_versions_rule(("dnf", "microdnf"), ("module", "group"))
)


# ---- pip --------------------------------------------------------------------------------------

_PIP_VALUE_FLAGS = (
    "abi", "b", "build", "e", "editable", "extra-index-url", "f", "find-links", "i", "index-url", "implementation",
    "no-binary", "only-binary", "platform", "prefix", "progress-bar", "proxy", "python", "python-version", "root",
    "root-user-action", "src", "t", "target", "trusted-host", "upgrade-strategy",
)  # fmt: skip
_VCS_SCHEMES = (
    "git+file", "git+https", "git+ssh", "git+http", "git+git", "git", "hg+file", "hg+http", "hg+https", "hg+ssh",
    "hg+static-http", "svn", "svn+svn", "svn+http", "svn+https", "svn+ssh", "bzr+http", "bzr+https", "bzr+ssh",
    "bzr+sftp", "bzr+ftp", "bzr+lp",
)  # fmt: skip


def _contains_run(words: list[str], run: list[str]) -> bool:
    return any(words[i : i + len(run)] == run for i in range(len(words) - len(run) + 1))


def is_pip_install(command: Command) -> bool:
    name = command.name
    if name.startswith("pip") and not name.startswith("pipenv") and "install" in command.arguments:
        return True
    return name.startswith("python") and _contains_run(command.arguments, ["-m", "pip", "install"])


def _pip_pinned(package: str) -> bool:
    vcs = package.startswith(_VCS_SCHEMES)
    return (
        any(symbol in package for symbol in ("==", ">=", "<=", ">", "<", "!=", "~=", "==="))
        or (vcs and "@" in package)
        or package.endswith((".whl", ".tar.gz"))
        or (not vcs and "/" in package)
    )


@simple_rule(
    "DL3013",
    "warning",
    "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or "
    "`pip install --requirement <requirements file>`",
    onbuild=True,
)
def pip_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if not is_pip_install(command) or command.has_flag("constraint") or command.has_flag("c"):
            continue
        if any(word in ("--requirement", "-r", ".") for word in command.arguments):
            continue
        packages = _strip_install_prefix(command.args_no_flags(_PIP_VALUE_FLAGS))
        if not all(_pip_pinned(package) for package in packages):
            return False
    return True


def _pip_wrapper(command: Command) -> bool:
    return any(
        wrapper in command.name
        or (command.name.startswith("python") and _contains_run(command.arguments, ["-m", wrapper]))
        for wrapper in ("pipx", "pipenv")
    )


def _no_cache_dir_in_text(script: str) -> bool:
    marker = script.find("PIP_NO_CACHE_DIR=")
    if marker < 0:
        return False
    rest = script[marker:]
    rest = rest[rest.find("=") + 1 :]
    return any(rest.startswith(value) for value in TRUTHY)


@rule(
    "DL3042",
    "warning",
    "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`",
    onbuild=True,
)
def pip_cache(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    started = False
    current: str | None = None
    no_cache: dict[str | None, bool] = {}
    for step in steps:
        if step.keyword == "from":
            image = step.base_image
            stage = image.alias or image.name
            no_cache[stage] = no_cache.get(image.name, False) if started else False
            if not started:
                no_cache = {}
            current, started = stage, True
        elif step.keyword == "env" and step.instruction is not None:
            pairs = dict(pairs_of(step))
            if "PIP_NO_CACHE_DIR" in pairs and pairs["PIP_NO_CACHE_DIR"] in TRUTHY:
                no_cache[current] = True
                started = True
        elif step.keyword == "run":
            if no_cache.get(current) and started:
                continue
            if _no_cache_dir_in_text(step.script):
                continue
            forgot = any(
                is_pip_install(c) and "--no-cache-dir" not in c.arguments and not _pip_wrapper(c)
                for c in step.shell.commands
            )
            if forgot and not step.has_cache_or_tmpfs_mount_with(".cache/pip"):
                yield step.line


# ---- npm, yarn, gem, go -------------------------------------------------------------------------


def _npm_pinned(package: str) -> bool:
    if package.startswith(("git://", "git+ssh://", "git+http://", "git+https://")):
        return "#" in package
    if package.endswith((".tar", ".tar.gz", ".tgz")) or package.startswith(("/", "./", "../", "~/")):
        return True
    if package.startswith("@"):
        index = 0
        while index < len(package) and package[index] > "/":
            index += 1
        package = package[index:]
    return "@" in package


@simple_rule(
    "DL3016",
    "warning",
    "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`",
    onbuild=True,
)
def npm_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if not command.has_args("npm", ("install",)):
            continue
        words = command.args_no_flags(("loglevel", "registry"))
        if words[:1] == ["install"] and not all(_npm_pinned(p) for p in _strip_install_prefix(words)):
            return False
    return True


@rule("DL3060", "info", "`yarn cache clean` missing after `yarn install` was run.", onbuild=True)
def yarn_cache_left(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    def leaves_cache(step: Step) -> bool:
        commands = step.shell.commands

        def install(c: Command) -> bool:
            return c.has_args("yarn", ("install",))

        def clean(c: Command) -> bool:
            return c.has_args("yarn", ("cache", "clean"))

        if not any(install(c) for c in commands):
            return False
        if not any(clean(c) for c in commands):
            return not step.has_cache_or_tmpfs_mount_with(".cache/yarn")
        return _install_before_clean(commands, clean, install)

    return _left_behind_per_stage(steps, leaves_cache)


@simple_rule(
    "DL3028",
    "warning",
    "Pin versions in gem install. Instead of `gem install <gem>` use `gem install <gem>:<version>`",
    onbuild=True,
)
def gem_unpinned(step: Step) -> bool:
    for command in _runs(step):
        if not command.has_args("gem", ("install", "i")) or command.has_args("gem", ("-v", "--version")):
            continue
        if any(word.startswith("--version=") for word in command.arguments):
            continue
        words = (
            command.arguments[: command.arguments.index("--")]
            if "--" in command.arguments
            else command.arguments
        )
        gems: list[str] = []
        index = 0
        while index < len(words):
            if words[index].startswith("-"):
                index += 2
                continue
            gems.append(words[index])
            index += 1
        if not all(":" in gem for gem in gems if gem not in ("install", "i")):
            return False
    return True


@simple_rule(
    "DL3062",
    "warning",
    "Pin versions in go. Instead of `go install <package>` use `go install <package>@<version>`",
    onbuild=True,
)
def go_unpinned(step: Step) -> bool:
    commands = _runs(step)
    packages = [
        word
        for c in commands
        if c.has_args("go", ("run",))
        for index, word in enumerate(c.args_no_flags())
        if word != "run" and index <= 1
    ]
    if not packages:
        packages = [
            word
            for c in commands
            if c.has_args("go", ("install", "get"))
            for word in c.args_no_flags()
            if word not in ("install", "get", "tool")
        ]
    return all(_go_pinned(package) for package in packages)


def _go_pinned(package: str) -> bool:
    local = package == "." or package.startswith(("/", "."))
    return local or ("@" in package and not package.endswith(("@latest", "@none")))
