"""``lamina db update``: download osv.dev's per-ecosystem ``all.zip`` files and import them.

The source is a base URL under which ``<Ecosystem>/all.zip`` lives (osv.dev's bucket layout, or
a mirror of it on an air-gapped network, or ``file://`` for a directory in that layout). Each
download streams into a temporary file beside the database, with a size cap, and is imported
as the source named by its URL, with the server's ``Last-Modified`` as how old it is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from lamina.security.vulndb.database import VulnDatabase
from lamina.security.vulndb.errors import VulnDBError
from lamina.security.vulndb.importer import ImportReport, import_path

DEFAULT_SOURCE = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_ECOSYSTEMS = ("Debian", "Alpine", "PyPI", "npm", "Go", "Maven", "RubyGems", "crates.io", "Packagist")
MAX_DOWNLOAD_BYTES = 4 << 30


def update(db: VulnDatabase, *, source: str = DEFAULT_SOURCE, ecosystems: Iterable[str] = DEFAULT_ECOSYSTEMS,
           on_progress: Callable[[str], None] | None = None) -> list[ImportReport]:
    """Download and import ``<source>/<Ecosystem>/all.zip`` for each ecosystem."""
    reports = []
    for ecosystem in ecosystems:
        url = f"{source.rstrip('/')}/{quote(ecosystem)}/all.zip"
        if on_progress:
            on_progress(f"downloading {url}")
        if urlparse(url).scheme == "file":
            local = Path(unquote(urlparse(url).path))
            reports.append(import_path(db, local, origin=url, name=f"OSV {ecosystem}"))
            continue
        with tempfile.TemporaryDirectory(dir=db.path.parent, prefix=".download-") as scratch:
            target = Path(scratch) / "all.zip"
            last_modified = _download(url, target)
            reports.append(import_path(db, target, origin=url, origin_modified=last_modified, name=f"OSV {ecosystem}"))
    return reports


def _download(url: str, target: Path) -> str:
    """Stream ``url`` into ``target``; the server's Last-Modified as RFC 3339 ("" if none)."""
    import httpx

    try:
        with httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise VulnDBError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            written = 0
            with open(target, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    written += len(chunk)
                    if written > MAX_DOWNLOAD_BYTES:
                        raise VulnDBError(f"{url}: larger than {MAX_DOWNLOAD_BYTES >> 30} GiB")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            return _rfc3339(response.headers.get("last-modified", ""))
    except httpx.HTTPError as error:
        raise VulnDBError(f"{url}: {error}") from None


def _rfc3339(http_date: str) -> str:
    if not http_date:
        return ""
    try:
        return parsedate_to_datetime(http_date).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return ""
