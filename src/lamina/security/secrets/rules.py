"""The secret rules: what a leaked credential looks like, named and graded as Trivy names them.

Rule IDs, categories, titles and severities are Trivy's built-in ones, so a report, an ignore
file or a policy written for Trivy's findings applies to lamina's unchanged. Patterns work on
bytes (files are never decoded) and are compiled once per process.

A rule either reports its whole match, or only the named group ``secret`` (the credential
without the ``KEY=`` around it); allow rules drop matches that are documentation examples, and
path allow rules drop files that are known to hold look-alikes (test data, system docs, vendored
sources).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Building blocks shared by many rules (the shapes Trivy's patterns are made of).
_QUOTE = rb"[\"']?"
_CONNECT = rb"\s*(?::|=>|=)?\s*"
_END_SECRET = rb"[.,]?(?:\s+|$)"
_NOT_WORD_BEFORE = rb"(?:[^0-9a-zA-Z_]|^)"
_NOT_WORD_AFTER = rb"(?:[^0-9a-zA-Z_]|$)"
# "<service>[_ .-]{0,25}<assign> up to 5 chars '<secret>'": keys named after the service.
_ASSIGN = rb"(?:=|>|:=|\|\|:|<=|=>|:).{0,5}[\"']"


class RulePattern:
    """A rule's pattern, run by RE2 when google-re2 is installed, else by Python's ``re``.

    RE2 is what Trivy's Go regexp is: linear time whatever the input (Python's backtracking
    engine is quadratic on, say, a file of ``-----BEGIN PRIVATE KEY-----`` lines with no END),
    and the same ``$`` and leftmost-first semantics. Both engines take these patterns.
    """

    def __init__(self, source: bytes, flags: int = 0) -> None:
        self.source, self.flags = source, flags
        self._python = re.compile(source, flags)
        self._secret_group = self._python.groupindex.get("secret", 0)
        self._re2 = _re2_compile(b"(?i)" + source if flags & re.IGNORECASE else source)

    def spans(self, content: bytes):
        """(whole match start, end, secret start, secret end) of every match, left to right."""
        engine = self._re2 if self._re2 is not None else self._python
        group = self._secret_group
        for found in engine.finditer(content):
            start, end = found.span(0)
            secret_start, secret_end = found.span(group) if group else (start, end)
            yield start, end, secret_start, secret_end

    def search(self, content: bytes) -> bool:
        engine = self._re2 if self._re2 is not None else self._python
        return engine.search(content) is not None


def _re2_compile(source: bytes):
    try:
        import re2
    except ImportError:
        return None
    try:
        return re2.compile(source)
    except Exception:  # noqa: BLE001 - a pattern RE2 cannot take runs in Python's engine
        return None


@dataclass(frozen=True)
class SecretRule:
    """One kind of credential."""

    id: str
    category: str
    title: str
    severity: str
    pattern: RulePattern
    keywords: tuple[bytes, ...]  # lower-case; the file must contain one before the pattern runs
    reports_group: bool = False  # True: report the ``secret`` group, not the whole match
    allow_matches: tuple[re.Pattern[bytes], ...] = field(default=())
    # lower-case literals the pattern cannot match without: a cheap test before a slow pattern runs
    required: tuple[bytes, ...] = ()
    # a pattern the content must contain (case as is) before the rule's pattern runs: the token
    # alone, without the word-boundary group that stops Python's regex engine from skipping ahead
    gate: RulePattern | None = None


@dataclass(frozen=True)
class AllowRule:
    """Trivy's built-in allow rule: skip files by path, or matches by their text."""

    id: str
    path: re.Pattern[str] | None = None
    match: re.Pattern[bytes] | None = None


def _rule(rule_id: str, category: str, title: str, severity: str, pattern: bytes,
          keywords: tuple[str, ...], *, group: bool = False, flags: int = 0,
          allow: tuple[bytes, ...] = (), required: tuple[bytes, ...] = (), gate: bytes | None = None) -> SecretRule:
    return SecretRule(rule_id, category, title, severity, RulePattern(pattern, flags),
                      tuple(word.lower().encode() for word in keywords), group,
                      tuple(re.compile(text) for text in allow), required,
                      RulePattern(gate) if gate is not None else None)


