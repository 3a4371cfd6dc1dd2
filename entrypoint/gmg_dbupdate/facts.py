"""The version facts of a database: its table names, Alembic's rows, the legacy rows.

Read on the full path through SQLAlchemy (identifiers quoted by the dialect, table shapes
checked) and on the light path through the bare driver; both hand their rows to ``checked``,
so a malformed row is refused (65) the same way on either path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import StateRefused
from .manifest import Manifest, TableName

if TYPE_CHECKING:
    from sqlalchemy import Connection

VERSION_COLUMNS = ("version_num",)
LEGACY_COLUMNS = ("repository_id", "version")


@dataclass(frozen=True)
class VersionFacts:
    tables: frozenset[str]
    rows: tuple[str, ...]  # Alembic's version_num values
    legacy: tuple[tuple[str, int], ...]  # sqlalchemy-migrate's (repository_id, version)
    registry: tuple[tuple[str, int], ...] = ()  # the app's own registry (name, version)


def _preparer(dialect_name: str):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = {"postgresql": postgresql.dialect, "sqlite": sqlite.dialect}[dialect_name]()
    return dialect.identifier_preparer


def quoted(table: TableName, dialect_name: str) -> str:
    """``table`` as the dialect's identifier preparer writes it in SQL."""
    import sqlalchemy as sa

    return _preparer(dialect_name).format_table(sa.table(table.name, schema=table.schema))


def quoted_column(name: str, dialect_name: str) -> str:
    """A column name as the dialect's identifier preparer writes it in SQL."""
    return _preparer(dialect_name).quote(name)


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


def read_facts(connection: Connection, manifest: Manifest) -> VersionFacts:
    """The full path's read: table names, then each version table after checking its shape."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    tables = frozenset(inspector.get_table_names())

    def select(table: TableName, columns: tuple[str, ...]) -> list[tuple]:
        if not inspector.has_table(table.name, schema=table.schema):
            return []
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        missing = [c for c in columns if c not in present]
        if missing:
            raise StateRefused(
                f"version table {table} has the wrong shape: no column(s) {', '.join(missing)}",
                table=str(table),
            )
        statement = sa.select(*(sa.column(c) for c in columns)).select_from(
            sa.table(table.name, schema=table.schema)
        )
        return [tuple(r) for r in connection.execute(statement)]

    rows = [r[0] for r in select(manifest.version_table, VERSION_COLUMNS)]
    legacy = (
        select(manifest.legacy_version_table, LEGACY_COLUMNS) if manifest.legacy_components else []
    )
    from . import registry

    facts = checked(manifest, tables, rows, legacy)
    return dataclasses.replace(facts, registry=tuple(registry.read_rows(connection, manifest)))
