"""Rules about the image's configuration: USER, EXPOSE, CMD/ENTRYPOINT, HEALTHCHECK, ENV, ARG, LABEL.

The label-schema rules (DL3049–DL3058) only speak when the configuration names labels
(``label-schema`` in ``.hadolint.yaml``), as in hadolint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

from lamina.security.lint.model import Step, declared_names, pairs_of
from lamina.security.lint.registry import Check, LintSettings, Rule, rule, simple_rule

_PRAGMA_RULES = r"[DLSC0-9]+"
IGNORE_PRAGMA = re.compile(
    rf"[ \t]*hadolint[ \t]+ignore[ \t]*=[ \t]*({_PRAGMA_RULES}(?:[ \t]*,[ \t]*{_PRAGMA_RULES})*)[ \t]*(?:#.*)?\Z"
)


def _pairs(step: Step) -> list[tuple[str, str]]:
    return pairs_of(step)


@rule("DL3002", "warning", "Last USER should not be root")
def last_user_root(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    stage_line: int | None = None
    root_user_at: dict[int, int] = {}
    for step in steps:
        if step.keyword == "from":
            stage_line = step.line
        elif step.keyword == "user" and stage_line is not None and step.node is not None:
            user = " ".join(step.node.args)
            if user in ("root", "0") or user.startswith(("root:", "0:")):
                root_user_at[stage_line] = step.line
            else:
                root_user_at.pop(stage_line, None)
    yield from sorted(root_user_at.values())


@simple_rule("DL3011", "error", "Valid UNIX ports range from 0 to 65535")
def port_range(step: Step) -> bool:
    if step.keyword != "expose" or step.node is None:
        return True
    for spec in step.node.args:
        port = spec.split("/", 1)[0]
        for number in port.split("-", 1):
            if number.isdigit() and int(number) > 65535:
                return False
    return True


def _once_per_stage(steps: list[Step], keyword: str) -> Iterator[int]:
    seen = False
    for step in steps:
        if step.keyword == "from":
            seen = False
        elif step.keyword == keyword:
            if seen:
                yield step.line
            seen = True


@rule("DL3012", "error", "Multiple `HEALTHCHECK` instructions")
def many_healthchecks(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    return _once_per_stage(steps, "healthcheck")


@rule(
    "DL4003",
    "warning",
    "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect",
)
def many_cmds(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    return _once_per_stage(steps, "cmd")


@rule(
    "DL4004",
    "error",
    "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last "
    "`ENTRYPOINT` will take effect",
)
def many_entrypoints(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    return _once_per_stage(steps, "entrypoint")


@simple_rule("DL3025", "warning", "Use arguments JSON notation for CMD and ENTRYPOINT arguments")
def shell_form_command(step: Step) -> bool:
    node = step.node
    if node is None:
        return True
    if step.keyword in ("cmd", "entrypoint"):
        return node.json
    if step.keyword == "healthcheck":
        return node.json or not node.args or node.args[0].upper() != "CMD"
    return True


@rule(
    "DL3044",
    "error",
    "Do not refer to an environment variable within the same `ENV` statement where it is defined.",
)
def env_self_reference(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    defined: set[str] = set()
    for step in steps:
        if step.keyword == "env":
            pairs = _pairs(step)
            referenced = [
                name
                for index, (name, _) in enumerate(pairs)
                if any(_references(name, value) for other, (_, value) in enumerate(pairs) if other != index)
            ]
            if any(name not in defined for name in referenced):
                yield step.line
            defined.update(name for name, _ in pairs)
        elif step.keyword == "arg":
            defined.update(declared_names(step))


def _references(name: str, text: str) -> bool:
    if "${" + name + "}" in text:
        return True
    bare = "$" + name
    if bare not in text:
        return False
    return any(not rest or not re.match(r"[0-9A-Za-z_]", rest) for rest in text.split(bare)[1:])


@simple_rule("DL3048", "style", "Invalid label key.")
def label_key(step: Step) -> bool:
    if step.keyword != "label":
        return True
    for key, _ in _pairs(step):
        if (
            not re.match(r"[a-z]", key[:1])
            or not re.match(r"[a-z0-9]", key[-1:])
            or re.search(r"[^0-9a-z._/-]", key)
            or key.startswith(("com.docker.", "io.docker.", "org.dockerproject."))
            or ".." in key
            or "--" in key
        ):
            return False
    return True


_SENSITIVE_NAMES = frozenset(
    """ACCESS_TOKEN APPLICATION_KEY APP_SECRET AUTH_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BITTREX_API_KEY
    BITTREX_API_SECRET CF_PASSWORD CF_USERNAME CIRCLE_TOKEN CI_DEPLOY_PASSWORD CI_DEPLOY_USER DOCKERHUB_PASSWORD
    DOCKER_EMAIL DOCKER_PASSWORD DOCKER_USERNAME FACEBOOK_ACCESS_TOKEN FACEBOOK_APP_ID FACEBOOK_APP_SECRET
    FIREBASE_API_TOKEN FIREBASE_TOKEN FOSSA_API_KEY GH_ENTERPRISE_TOKEN GH_TOKEN GITHUB_ENTERPRISE_TOKEN GITHUB_TOKEN
    HEROKU_API_KEY HEROKU_API_USER NPM_AUTH_TOKEN NPM_TOKEN OKTA_AUTHN_GROUPID OKTA_CLIENT_ORGURL OKTA_CLIENT_TOKEN
    OKTA_OAUTH2_CLIENTID OKTA_OAUTH2_CLIENTSECRET OPENAI_API_KEY OS_PASSWORD OS_USERNAME POSTGRES_PASSWORD SLACK_TOKEN
    STRIPE_API_KEY STRIPE_DEVICE_NAME TRAVIS_OS_NAME TRAVIS_SECURE_ENV_VARS TRAVIS_SUDO VAULT_CLIENT_KEY
    VAULT_TOKEN""".split()
)
_SUSPICIOUS = ("api_key", "client_key", "password", "private", "secret", "token", "username")


@simple_rule(
    "DL3064",
    "warning",
    "Potentially sensitive data should not be used in the `ARG` or `ENV` commands",
    onbuild=True,
)
def sensitive_variable(step: Step) -> bool:
    if step.keyword not in ("arg", "env"):
        return True
    return not any(
        name.upper() in _SENSITIVE_NAMES or any(word in name.lower() for word in _SUSPICIOUS)
        for name, _ in _pairs(step)
    )


@rule("DL3066", "info", "Non-numeric user-id may not be resolvable by host system")
def named_user(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    args: set[str] = set()
    for step in steps:
        if step.keyword == "arg":
            args.update(declared_names(step))
        elif step.keyword == "user" and step.node is not None:
            user = " ".join(step.node.args)
            uid = user.split(":", 1)[0]
            if uid.isdigit() or not uid:
                continue
            if any("${" + name + "}" in user or "$" + name in user for name in args):
                continue
            yield step.line


@simple_rule(
    "DL1001", "ignore", "Please refrain from using inline ignore pragmas  `# hadolint ignore=DLxxxx`."
)
def ignore_pragma(step: Step) -> bool:
    return step.keyword != "comment" or IGNORE_PRAGMA.match(step.comment) is None


# ---- label schema ---------------------------------------------------------------------------


def _label_rules(settings: LintSettings) -> list[Rule]:
    """The rules hadolint makes per label named in the schema (one rule per label and check)."""
    made: list[Rule] = []
    for label, kind in settings.label_schema.items():
        made.append(Rule("DL3049", "info", f"Label `{label}` is missing.", _missing_label(label)))
        made.append(
            Rule("DL3051", "warning", f"label `{label}` is empty.", _label_value(label, lambda v: v != ""))
        )
        validator = _VALIDATORS.get(kind)
        if validator is not None:
            code, message = _VALIDATOR_MESSAGES[kind]
            made.append(Rule(code, "warning", message.format(label=label), _label_value(label, validator)))
    if settings.strict_labels:
        allowed = set(settings.label_schema)
        made.append(
            Rule("DL3050", "info", "Superfluous label(s) present.", _label_check(lambda k, v: k in allowed))
        )
    return made


def _label_check(is_fine: Callable[[str, str], bool]) -> Check:
    def check(steps: list[Step], settings: LintSettings) -> Iterator[int]:
        for step in steps:
            if step.keyword == "label" and not all(is_fine(k, v) for k, v in _pairs(step)):
                yield step.line

    return check


def _label_value(label: str, is_fine: Callable[[str], bool]) -> Check:
    return _label_check(lambda key, value: key != label or is_fine(value))


def _missing_label(label: str) -> Check:
    def check(steps: list[Step], settings: LintSettings) -> Iterator[int]:
        current: tuple[Step, int] | None = None
        good: set[int] = set()
        bad: set[int] = set()
        stages: dict[int, Step] = {}
        for step in steps:
            if step.keyword == "from":
                stages[step.line] = step
                image = step.base_image
                builds_on_good = any(stages[line].base_image.alias == image.name for line in good)
                (good if current is not None and builds_on_good else bad).add(step.line)
                current = (step, step.line)
            elif step.keyword == "copy" and step.copy_from is not None:
                bad -= {line for line in bad if stages[line].base_image.alias == step.copy_from}
            elif step.keyword == "label" and current is not None and label in dict(_pairs(step)):
                image = current[0].base_image
                name = image.alias or image.name
                bad -= {line for line in bad if stages[line].base_image.alias == name}
                good.add(current[1])
                bad.discard(current[1])
        yield from sorted(bad)

    return check


def _is_url(value: str) -> bool:
    parsed = urlparse(value)
    return bool(parsed.scheme) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parsed.scheme) is not None


_VALIDATORS = {
    "url": _is_url,
    "hash": lambda v: re.fullmatch(r"[0-9a-f]{7}|[0-9a-f]{40}", v) is not None,
    "semver": lambda v: (
        re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?", v)
        is not None
    ),
    "rfc3339": lambda v: (
        re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", v) is not None
    ),
    "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) is not None,
}
_VALIDATOR_MESSAGES = {
    "url": ("DL3052", "Label `{label}` is not a valid URL."),
    "hash": ("DL3055", "Label `{label}` is not a valid git hash."),
    "semver": ("DL3056", "Label `{label}` does not conform to semantic versioning."),
    "rfc3339": ("DL3053", "Label `{label}` is not a valid time format - must conform to RFC3339."),
    "email": ("DL3058", "Label `{label}` is not a valid email format - must conform to RFC5322."),
}


def schema_rules(settings: LintSettings) -> list[Rule]:
    """The label rules for ``settings`` (none without a label schema)."""
    return _label_rules(settings)


@rule("DL3057", "ignore", "`HEALTHCHECK` instruction missing.")
def missing_healthcheck(steps: list[Step], settings: LintSettings) -> Iterator[int]:
    """Off unless raised by ``override``: stages without a HEALTHCHECK of their own or inherited."""
    stages: dict[int, tuple[str, str]] = {}  # FROM line → (image it builds on, its name)
    good: set[int] = set()
    bad: set[int] = set()
    current: int | None = None
    for step in steps:
        if step.keyword == "from":
            image = step.base_image
            stages[step.line] = (image.name, image.alias or image.name)
            builds_on_good = any(stages[line][1] == image.name for line in good)
            (good if current is not None and builds_on_good else bad).add(step.line)
            current = step.line
        elif step.keyword == "healthcheck" and current is not None:
            healed = {current}
            frontier = [current]
            # hadolint also counts the stages this one is built FROM (transitively) as checked.
            while frontier:
                parent_image = stages[frontier.pop()][0]
                parents = {line for line in bad - healed if stages[line][1] == parent_image}
                healed |= parents
                frontier.extend(parents)
            good |= healed
            bad -= healed
    yield from sorted(bad)
