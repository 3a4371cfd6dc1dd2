"""Schema operations shared by the registry migrations (sealed runtime: SQLAlchemy 1.4).

Written for this bundle. Every helper takes the migration's Connection, already inside the
transaction that also moves the registry row, and never commits.

PostgreSQL: columns are created, renamed, dropped and altered through sqlalchemy-migrate's
changeset API (``Column.create``, ``Column.alter``, ``Column.drop``); constraints get the names
PostgreSQL itself gives to a freshly created table (``<table>_<cols>_key``, ``_fkey``,
``ix_<table>_<col>``), and a column rename renames the constraints and indexes named after the
old column, so an upgraded database carries the same names as a fresh install.

SQLite: columns are added with ``ALTER TABLE ADD COLUMN`` and renamed with ``RENAME COLUMN``;
anything else (drop, nullability, a new UNIQUE) rebuilds the table: new table, copy, drop,
rename, indexes recreated. Constraints stay unnamed there, as SQLAlchemy creates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import migrate.changeset  # noqa: F401  (installs Column.create / alter / drop)
import sqlalchemy as sa


@dataclass
class Add:
    """A column to add: ``fk`` is ``"table.column"``; ``unique`` adds a one-column UNIQUE."""

    name: str
    type_: object
    fk: str | None = None
    unique: bool = False
    nullable: bool = True


@dataclass
class Change:
    """One ALTER of a table; applied in the order add, rename, drop, nullability, unique, index."""

    add: list = field(default_factory=list)
    rename: dict = field(default_factory=dict)
    drop: list = field(default_factory=list)
    not_null: list = field(default_factory=list)
    nullable: list = field(default_factory=list)
    unique: list = field(default_factory=list)  # tuples of column names
    index: list = field(default_factory=list)  # column names: ix_<table>_<col>


def is_sqlite(conn) -> bool:
    return conn.dialect.name == "sqlite"


def reflect(conn, name: str) -> sa.Table:
    """The table as it is now, in a MetaData bound to this connection (changeset needs a bind)."""
    return sa.Table(name, sa.MetaData(bind=conn), autoload_with=conn)


def has_table(conn, name: str) -> bool:
    return sa.inspect(conn).has_table(name)


# Columns of a composite primary key that carry a sequence default. SQLAlchemy before 1.1 made
# the first integer, non-foreign-key column of a composite primary key SERIAL on PostgreSQL, so
# installs made under MediaGoblin 0.8.x's pinned SQLAlchemy have one (openid__nonce.timestamp);
# later SQLAlchemy, and so every fresh install since 0.9.0, does not.
_PG_KEY_SEQUENCES = """
SELECT t.relname, a.attname, pg_get_serial_sequence(quote_ident(t.relname), a.attname)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(k.conkey)
JOIN pg_attrdef d ON d.adrelid = t.oid AND d.adnum = a.attnum
WHERE k.contype = 'p' AND cardinality(k.conkey) > 1
  AND t.relnamespace = to_regnamespace(current_schema())
  AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'
