"""core__media_entries.main_transcoding_progress; core tables settled after a registry walk

The progress of the default resolution's transcoding, beside the overall one. A plain ALTER TABLE
ADD COLUMN on every backend, so the column comes last, as in MediaGoblin's databases.

Also (ours, not MediaGoblin's): a database walked from 0.8.x by MediaGoblin's own registry
migrations (0.9.0's dbupdate) holds core tables that a fresh install does not: other
nullability, constraints and indexes named after renamed columns, no UNIQUE on
core__generic_model_reference(model_type, obj_pk) and core__collection_items(collection,
object_id), no index on core__collection_items(object_id). This is the first revision such a
database still runs, so it brings every core table to the current models (our own registry walk
already leaves them so: then nothing changes).

Revision ID: cc3651803714
Revises: 228916769bd2
"""

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "cc3651803714"
down_revision: str | Sequence[str] | None = "228916769bd2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = sa.inspect(op.get_bind()).get_columns("core__media_entries")
    if not any(c["name"] == "main_transcoding_progress" for c in columns):
        op.add_column(
            "core__media_entries",
            sa.Column("main_transcoding_progress", sa.Float(), nullable=True),
        )
    settle_core_tables()


def _core_models() -> sa.MetaData:
    path = Path(__file__).resolve().parents[2] / "models" / "core.py"
    spec = importlib.util.spec_from_file_location("_cc3651803714_core_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metadata = sa.MetaData()
    module.define(metadata)
    return metadata


def _pg_name(table: str, columns, suffix: str) -> str:
    # PostgreSQL's own name for an unnamed constraint, as a fresh install has it
    return f"{table}_{'_'.join(columns)}_{suffix}"


# Rows a stricter column cannot keep: filled as our registry steps fill them, or dropped.
_BEFORE_NOT_NULL = {
    ("core__users", "updated"): "UPDATE core__users SET updated = created WHERE updated IS NULL",
    ("core__media_entries", "updated"): (
        "UPDATE core__media_entries SET updated = created WHERE updated IS NULL"
    ),
    ("core__activities", "object_id"): "DELETE FROM core__activities WHERE object_id IS NULL",
}


def settle_core_tables() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    metadata = _core_models()
    for table in metadata.sorted_tables:
        inspector = sa.inspect(bind)
        if not inspector.has_table(table.name):
            continue
        live = {c["name"]: c for c in inspector.get_columns(table.name)}
        nullability = [
            c
            for c in table.columns
            if c.name in live and bool(live[c.name]["nullable"]) != bool(c.nullable)
        ]
        wanted_uniques = {
            tuple(col.name for col in u.columns)
            for u in table.constraints
            if isinstance(u, sa.UniqueConstraint)
        }
        wanted_uniques |= {(c.name,) for c in table.columns if c.unique}
        live_uniques = {
            tuple(u["column_names"]): u["name"]
            for u in inspector.get_unique_constraints(table.name)
        }
        wanted_indexes = {i.name: tuple(c.name for c in i.columns) for i in table.indexes}
        live_indexes = {
            i["name"]: tuple(i["column_names"])
            for i in inspector.get_indexes(table.name)
            if not i.get("duplicates_constraint")
        }
        for column in nullability:
            if not column.nullable and (table.name, column.name) in _BEFORE_NOT_NULL:
                op.execute(_BEFORE_NOT_NULL[(table.name, column.name)])
        if sqlite:
            # unnamed, one per column set: a registry walk can leave a named twin beside one,
            # which reflection folds away, so count SQLite's own UNIQUE indexes
            uniques = bind.exec_driver_sql(
                "SELECT count(*) FROM pragma_index_list(?) WHERE origin = 'u'", (table.name,)
            ).scalar()
            sql = bind.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
            ).scalar()
            uniques_off = (
                uniques != len(wanted_uniques)
                or set(live_uniques) != wanted_uniques
                or re.search(r"CONSTRAINT\s+\S+\s+UNIQUE", sql, re.IGNORECASE) is not None
            )
            if nullability or uniques_off:
                # one copy of the table, built from the models: nullability and unnamed UNIQUEs
                with op.batch_alter_table(table.name, copy_from=table, recreate="always"):
                    pass
                live_indexes = {
                    i["name"]: tuple(i["column_names"])
                    for i in sa.inspect(bind).get_indexes(table.name)
                }
        else:
            for column in nullability:
                op.alter_column(table.name, column.name, nullable=column.nullable)
            for cols in wanted_uniques:
                name = _pg_name(table.name, cols, "key")
                if cols not in live_uniques:
                    op.create_unique_constraint(name, table.name, list(cols))
                elif live_uniques[cols] != name:
                    op.execute(
                        f'ALTER TABLE "{table.name}" RENAME CONSTRAINT '
                        f'"{live_uniques[cols]}" TO "{name}"'
                    )
            for fk in inspector.get_foreign_keys(table.name):
                name = _pg_name(table.name, fk["constrained_columns"], "fkey")
                if fk["name"] != name:
                    op.execute(
                        f'ALTER TABLE "{table.name}" RENAME CONSTRAINT "{fk["name"]}" TO "{name}"'
                    )
        for name, cols in wanted_indexes.items():
            if live_indexes.get(name) == cols:
                continue
            for old, old_cols in live_indexes.items():
                if old_cols == cols and old not in wanted_indexes:
                    op.drop_index(old, table_name=table.name)
            op.create_index(name, table.name, list(cols))
    if not sqlite:
        _drop_key_sequences(bind)


# SQLAlchemy before 1.1 made the first integer, non-foreign-key column of a composite primary key
# SERIAL on PostgreSQL (openid__nonce.timestamp on installs made under MediaGoblin 0.8.x's pinned
# SQLAlchemy); no fresh install since 0.9.0 has such a default.
_KEY_SEQUENCES = """
SELECT t.relname, a.attname, pg_get_serial_sequence(quote_ident(t.relname), a.attname)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(k.conkey)
JOIN pg_attrdef d ON d.adrelid = t.oid AND d.adnum = a.attnum
WHERE k.contype = 'p' AND cardinality(k.conkey) > 1
  AND t.relnamespace = to_regnamespace(current_schema())
  AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'
"""


def _drop_key_sequences(bind: sa.Connection) -> None:
    for table, column, sequence in bind.execute(sa.text(_KEY_SEQUENCES)).all():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT')
        if sequence:
            op.execute(f"DROP SEQUENCE {sequence}")


def downgrade() -> None:
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_column("main_transcoding_progress")
