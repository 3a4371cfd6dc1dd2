"""A schema fingerprint in the format of the shared ``schemas/*.fingerprint.txt`` files.

Minimal and local to the registry tests until the bundle's own oracle (``tests/oracle.py``) is
merged. It reads the catalogs directly (no code of the engine): one ``table`` line per table,
then its columns, pk, fks, uniques and indexes with their names, sorted.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

SHARED = Path("/work/shared/mediagoblin/schemas")

_PG_TYPES = {"character varying": "varchar"}


def _pg_type(text: str) -> str:
    if text.startswith("character varying"):
        return "varchar" + text[len("character varying") :]
    return _PG_TYPES.get(text, text)


def fingerprint(url: str) -> list[str]:
    if url.startswith("postgresql"):
        url = sa.engine.make_url(url).set(drivername="postgresql+psycopg2")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return _fingerprint(conn)
    finally:
        engine.dispose()


def _fingerprint(conn) -> list[str]:
    insp = sa.inspect(conn)
    sqlite = conn.dialect.name == "sqlite"
    blocks = []
    for table in sorted(insp.get_table_names()):
        if table.startswith("sqlite_"):
            continue
        lines = []
        if sqlite:
            for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")'):
                null = "not null" if row[3] else "null"
                lines.append(f"  column {table}.{row[1]} {row[2].lower()} {null}")
        else:
            rows = conn.execute(
                sa.text(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                    "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                    "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 "
                    "AND NOT a.attisdropped"
                ),
                {"t": table},
            )
            for name, type_, notnull, default in rows:
                line = f"  column {table}.{name} {_pg_type(type_)} "
                line += "not null" if notnull else "null"
                if default is not None:
                    line += f" default={default}"
                lines.append(line)
        pk = insp.get_pk_constraint(table)
        if pk["constrained_columns"]:
            lines.append(f"  pk {table}({', '.join(pk['constrained_columns'])}) [{pk.get('name')}]")
        for fk in insp.get_foreign_keys(table):
            lines.append(
                f"  fk {table}({', '.join(fk['constrained_columns'])}) -> "
                f"{fk['referred_table']}({', '.join(fk['referred_columns'])}) [{fk.get('name')}]"
            )
        for uq in insp.get_unique_constraints(table):
            lines.append(f"  unique {table}({', '.join(uq['column_names'])}) [{uq.get('name')}]")
        for ix in insp.get_indexes(table):
            if ix.get("duplicates_constraint"):
                continue
            unique = " unique" if ix.get("unique") else ""
            lines.append(f"  index{unique} {table}({', '.join(ix['column_names'])}) [{ix['name']}]")
        blocks.append([f"table {table}", *sorted(lines)])
    return [line for block in blocks for line in block]


def shared(state: str, backend: str) -> list[str]:
    path = SHARED / f"{state}.{backend}.fingerprint.txt"
    return path.read_text(encoding="utf-8").splitlines()


def without_tables(lines: list[str], *tables: str) -> list[str]:
    out, skip = [], False
    for line in lines:
        if line.startswith("table "):
            skip = line[6:] in tables
        if not skip:
            out.append(line)
    return out


def diff(expected: list[str], actual: list[str]) -> list[str]:
    exp, act = set(expected), set(actual)
    return [f"- {x}" for x in sorted(exp - act)] + [f"+ {x}" for x in sorted(act - exp)]
