"""``bundle-index.json``: what the light path needs, without importing scripts or models.

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
DIALECTS = ("postgresql", "sqlite")


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
    from .facts import quoted, quoted_column

    registry = manifest.legacy_registry
    index = {
        "fingerprint": fingerprint(manifest.root),
        "heads": history.heads,
        "owner": history.owner,
        "down": history.down,
        "requires": history.requires,
        "tables": {name: sorted(names) for name, names in tables.items()},
        # the version tables (and the registry's) as each dialect's identifier preparer quotes
        # them, so the light path writes its SELECTs without importing SQLAlchemy
        "quoted": {
            dialect: {
                "version_table": quoted(manifest.version_table, dialect),
                "legacy_version_table": quoted(manifest.legacy_version_table, dialect),
                **(
                    {
                        "registry_table": quoted(registry.table, dialect),
                        "registry_name_column": quoted_column(registry.name_column, dialect),
                        "registry_version_column": quoted_column(registry.version_column, dialect),
                    }
                    if registry is not None
                    else {}
                ),
            }
            for dialect in DIALECTS
        },
    }
    path = manifest.root / INDEX_NAME
    path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_index(manifest: Manifest) -> tuple[History, dict[str, set[str]], dict] | None:
    """History, table names and quoted identifiers from a current index; None if absent/stale."""
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
        return history, tables, index["quoted"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
