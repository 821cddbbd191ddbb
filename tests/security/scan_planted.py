"""Real-looking credentials of each rule type, made up deterministically (none was ever valid).

Each entry is a line a person might leave in a file; the tests plant them in image files and in
the image config and compare what lamina and Trivy report about the same archive.
"""

from __future__ import annotations

import random
import string

_random = random.Random(14)


def _pick(alphabet: str, count: int) -> str:
    return "".join(_random.choice(alphabet) for _ in range(count))


_UPPER_DIGITS = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_LOWER_ALNUM = string.ascii_lowercase + string.digits

GITHUB_PAT = "ghp_" + _pick(_ALNUM, 36)
AWS_KEY_ID = "AKIA" + _pick(_UPPER_DIGITS, 16)
AWS_SECRET = _pick(_ALNUM + "/+", 40)

LINES: dict[str, str] = {
    "aws-access-key-id": f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}",
    "aws-secret-access-key": f'aws_secret_access_key = "{AWS_SECRET}"',
    "github-pat": f"token: {GITHUB_PAT}",
    "github-oauth": "oauth=gho_" + _pick(_ALNUM, 36),
    "github-app-token": "APP_TOKEN=ghu_" + _pick(_ALNUM, 36),
    "github-refresh-token": "refresh ghr_" + _pick(_ALNUM, 76),
    "github-fine-grained-pat": "github_pat_" + _pick(_ALNUM, 22) + "_" + _pick(_ALNUM, 59),
    "gitlab-pat": "GITLAB_TOKEN=glpat-" + _pick(_ALNUM, 20),
    "hugging-face-access-token": "HF_TOKEN=hf_" + _pick(_ALNUM, 36),
    "shopify-token": "shpat_" + _pick(_HEX, 32),
    "slack-access-token": "SLACK=xoxb-" + _pick(_ALNUM, 24),
    "stripe-secret-token": "stripe: sk_live_" + _pick(_LOWER_ALNUM, 24),
    "stripe-publishable-token": "publishable: pk_live_" + _pick(_LOWER_ALNUM, 24),
    "pypi-upload-token": "password = pypi-AgEIcHlwaS5vcmc" + _pick(_ALNUM + "-_", 70),
    "slack-web-hook": "curl -X POST https://hooks.slack.com/services/" + _pick(_ALNUM, 44),
    "age-secret-key": "AGE-SECRET-KEY-1" + _pick("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    "twitter-token": 'twitter_api_secret = "' + _pick(_HEX, 40) + '"',
    "databricks-api-token": "DATABRICKS=dapi" + _pick("abcdefgh0123456789", 32),
    "npm-access-token": '//registry/:_authToken="npm_' + _pick(_ALNUM, 36) + '"',
    "sendgrid-api-token": "SG." + _pick(_ALNUM, 22) + "." + _pick(_ALNUM, 43),
    "pulumi-api-token": "PULUMI_ACCESS_TOKEN=pul-" + _pick(_HEX, 40),
    "jwt-token": "Authorization: Bearer eyJ" + _pick(_ALNUM, 30) + ".eyJ" + _pick(_ALNUM, 40) + "." + _pick(_ALNUM, 43),
    "linear-api-token": "lin_api_" + _pick(_ALNUM, 40),
}

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + "\n".join(_pick(_ALNUM + "+/", 70) for _ in range(5))
    + "\n-----END OPENSSH PRIVATE KEY-----\n"
)

GCP_SERVICE_ACCOUNT = '{\n  "type": "service_account",\n  "project_id": "billing-prod"\n}\n'
