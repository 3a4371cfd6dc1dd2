"""``bundle-index.json``: what a run needs before converging, without importing its scripts.

The index is trusted only while its fingerprint (a digest of every other file of the bundle)
matches, so an edited bundle is always read from its files again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .history import History
from .manifest import Manifest

INDEX_NAME = "bundle-index.json"


def fingerprint(root: Path) -> str:
    """A digest of every file of the bundle (the index itself and caches aside)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.name != INDEX_NAME
            and "__pycache__" not in path.parts
            and not path.name.endswith((".pyc", ".pyo"))
        ):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_index(manifest: Manifest, history: History, tables: dict[str, set[str]]) -> Path:
    index = {
        "fingerprint": fingerprint(manifest.root),
        "heads": history.heads,
        "owner": history.owner,
        "down": history.down,
        "requires": history.requires,
        "tables": {name: sorted(names) for name, names in tables.items()},
    }
    path = manifest.root / INDEX_NAME
    path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_index(manifest: Manifest) -> tuple[History, dict[str, set[str]]] | None:
    """History and table names from a current index; None if absent or stale."""
    try:
        index = json.loads((manifest.root / INDEX_NAME).read_text(encoding="utf-8"))
        if index.get("fingerprint") != fingerprint(manifest.root):
            return None
        history = History(
            heads={c: tuple(h) for c, h in index["heads"].items()},
            owner=index["owner"],
            down={r: tuple(d) for r, d in index["down"].items()},
            requires={r: tuple(d) for r, d in index["requires"].items()},
        )
        tables = {name: set(names) for name, names in index["tables"].items()}
        return history, tables
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