ORDER BY 1, 2
"""


def drop_key_sequences(conn) -> None:
    """Drop sequence defaults (and their owned sequences) from composite primary keys."""
    if is_sqlite(conn):
        return  # SQLite has no sequences: such a column was never different there
    for table, column, sequence in conn.execute(sa.text(_PG_KEY_SEQUENCES)).all():
        conn.exec_driver_sql(
            f"ALTER TABLE {q(conn, table)} ALTER COLUMN {q(conn, column)} DROP DEFAULT"
        )
        if sequence:
            conn.exec_driver_sql(f"DROP SEQUENCE {sequence}")


def q(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def alter(conn, table: str, change: Change) -> None:
    if is_sqlite(conn):
        _sqlite_alter(conn, table, change)
    else:
        _pg_alter(conn, table, change)


def create_table(conn, table: sa.Table) -> None:
    """Create a table defined in a migration; referenced tables are reflected for its FKs."""
    for fk in table.foreign_keys:
        target = fk.target_fullname.split(".")[0]
        if target not in table.metadata.tables:
            sa.Table(target, table.metadata, autoload_with=conn)
    table.create(conn)


def drop_table(conn, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE {q(conn, name)}")


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_default_name(table: str, cols, kind: str) -> str:
    if kind == "i":
        return f"ix_{table}_{'_'.join(cols)}"
    suffix = {"u": "key", "f": "fkey", "p": "pkey"}[kind]
    if kind == "p":
        return f"{table}_pkey"
    return f"{table}_{'_'.join(cols)}_{suffix}"


def _pg_names(conn, table: str):
    """(name, kind, columns) of every constraint and index of the table."""
    rows = conn.execute(
        sa.text(
            "SELECT c.conname, c.contype, array_agg(a.attname ORDER BY k.ord) "
            "FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conrelid = CAST(:t AS regclass) GROUP BY c.conname, c.contype"
        ),
        {"t": table},
    ).all()
    found = [(name, kind, list(cols)) for name, kind, cols in rows]
    indexes = conn.execute(
        sa.text(
            "SELECT i.relname, array_agg(a.attname ORDER BY k.ord) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
            "WHERE x.indrelid = CAST(:t AS regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            "GROUP BY i.relname"
        ),
        {"t": table},
    ).all()
    found += [(name, "i", list(cols)) for name, cols in indexes]
    return found


def _pg_rename_names(conn, table: str, old: str, new: str) -> None:
    """Give constraints and indexes named after the old column the fresh-install name."""
    for name, kind, cols in _pg_names(conn, table):
        if new not in cols or kind == "p":
            continue
        before = _pg_default_name(table, [old if c == new else c for c in cols], kind)
        if name != before:
            continue
        after = _pg_default_name(table, cols, kind)
        if kind == "i":
            conn.exec_driver_sql(f"ALTER INDEX {q(conn, name)} RENAME TO {q(conn, after)}")
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE {q(conn, table)} RENAME CONSTRAINT {q(conn, name)} TO {q(conn, after)}"
            )


def _pg_add_fk(conn, table: str, col: str, target: str) -> None:
    ref_table, ref_col = target.split(".")
    conn.exec_driver_sql(
        f"ALTER TABLE {q(conn, table)} ADD CONSTRAINT {q(conn, _pg_default_name(table, [col], 'f'))} "
        f"FOREIGN KEY ({q(conn, col)}) REFERENCES {q(conn, ref_table)} ({q(conn, ref_col)})"
    )


def _pg_add_unique(conn, table: str, cols) -> None:
    conn.exec_driver_sql(
        f"ALTER TABLE {q(conn, table)} ADD CONSTRAINT {q(conn, _pg_default_name(table, cols, 'u'))} "
        f"UNIQUE ({', '.join(q(conn, c) for c in cols)})"
    )


def _pg_alter(conn, table: str, change: Change) -> None:
    for spec in change.add:
        sa.Column(spec.name, spec.type_).create(reflect(conn, table))
        if spec.fk:
            _pg_add_fk(conn, table, spec.name, spec.fk)
        if spec.unique:
            _pg_add_unique(conn, table, [spec.name])
        if not spec.nullable:
            reflect(conn, table).c[spec.name].alter(nullable=False)
    for old, new in change.rename.items():
        reflect(conn, table).c[old].alter(name=new)
        _pg_rename_names(conn, table, old, new)
    for name in change.drop:
        reflect(conn, table).c[name].drop()
    for name in change.not_null:
        reflect(conn, table).c[name].alter(nullable=False)
    for name in change.nullable:
        reflect(conn, table).c[name].alter(nullable=True)
    for cols in change.unique:
        _pg_add_unique(conn, table, list(cols))
    for col in change.index:
        conn.exec_driver_sql(
            f"CREATE INDEX {q(conn, _pg_default_name(table, [col], 'i'))} "
            f"ON {q(conn, table)} ({q(conn, col)})"
        )


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_alter(conn, table: str, change: Change) -> None:
    simple = not (change.drop or change.not_null or change.nullable or change.unique) and not any(
        spec.unique or not spec.nullable for spec in change.add
    )
    if not simple:
        _sqlite_rebuild(conn, table, change)
        return
    for spec in change.add:
        ddl = f"ALTER TABLE {q(conn, table)} ADD COLUMN {q(conn, spec.name)} "
        ddl += sa.types.to_instance(spec.type_).compile(dialect=conn.dialect)
        if spec.fk:
            ref_table, ref_col = spec.fk.split(".")
            ddl += f" REFERENCES {q(conn, ref_table)} ({q(conn, ref_col)})"
        conn.exec_driver_sql(ddl)
    insp = sa.inspect(conn)
    indexes = insp.get_indexes(table)
    for old, new in change.rename.items():
        conn.exec_driver_sql(
            f"ALTER TABLE {q(conn, table)} RENAME COLUMN {q(conn, old)} TO {q(conn, new)}"
        )
        for ix in indexes:
            if ix["name"] == f"ix_{table}_{old}":
                conn.exec_driver_sql(f"DROP INDEX {q(conn, ix['name'])}")
                cols = [new if c == old else c for c in ix["column_names"]]
                _sqlite_index(conn, table, f"ix_{table}_{new}", cols, ix.get("unique"))
    for col in change.index:
        _sqlite_index(conn, table, f"ix_{table}_{col}", [col], False)


def _sqlite_index(conn, table, name, cols, unique) -> None:
    conn.exec_driver_sql(
        f"CREATE {'UNIQUE ' if unique else ''}INDEX {q(conn, name)} ON {q(conn, table)} "
        f"({', '.join(q(conn, c) for c in cols)})"
    )


def _sqlite_rebuild(conn, table: str, change: Change) -> None:
    insp = sa.inspect(conn)
    # a copy: SQLAlchemy 1.4's SQLite get_pk_constraint sorts the cached column list in place
    columns = list(insp.get_columns(table))
    pk = insp.get_pk_constraint(table)["constrained_columns"]
    fks = insp.get_foreign_keys(table)
    uniques = insp.get_unique_constraints(table)
    indexes = insp.get_indexes(table)
    checks = insp.get_check_constraints(table)
    dropped = set(change.drop)

    def renamed(col):
        return change.rename.get(col, col)

    new_name = f"{table}__rebuild"

    def cols_sql(names):
        return ", ".join(q(conn, c) for c in names)

    lines, copy_from = [], []
    for col in columns:
        if col["name"] in dropped:
            continue
        name = renamed(col["name"])
        nullable = col["nullable"]
        if name in change.not_null:
            nullable = False
        if name in change.nullable:
            nullable = True
        type_sql = col["type"].compile(dialect=conn.dialect)
        lines.append(f"{q(conn, name)} {type_sql}{'' if nullable else ' NOT NULL'}")
        copy_from.append(col["name"])
    for spec in change.add:
        type_sql = sa.types.to_instance(spec.type_).compile(dialect=conn.dialect)
        lines.append(f"{q(conn, spec.name)} {type_sql}{'' if spec.nullable else ' NOT NULL'}")
    if pk:
        lines.append(f"PRIMARY KEY ({cols_sql(renamed(c) for c in pk)})")
    all_fks = [
        (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
        for fk in fks
        if not dropped & set(fk["constrained_columns"])
    ]
    all_fks += [
        ([spec.name], spec.fk.split(".")[0], [spec.fk.split(".")[1]]) for spec in change.add if spec.fk
    ]
    for cols, ref_table, ref_cols in all_fks:
        lines.append(
            f"FOREIGN KEY({cols_sql(renamed(c) for c in cols)}) "
            f"REFERENCES {q(conn, ref_table)} ({cols_sql(ref_cols)})"
        )
    uniques_sql = [
        [renamed(c) for c in uq["column_names"]]
        for uq in uniques
        if not dropped & set(uq["column_names"])
    ]
    uniques_sql += [[spec.name] for spec in change.add if spec.unique]
    uniques_sql += [list(cols) for cols in change.unique]
    lines += [f"UNIQUE ({cols_sql(cols)})" for cols in uniques_sql]
    for ck in checks:
        text = ck["sqltext"]
        if not any(d in text for d in dropped):
            lines.append(f"CHECK ({text})")
    body = ", \n\t".join(lines)
    conn.exec_driver_sql(f"CREATE TABLE {q(conn, new_name)} (\n\t{body}\n)")
    targets = ", ".join(q(conn, renamed(c)) for c in copy_from)
    sources = ", ".join(q(conn, c) for c in copy_from)
    conn.exec_driver_sql(
        f"INSERT INTO {q(conn, new_name)} ({targets}) SELECT {sources} FROM {q(conn, table)}"
    )
    conn.exec_driver_sql(f"DROP TABLE {q(conn, table)}")
    conn.exec_driver_sql(f"ALTER TABLE {q(conn, new_name)} RENAME TO {q(conn, table)}")
    for ix in indexes:
        if dropped & set(ix["column_names"]):
            continue
        cols = [renamed(c) for c in ix["column_names"]]
        name = ix["name"]
        if len(cols) == 1 and name == f"ix_{table}_{ix['column_names'][0]}":
            name = f"ix_{table}_{cols[0]}"
        _sqlite_index(conn, table, name, cols, ix.get("unique"))
    for col in change.index:
        _sqlite_index(conn, table, f"ix_{table}_{col}", [col], False)


# --- rows -------------------------------------------------------------------------------------


def model_reference(conn, model_type: str, obj_pk: int) -> int:
    """The core__generic_model_reference id for (model_type, obj_pk), inserted when missing."""
    gmr = reflect(conn, "core__generic_model_reference")
    found = conn.execute(
        sa.select(gmr.c.id).where(gmr.c.model_type == model_type, gmr.c.obj_pk == obj_pk)
    ).scalar()
    if found is not None:
        return found
    return conn.execute(
        gmr.insert().values(model_type=model_type, obj_pk=obj_pk)
    ).inserted_primary_key[0]
