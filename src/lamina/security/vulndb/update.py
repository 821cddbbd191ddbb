"""``lamina db update``: download osv.dev's per-ecosystem ``all.zip`` files and import them.

The source is a base URL under which ``<Ecosystem>/all.zip`` lives (osv.dev's bucket layout, or
a mirror of it on an air-gapped network, or ``file://`` for a directory in that layout). Each
download streams into a temporary file beside the database, with a size cap, and is imported
as the source named by its URL, with the server's ``Last-Modified`` as how old it is. The next
update asks conditionally (``If-None-Match``/``If-Modified-Since``): a source the server says is
unchanged is neither downloaded nor imported again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from lamina.security.vulndb.database import SourceInfo, VulnDatabase
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
        previous = db.source(url)
        with tempfile.TemporaryDirectory(dir=db.path.parent, prefix=".download-") as scratch:
            target = Path(scratch) / "all.zip"
            downloaded = _download(url, target, previous)
            if downloaded is None and previous is not None:
                reports.append(ImportReport(origin=url, kind=previous.kind, advisories=previous.advisories,
                                            skipped=previous.skipped, warnings=[], unchanged=True))
                continue
            last_modified, etag = downloaded or ("", "")
            reports.append(import_path(db, target, origin=url, origin_modified=last_modified, etag=etag,
                                       name=f"OSV {ecosystem}"))
    return reports


def _download(url: str, target: Path, previous: SourceInfo | None) -> tuple[str, str] | None:
    """Stream ``url`` into ``target``: ``(Last-Modified as RFC 3339, ETag)``, None when unchanged."""
    import httpx

    headers = {}
    if previous is not None and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous is not None and _http_date(previous.origin_modified):
        headers["If-Modified-Since"] = _http_date(previous.origin_modified)
    try:
        with httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True) as client, \
                client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304 and headers:
                return None
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
            return _rfc3339(response.headers.get("last-modified", "")), response.headers.get("etag", "")
    except httpx.HTTPError as error:
        raise VulnDBError(f"{url}: {error}") from None


def _http_date(rfc3339: str) -> str:
    try:
        moment = datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return ""
    return format_datetime(moment, usegmt=True)


def _rfc3339(http_date: str) -> str:
    if not http_date:
        return ""
    try:
        return parsedate_to_datetime(http_date).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return ""
