"""A Trivy vulnerability DB written from test records, so Trivy can judge the same advisories.

Trivy reads a BoltDB (``<cache>/db/trivy.db`` + ``metadata.json``): top-level buckets per
source (``debian 12``), nested buckets per package, keys per vulnerability ID, JSON values
(``{"FixedVersion": …}`` or ``{"Status": N}``), plus the ``data-source`` and ``vulnerability``
buckets. A 40-line Go program over Debian's packaged bbolt writes a nested JSON tree into one;
it is built once per machine into the test cache.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

# trivy-db's Status numbers (pkg/types/status.go)
STATUS_NUMBERS = {"affected": 2, "fixed": 3, "will_not_fix": 5, "fix_deferred": 6}

_WRITER_SOURCE = """
package main

import (
	"encoding/json"
	"os"

	bolt "go.etcd.io/bbolt"
)

// fill writes a JSON tree: an object is a bucket, a string is a value.
func fill(bucket *bolt.Bucket, tree map[string]json.RawMessage) error {
	for key, raw := range tree {
		var value string
		if json.Unmarshal(raw, &value) == nil {
			if err := bucket.Put([]byte(key), []byte(value)); err != nil {
				return err
			}
			continue
		}
		var nested map[string]json.RawMessage
		if err := json.Unmarshal(raw, &nested); err != nil {
			return err
		}
		child, err := bucket.CreateBucketIfNotExists([]byte(key))
		if err != nil {
			return err
		}
		if err := fill(child, nested); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	var tree map[string]map[string]json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&tree); err != nil {
		panic(err)
	}
	db, err := bolt.Open(os.Args[1], 0o644, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for name, content := range tree {
			bucket, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := fill(bucket, content); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
}
"""

_GOPATH = "/usr/share/gocode"


def _writer() -> Path:
    go = require_tool("go", "golang-go")
    if not Path(_GOPATH, "src", "go.etcd.io", "bbolt").is_dir():
        pytest.fail("Go's bbolt is missing: run 'make test' as root (it installs Debian's golang-github-coreos-bbolt-dev)")
    cache = Path(os.environ.get("LAMINA_TEST_CACHE", Path.home() / ".cache" / "lamina-tests")) / "trivy-db-writer"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / "boltwrite"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        source = cache / "main.go"
        if not binary.exists() or source.read_text() != _WRITER_SOURCE:
            source.write_text(_WRITER_SOURCE)
            env = {**os.environ, "GOPATH": _GOPATH, "GO111MODULE": "off", "GOCACHE": str(cache / "gocache"),
                   "GOFLAGS": ""}
            done = subprocess.run([go, "build", "-o", str(binary), str(source)], env=env, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 0:
                pytest.fail(f"building the Trivy DB writer failed: {done.stderr[-1500:]}")
    return binary


def write_trivy_db(tree: dict, cache_dir: Path) -> Path:
    """Write ``tree`` (bucket → package bucket → ID → value object) as Trivy's DB in ``cache_dir``."""
    db_dir = cache_dir / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    encoded = {bucket: _encode_leaves(content) for bucket, content in tree.items()}
    subprocess.run([str(_writer()), str(db_dir / "trivy.db")], input=json.dumps(encoded), text=True, check=True,
                   timeout=120)
    (db_dir / "metadata.json").write_text(json.dumps({
        "Version": 2, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": "2024-01-01T00:00:00Z",
        "DownloadedAt": "2024-01-01T00:00:00Z"}))
    return db_dir


def _encode_leaves(node: dict) -> dict:
    """Values (dicts under an ID key) become JSON strings; buckets stay objects."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict) and not value.get("__bucket__", True):
            out[key] = json.dumps({k: v for k, v in value.items() if k != "__bucket__"})
        elif isinstance(value, dict):
            out[key] = _encode_leaves(value)
        else:
            out[key] = value
    return out


def value(**fields) -> dict:
    """A leaf value of the tree (not a bucket)."""
    return {"__bucket__": False, **fields}
