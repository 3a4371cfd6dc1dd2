"""An independent schema fingerprint, in the format of the shared MediaGoblin schema facts.

It reads the catalogue directly (``pg_catalog`` on PostgreSQL, ``sqlite_master`` and the
``PRAGMA`` functions on SQLite) through the bare drivers, so that it shares no code with the
engine nor with SQLAlchemy's inspector: a bug there cannot hide itself here.

The format, one table block per table, blocks sorted by table name, lines inside a block sorted::

    table T
      column T.C TYPE null|not null[ default=EXPR]
      fk T(C, …) -> R(C, …) [NAME]
      index T(C, …) [NAME]            (an index that backs no constraint)
      pk T(C, …) [NAME]
      unique T(C, …) [NAME]

Key columns are listed in key order. Types are the catalogue's spelling, lower case, except that
PostgreSQL's ``character varying`` is written ``varchar``. SQLite keeps no name for a constraint
declared without one: those are written ``[None]``, as SQLAlchemy's reflection reports them.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg2


def fingerprint(url: str) -> str:
    """The fingerprint of the database at ``url`` (``postgresql://…`` or ``sqlite:///path``)."""
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme == "sqlite":
        return fingerprint_sqlite(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        return fingerprint_pg(url)
    raise ValueError(f"no fingerprint for {scheme!r} databases")


def sqlite_path(url: str) -> Path:
    return Path(unquote(url.split(":///", 1)[1]))


def libpq_dsn(url: str) -> str:
    """A libpq URI from an SQLAlchemy-style URL (drops the ``+driver`` part)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def _render(blocks: dict[str, list[str]]) -> str:
    out: list[str] = []
    for table in sorted(blocks):
        out.append(f"table {table}")
        out.extend(f"  {line}" for line in sorted(blocks[table]))
    return "\n".join(out) + "\n"


def _column(table: str, name: str, type_: str, not_null: bool, default: str | None) -> str:
    line = f"column {table}.{name} {type_} {'not null' if not_null else 'null'}"
    return line if default is None else f"{line} default={default}"


def _key(kind: str, table: str, columns: list[str], name: str | None) -> str:
    return f"{kind} {table}({', '.join(columns)}) [{name}]"


# --- PostgreSQL --------------------------------------------------------------------------------

_PG_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
"""

_PG_COLUMNS = """
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
"""

_PG_CONSTRAINTS = """
SELECT con.conrelid, con.contype, con.conname, con.conkey, con.confrelid, con.confkey
FROM pg_constraint con
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'f', 'u')
"""

# indexes that back a constraint (primary key, unique, exclusion) are shown as that constraint
_PG_INDEXES = """
SELECT i.indrelid, ic.relname, i.indisunique, i.indkey::int2[]
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%(oids)s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                  AND con.contype IN ('p', 'u', 'x'))
"""


def _pg_type(spelled: str) -> str:
    return re.sub(r"^character varying", "varchar", spelled)


def fingerprint_pg(url: str, schema: str = "public") -> str:
    conn = psycopg2.connect(libpq_dsn(url))
    try:
        with conn.cursor() as cur:
            cur.execute(_PG_TABLES, {"schema": schema})
            tables = dict(cur.fetchall())
            oids = list(tables)
            blocks: dict[str, list[str]] = {name: [] for name in tables.values()}
            names: dict[tuple[int, int], str] = {}
            cur.execute(_PG_COLUMNS, {"oids": oids})
            for relid, num, name, type_, not_null, default in cur.fetchall():
                names[(relid, num)] = name
                blocks[tables[relid]].append(
                    _column(tables[relid], name, _pg_type(type_), not_null, default)
                )
            cur.execute(_PG_CONSTRAINTS, {"oids": oids})
            constraints = cur.fetchall()
            # a foreign key may point into another schema's table: name those too
            foreign = {r[4] for r in constraints if r[1] == "f"} - set(tables)
            ref_names = dict(tables)
            if foreign:
                cur.execute(
                    "SELECT oid, relname FROM pg_class WHERE oid = ANY(%(oids)s)",
                    {"oids": list(foreign)},
                )
                ref_names.update(cur.fetchall())
                cur.execute(
                    "SELECT attrelid, attnum, attname FROM pg_attribute "
                    "WHERE attrelid = ANY(%(oids)s) AND attnum > 0",
                    {"oids": list(foreign)},
                )
                names.update({(r, n): a for r, n, a in cur.fetchall()})
            for relid, kind, conname, conkey, confrelid, confkey in constraints:
                table = tables[relid]
                cols = [names[(relid, n)] for n in conkey]
                if kind == "f":
                    ref = [names[(confrelid, n)] for n in confkey]
                    line = (
                        f"fk {table}({', '.join(cols)}) -> "
                        f"{ref_names[confrelid]}({', '.join(ref)}) [{conname}]"
                    )
                else:
                    line = _key("pk" if kind == "p" else "unique", table, cols, conname)
                blocks[table].append(line)
            cur.execute(_PG_INDEXES, {"oids": oids})
            for relid, name, unique, indkey in cur.fetchall():
                table = tables[relid]
                # attnum 0 marks an expression column
                cols = [names[(relid, n)] if n else "<expr>" for n in indkey]
                line = _key("index", table, cols, name)
                blocks[table].append(f"{line} unique" if unique else line)
    finally:
        conn.close()
    return _render(blocks)


# --- SQLite ------------------------------------------------------------------------------------

_IDENT = r'(?:"(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|\w+)'


def _unquote(ident: str) -> str:
    if ident[0] in '"`[':
        return ident[1:-1].replace('""', '"')
    return ident


def _split_columns(text: str) -> list[str]:
    return [_unquote(part.strip().split()[0]) for part in text.split(",")]


def _named_constraints(sql: str) -> dict[tuple[str, tuple[str, ...]], str]:
    """``CONSTRAINT name PRIMARY KEY|UNIQUE|FOREIGN KEY (cols)`` clauses of a CREATE TABLE."""
    found = {}
    pattern = rf"CONSTRAINT\s+({_IDENT})\s+(PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY)\s*\(([^)]*)\)"
    for m in re.finditer(pattern, sql, re.IGNORECASE):
        kind = m.group(2).split()[0].upper()
        found[(kind, tuple(_split_columns(m.group(3))))] = _unquote(m.group(1))
    return found


def fingerprint_sqlite(path: str | Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        blocks: dict[str, list[str]] = {}
        for table, sql in rows:
            lines = blocks.setdefault(table, [])
            named = _named_constraints(sql or "")
            q = '"' + table.replace('"', '""') + '"'
            info = conn.execute(f"PRAGMA table_info({q})").fetchall()
            pk = []
            for _cid, name, type_, not_null, default, pk_pos in info:
                lines.append(_column(table, name, type_.lower(), bool(not_null), default))
                if pk_pos:
                    pk.append((pk_pos, name))
            if pk:
                cols = [name for _, name in sorted(pk)]
                lines.append(_key("pk", table, cols, named.get(("PRIMARY", tuple(cols)))))
            fks: dict[int, list[tuple]] = {}
            for fk_id, seq, ref, src, dst, *_ in conn.execute(f"PRAGMA foreign_key_list({q})"):
                fks.setdefault(fk_id, []).append((seq, ref, src, dst))
            for parts in fks.values():
                parts.sort()
                ref = parts[0][1]
                cols = [p[2] for p in parts]
                dst = [p[3] for p in parts]
                if any(d is None for d in dst):  # REFERENCES t without columns: its primary key
                    rq = '"' + ref.replace('"', '""') + '"'
                    ref_info = conn.execute(f"PRAGMA table_info({rq})").fetchall()
                    dst = [r[1] for r in sorted(ref_info, key=lambda r: r[5]) if r[5]]
                name = named.get(("FOREIGN", tuple(cols)))
                lines.append(f"fk {table}({', '.join(cols)}) -> {ref}({', '.join(dst)}) [{name}]")
            for _seq, index, unique, origin, _partial in conn.execute(f"PRAGMA index_list({q})"):
                iq = '"' + index.replace('"', '""') + '"'
                cols = [r[2] for r in sorted(conn.execute(f"PRAGMA index_info({iq})"))]
                if origin == "u":
                    name = named.get(("UNIQUE", tuple(cols)))
                    lines.append(_key("unique", table, cols, name))
                elif origin == "c":
                    line = _key("index", table, cols, index)
                    lines.append(f"{line} unique" if unique else line)
    finally:
        conn.close()
    return _render(blocks)


def diff(expected: str, actual: str) -> list[str]:
    """Lines only in one of two fingerprints, marked ``-`` (expected) and ``+`` (actual)."""
    want, got = set(expected.splitlines()), set(actual.splitlines())
    return sorted(f"- {line}" for line in want - got) + sorted(f"+ {line}" for line in got - want)