def _prefixed(rule_id: str, category: str, title: str, severity: str, body: bytes,
              keywords: tuple[str, ...], *, after: bytes = b"") -> SecretRule:
    """A token with a fixed prefix, not glued to a word before it (``ghp_…``, ``glpat-…``)."""
    return _rule(rule_id, category, title, severity,
                 _NOT_WORD_BEFORE + b"(?P<secret>" + body + b")" + after, keywords, group=True, gate=body)


def _keyed(rule_id: str, service: str, category: str, title: str, severity: str, value: bytes) -> SecretRule:
    """A value assigned to a key that names the service (``twitter_api = "…"``), case-insensitive."""
    pattern = b"(?i)(?P<key>" + service.encode() + rb"[a-z0-9_ .\-,]{0,25})" + _ASSIGN \
        + b"(?P<secret>" + value + b")[\"']"
    return _rule(rule_id, category, title, severity, pattern, (service,), group=True)


_UUID_HEX_AH = rb"[a-h0-9]{8}-[a-h0-9]{4}-[a-h0-9]{4}-[a-h0-9]{4}-[a-h0-9]{12}"

RULES: tuple[SecretRule, ...] = (
    _rule("aws-access-key-id", "AWS", "AWS Access Key ID", "CRITICAL",
          _NOT_WORD_BEFORE + rb"(?P<secret>(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16})"
          + _QUOTE + _END_SECRET,
          ("AKIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA"), group=True,
          gate=rb"(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}"),
    _rule("aws-secret-access-key", "AWS", "AWS Secret Access Key", "CRITICAL",
          _QUOTE + rb"aws_?(?:sec(?:ret)?)?_?(?:access)?_?key" + _QUOTE + _CONNECT + _QUOTE
          + rb"(?P<secret>[A-Za-z0-9/+=]{40})" + _QUOTE + _END_SECRET,
          ("key",), group=True, flags=re.IGNORECASE, required=(b"aws",), gate=rb"[A-Za-z0-9/+=]{40}"),
    _prefixed("github-pat", "GitHub", "GitHub Personal Access Token", "CRITICAL", rb"ghp_[0-9a-zA-Z]{36}", ("ghp_",)),
    _prefixed("github-oauth", "GitHub", "GitHub OAuth Access Token", "CRITICAL", rb"gho_[0-9a-zA-Z]{36}", ("gho_",)),
    _prefixed("github-app-token", "GitHub", "GitHub App Token", "CRITICAL",
              rb"(?:ghu_[0-9a-zA-Z]{36}|ghs_[0-9a-zA-Z._-]{36,})", ("ghu_", "ghs_")),
    _prefixed("github-refresh-token", "GitHub", "GitHub Refresh Token", "CRITICAL", rb"ghr_[0-9a-zA-Z]{76}", ("ghr_",)),
    _rule("github-fine-grained-pat", "GitHub", "GitHub Fine-grained personal access tokens", "CRITICAL",
          rb"github_pat_[a-zA-Z0-9]{22}_[a-zA-Z0-9]{59}", ("github_pat_",)),
    _prefixed("gitlab-pat", "GitLab", "GitLab Personal Access Token", "CRITICAL", rb"glpat-[0-9a-zA-Z_\-]{20}", ("glpat-",)),
    _prefixed("hugging-face-access-token", "HuggingFace", "Hugging Face Access Token", "CRITICAL",
              rb"hf_[A-Za-z0-9]{34,40}", ("hf_",), after=_NOT_WORD_AFTER),
    _rule("private-key", "AsymmetricPrivateKey", "Asymmetric Private Key", "HIGH",
          rb"(?i)-----\s*?BEGIN[ A-Z0-9_-]*?PRIVATE KEY(?: BLOCK)?\s*?-----[\s]*?"
          rb"(?P<secret>[A-Za-z0-9=+/\\][A-Za-z0-9=+/\\\s]{30,}[A-Za-z0-9=+/\\])[\s]*?"
          rb"-----\s*?END[ A-Z0-9_-]*? PRIVATE KEY(?: BLOCK)?\s*?-----", ("-----",), group=True),
    _rule("shopify-token", "Shopify", "Shopify token", "HIGH", rb"shp(?:ss|at|ca|pa)_[a-fA-F0-9]{32}",
          ("shpss_", "shpat_", "shpca_", "shppa_")),
    _prefixed("slack-access-token", "Slack", "Slack token", "HIGH", rb"xox[baprs]-(?:[0-9a-zA-Z]{10,48})",
              ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-")),
    _prefixed("stripe-publishable-token", "Stripe", "Stripe Publishable Key", "LOW",
              rb"(?i:pk_(?:test|live)_[0-9a-z]{10,32})", ("pk_test_", "pk_live_")),
    _prefixed("stripe-secret-token", "Stripe", "Stripe Secret Key", "CRITICAL",
              rb"(?i:sk_(?:test|live)_[0-9a-z]{10,32})", ("sk_test_", "sk_live_")),
    _rule("pypi-upload-token", "PyPI", "PyPI upload token", "HIGH", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9\-_]{50,1000}",
          ("pypi-AgEIcHlwaS5vcmc",)),
    _rule("gcp-service-account", "Google", "Google (GCP) Service-account", "CRITICAL",
          rb"\"type\": \"service_account\"", ('"type": "service_account"',)),
    _rule("heroku-api-key", "Heroku", "Heroku API Key", "HIGH",
          rb" (?i:(?P<key>heroku[a-z0-9_ .\-,]{0,25})" + _ASSIGN
          + rb"(?P<secret>[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})[\"'])",
          ("heroku",), group=True),
    _rule("slack-web-hook", "Slack", "Slack Webhook", "MEDIUM",
          rb"https://hooks.slack.com/services/[A-Za-z0-9+/]{44,48}", ("hooks.slack.com",)),
    _rule("twilio-api-key", "Twilio", "Twilio API Key", "MEDIUM", rb"SK[0-9a-fA-F]{32}", ("SK",)),
    _rule("age-secret-key", "Age", "Age secret key", "MEDIUM",
          rb"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", ("AGE-SECRET-KEY-1",)),
    _keyed("facebook-token", "facebook", "Facebook", "Facebook token", "LOW", rb"[a-f0-9]{32}"),
    _keyed("twitter-token", "twitter", "Twitter", "Twitter token", "LOW", rb"[a-f0-9]{35,44}"),
    _keyed("adobe-client-id", "adobe", "Adobe", "Adobe Client ID (Oauth Web)", "LOW", rb"[a-f0-9]{32}"),
    _rule("adobe-client-secret", "Adobe", "Adobe Client Secret", "LOW", rb"p8e-(?i:[a-z0-9]{32})", ("p8e-",)),
    _rule("alibaba-access-key-id", "Alibaba", "Alibaba AccessKey ID", "HIGH",
          rb"(?:[^0-9A-Za-z]|^)(?P<secret>LTAI(?i:[a-z0-9]{20}))(?:[^0-9A-Za-z]|$)", ("LTAI",), group=True),
    _keyed("alibaba-secret-key", "alibaba", "Alibaba", "Alibaba Secret Key", "HIGH", rb"[a-z0-9]{30}"),
    _keyed("asana-client-id", "asana", "Asana", "Asana Client ID", "MEDIUM", rb"[0-9]{16}"),
    _keyed("asana-client-secret", "asana", "Asana", "Asana Client Secret", "MEDIUM", rb"[a-z0-9]{32}"),
    _keyed("atlassian-api-token", "atlassian", "Atlassian", "Atlassian API token", "HIGH", rb"[a-z0-9]{24}"),
    _keyed("bitbucket-client-id", "bitbucket", "Bitbucket", "Bitbucket client ID", "HIGH", rb"[a-z0-9]{32}"),
    _keyed("bitbucket-client-secret", "bitbucket", "Bitbucket", "Bitbucket client secret", "HIGH", rb"[a-z0-9_\-]{64}"),
    _rule("databricks-api-token", "Databricks", "Databricks API token", "MEDIUM", rb"dapi[a-h0-9]{32}", ("dapi",)),
    _keyed("discord-api-token", "discord", "Discord", "Discord API key", "MEDIUM", rb"[a-h0-9]{64}"),
    _keyed("discord-client-id", "discord", "Discord", "Discord client ID", "MEDIUM", rb"[0-9]{18}"),
    _keyed("discord-client-secret", "discord", "Discord", "Discord client secret", "MEDIUM", rb"[a-z0-9=_\-]{32}"),
    _rule("doppler-api-token", "Doppler", "Doppler API token", "MEDIUM", rb"[\"']dp\.pt\.(?i:[a-z0-9]{43})[\"']",
          ("dp.pt.",)),
    _keyed("fastly-api-token", "fastly", "Fastly", "Fastly API token", "MEDIUM", rb"[a-z0-9\-=_]{32}"),
    _rule("grafana-api-token", "Grafana", "Grafana API token", "MEDIUM",
          rb"[\"']?eyJrIjoi(?i:[a-z0-9\-_=]{72,92})[\"']?", ("eyJrIjoi",)),
    _rule("jwt-token", "JWT", "JWT token", "MEDIUM",
          rb"(?:ghs_[0-9]+_)?(?P<secret>ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?)",
          (".eyJ",), group=True, allow=(rb"^ghs_",)),
    _rule("linear-api-token", "Linear", "Linear API token", "MEDIUM", rb"lin_api_(?i:[a-z0-9]{40})", ("lin_api_",)),
    _keyed("mailgun-token", "mailgun", "Mailgun", "Mailgun private API token", "MEDIUM", rb"(?:pub)?key-[a-f0-9]{32}"),
    _keyed("messagebird-client-id", "messagebird", "MessageBird", "MessageBird API client ID", "MEDIUM", _UUID_HEX_AH),
    _rule("new-relic-user-api-key", "NewRelic", "New Relic user API Key", "MEDIUM", rb"[\"'](NRAK-[A-Z0-9]{27})[\"']",
          ("NRAK-",)),
    _rule("npm-access-token", "Npm", "npm access token", "CRITICAL", rb"[\"'](npm_(?i:[a-z0-9]{36}))[\"']", ("npm_",)),
    _rule("planetscale-password", "Planetscale", "PlanetScale password", "MEDIUM",
          rb"pscale_pw_(?i:[a-z0-9\-_.]{43})", ("pscale_pw_",)),
    _rule("postman-api-token", "Postman", "Postman API token", "MEDIUM", rb"PMAK-(?i:[a-f0-9]{24}-[a-f0-9]{34})",
          ("PMAK-",)),
    _rule("pulumi-api-token", "Pulumi", "Pulumi API token", "HIGH", rb"pul-[a-f0-9]{40}", ("pul-",)),
    _rule("rubygems-api-token", "RubyGems", "Rubygem API token", "MEDIUM", rb"rubygems_[a-f0-9]{48}", ("rubygems_",)),
    _rule("sendgrid-api-token", "SendGrid", "SendGrid API token", "MEDIUM", rb"SG\.(?i:[a-z0-9_\-.]{66})", ("SG.",)),
    _rule("sendinblue-api-token", "Sendinblue", "Sendinblue API token", "LOW",
          rb"xkeysib-[a-f0-9]{64}-(?i:[a-z0-9]{16})", ("xkeysib-",)),
    _rule("shippo-api-token", "Shippo", "Shippo API token", "LOW", rb"shippo_(?:live|test)_[a-f0-9]{40}",
          ("shippo_live_", "shippo_test_")),
    _rule("dockerconfig-secret", "Docker", "Dockerconfig secret exposed", "HIGH",
          rb"(?i)(\.(?:dockerconfigjson|dockercfg):\s*\|*\s*(?P<secret>(?:ey|ew)+[A-Za-z0-9/+=]+))",
          ("dockerc",), group=True),
    _rule("symfony-default-secret", "Symfony", "Symfony Default Secret", "HIGH",
          rb"ThisTokenIsNotSoSecretChangeIt|ThisEzPlatformTokenIsNotSoSecret_PleaseChangeIt", ("TokenIsNotSoSecret",)),
    _rule("azure-storage-account-key", "Azure", "Azure Storage Account Key", "CRITICAL",
          rb"(?i)AccountKey\s*=\s*(?P<secret>[A-Za-z0-9+/]{86}==)", ("AccountKey",), group=True),
    _prefixed("openai-project-api-key", "OpenAI", "OpenAI Project API Key", "CRITICAL",
              rb"sk-proj-[A-Za-z0-9_-]{20,100}T3BlbkFJ[A-Za-z0-9_-]{20,100}", ("T3BlbkFJ",)),
    _prefixed("openai-legacy-api-key", "OpenAI", "OpenAI Legacy User API Key", "HIGH",
              rb"sk-(?:None-)?[A-Za-z0-9]{20,42}T3BlbkFJ[A-Za-z0-9]{20,42}", ("T3BlbkFJ",)),
)

