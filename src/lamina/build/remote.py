"""``ADD <url>``: download a file for the build, as the classic builder does.

The file is named after the last path segment of the URL, gets mode 0600 and the
``Last-Modified`` time (the Unix epoch when the server sends none), and is never unpacked.
``--checksum=sha256:…`` is verified before the file is used.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lamina.errors import BuildError

_CHUNK = 1 << 20


def download(url: str, directory: Path, *, checksum: str | None = None, timeout: float = 60) -> str:
    """Fetch ``url`` into ``directory``; returns the file name."""
    import httpx

    name = url_file_name(url)
    path = directory / name
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            if response.status_code >= 400:
                raise BuildError(f"failed to GET {url} with status {response.status_code} {response.reason_phrase}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            last_modified = response.headers.get("Last-Modified")
    except httpx.HTTPError as exc:
        raise BuildError(f"failed to GET {url}: {exc}") from None
    if checksum is not None:
        expected = checksum if ":" in checksum else "sha256:" + checksum
        actual = "sha256:" + digest.hexdigest()
        if not expected.startswith("sha256:"):
            raise BuildError(f"unsupported checksum algorithm in {checksum!r}: only sha256 is supported")
        if actual != expected.lower():
            raise BuildError(f"digest mismatch for {url}: expected {expected}, got {actual}")
    mtime = _http_time(last_modified)
    os.utime(path, (mtime, mtime))
    return name


def url_file_name(url: str) -> str:
    """The file name ADD gives a download: the URL path's last segment."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    if name in ("", ".", ".."):
        raise BuildError(f"cannot determine filename from url: {url}")
    return name


def _http_time(value: str | None) -> int:
    if not value:
        return 0
    from email.utils import parsedate_to_datetime  # ~10 ms to import; only ADD <url> needs it

    try:
        return max(0, int(parsedate_to_datetime(value).timestamp()))
    except (TypeError, ValueError):
        return 0
