"""Secret scanning: credentials left in an image's files or its config, named with Trivy's rule IDs.

``scan_image_secrets(image)`` reads every layer once and returns one ``SecretFile`` per file (and
one for the config) with its ``SecretFinding``s; nothing in them repeats a secret in full.
"""

from __future__ import annotations

from lamina.security.secrets.layers import SecretFile, scan_config_secrets, scan_image_secrets
from lamina.security.secrets.scanner import SecretFinding

__all__ = ["SecretFile", "SecretFinding", "scan_config_secrets", "scan_image_secrets"]