ALLOW_RULES: tuple[AllowRule, ...] = (
    AllowRule("dist-info", path=re.compile(r"\.dist-info/")),
    AllowRule("tests", path=re.compile(r"(?:^(?i:test)|/test|-test|_test|\.test)")),
    AllowRule("examples", path=re.compile(r"example"), match=re.compile(rb"(?i)example")),
    AllowRule("vendor", path=re.compile(r"/vendor/")),
    AllowRule("usr-dirs", path=re.compile(r"^usr/(?:share|include|lib)/")),
    AllowRule("locale-dir", path=re.compile(r"/locales?/")),
    AllowRule("markdown", path=re.compile(r"\.md$")),
    AllowRule("node.js", path=re.compile(r"^opt/yarn-v[\d.]+/")),
    AllowRule("golang", path=re.compile(r"^usr/local/go/")),
    AllowRule("python", path=re.compile(r"^usr/local/lib/python[\d.]+/")),
    AllowRule("rubygems", path=re.compile(r"^usr/lib/gems/")),
    AllowRule("wordpress", path=re.compile(r"^usr/src/wordpress/")),
    AllowRule("anaconda-log", path=re.compile(r"^var/log/anaconda/")),
)

# Trivy's default skip patterns: directories and files that hold no secrets of the image's own.
_SKIPPED_DIRS = frozenset({".git", "node_modules"})
_SKIPPED_NAMES = frozenset({"go.mod", "go.sum", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
                            "Pipfile.lock", "Gemfile.lock"})
_SKIPPED_SUFFIXES = (".jpg", ".png", ".gif", ".doc", ".pdf", ".bin", ".svg", ".socket", ".deb", ".rpm",
                     ".zip", ".gz", ".gzip", ".tar")


def is_skipped(path: str) -> bool:
    """True for a path (relative, no leading ``/``) that is never read: lock files, media, VCS dirs."""
    directories, _, name = path.rpartition("/")
    if name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES):
        return True
    return bool(directories) and not _SKIPPED_DIRS.isdisjoint(directories.split("/"))


def is_allowed_path(path: str) -> bool:
    """True for a path (relative, no leading ``/``) an allow rule exempts from scanning."""
    return any(rule.path is not None and rule.path.search(path) for rule in ALLOW_RULES)


def is_allowed_match(text: bytes) -> bool:
    """True for a matched text a global allow rule exempts (documentation examples)."""
    return any(rule.match is not None and rule.match.search(text) for rule in ALLOW_RULES)
