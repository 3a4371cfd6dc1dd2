"""The version facts of a database: its table names, Alembic's rows, the legacy rows.

Read on the bare driver, before any of the migration machinery is loaded and again inside the
migration's own transaction; a malformed row or table is refused (65).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .backends.base import closing_cursor
from .errors import StateRefused
from .manifest import Manifest, TableName

if TYPE_CHECKING:
    from .backends import Backend

VERSION_COLUMNS = ("version_num",)
LEGACY_COLUMNS = ("repository_id", "version")


@dataclass(frozen=True)
class VersionFacts:
    tables: frozenset[str]
    rows: tuple[str, ...]  # Alembic's version_num values
    legacy: tuple[tuple[str, int], ...]  # sqlalchemy-migrate's (repository_id, version)
    registry: tuple[tuple[str, int], ...] = ()  # the app's own registry (name, version)


def checked(
    manifest: Manifest, tables: frozenset[str], rows: list[Any], legacy: list[Any]
) -> VersionFacts:
    """Refuse version rows no migration tool could have written (65)."""
    for row in rows:
        if not isinstance(row, str) or not row.strip():
            raise StateRefused(
                f"{manifest.version_table} holds a malformed version_num {row!r}",
                table=str(manifest.version_table),
            )
    pairs = []
    for repository_id, version in legacy:
        try:
            number = int(version)
        except (TypeError, ValueError):
            number = None
        if repository_id is None or number is None or isinstance(version, float | bool):
            raise StateRefused(
                f"{manifest.legacy_version_table} holds a malformed row "
                f"(repository_id {repository_id!r}, version {version!r})",
                table=str(manifest.legacy_version_table),
            )
        pairs.append((str(repository_id), number))
    return VersionFacts(tables, tuple(rows), tuple(pairs))


def read_facts(backend: Backend, connection: Any, manifest: Manifest) -> VersionFacts:
    """Table names, then each version table after checking its shape, on the bare driver
    (``connection`` is a DB-API connection; the caller owns its transaction)."""
    with closing_cursor(connection) as cursor:
        tables = frozenset(backend.table_names(cursor))

        def select(table: TableName, columns: tuple[str, ...]) -> list[tuple]:
            if table.schema is None and table.name not in tables:
                return []
            present = backend.columns(cursor, table)
            if present is None:
                return []
            missing = [c for c in columns if c not in present]
            if missing:
                raise StateRefused(
                    f"version table {table} has the wrong shape: no column(s) {', '.join(missing)}",
                    table=str(table),
                )
            names = ", ".join(backend.quote(c) for c in columns)
            cursor.execute(f"SELECT {names} FROM {backend.qualified(table)}")
            return [tuple(r) for r in cursor.fetchall()]

        rows = [r[0] for r in select(manifest.version_table, VERSION_COLUMNS)]
        legacy = (
            select(manifest.legacy_version_table, LEGACY_COLUMNS)
            if manifest.legacy_components
            else []
        )
        spec = manifest.legacy_registry
        registry = (
            [] if spec is None else select(spec.table, (spec.name_column, spec.version_column))
        )
    for name, version in registry:
        if not isinstance(name, str) or isinstance(version, bool) or not isinstance(version, int):
            raise StateRefused(
                f"legacy registry {spec.table} holds a malformed row ({name!r}, {version!r})",
                table=str(spec.table),
            )
    facts = checked(manifest, tables, rows, legacy)
    return dataclasses.replace(facts, registry=tuple(registry))
