"""Advisory sources for the vulnerability-database tests, made from the real samples in data/."""

from __future__ import annotations

import zipfile
from pathlib import Path

DATA = Path(__file__).parent / "data"
PYPI_RECORDS = DATA / "osv-pypi"  # pypa/advisory-database layout: <package>/PYSEC-*.yaml
GO_RECORDS = DATA / "osv-go"  # golang/vulndb's data/osv/GO-*.json
ALPINE_SECDB = DATA / "alpine-secdb-v3.11-main.yaml"


def all_zip(records: Path, out: Path) -> Path:
    """osv.dev's ``<Ecosystem>/all.zip`` layout: every record as ``<ID>.json`` at the top."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in sorted(records.glob("*.json")):
            archive.write(record, record.name)
    return out


def zip_bomb(out: Path, expanded_mib: int = 80) -> Path:
    """A zip whose one small member expands to ``expanded_mib`` MiB of zeros."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("GO-0000-0000.json", "w", force_zip64=True) as member:
        block = b"0" * (1 << 20)
        for _ in range(expanded_mib):
            member.write(block)
    return out
