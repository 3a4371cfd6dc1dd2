"""``gmg dbverify``: the live schema against the models of core and the enabled plugins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect

from .bundle import Bundle

# Deliberate dialect differences, each explained; never a blanket ignore.
# (dialect, kind, table, name): why
ALLOWLIST: dict[tuple[str, str, str, str], str] = {}


def diff(connection: Connection, bundle: Bundle, enabled: tuple[str, ...]) -> dict:
    """Differences as readable lines, plus the tables compared and the ones left aside."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    metadata = bundle.metadata(enabled)
    owned = bundle.table_names()
    wanted = set(metadata.tables)
    present = set(inspect(connection).get_table_names())
    ours = set().union(*owned.values())
    version_tables = {bundle.version_table.name, bundle.legacy_version_table.name}
    # a retired plugin's tables hold user data the app no longer reads: left, not compared
    retired = {t.name for r in bundle.retired.values() for t in r.tables} & present
    disabled = sorted((present & ours) - wanted)
    foreign = sorted(present - ours - version_tables - retired)

    def include_object(obj: Any, name: str, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return name in wanted
        return True

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": _server_default_differs,
            "include_object": include_object,
        },
    )
    lines = []
    for entry in compare_metadata(context, metadata):
        for op in entry if isinstance(entry, list) else [entry]:
            line = _describe(op)
            if line is not None and not _allowed(connection.dialect.name, op):
                lines.append(line)
    lines.extend(_primary_key_differences(connection, metadata, present & wanted))
    return {
        "differences": sorted(set(lines)),
        "compared": sorted(present & wanted),
        "ignored": {
            "disabled_plugins": disabled,
            "retired": sorted(retired),
            "not_this_app": foreign,
        },
    }


# Spellings one server stores for what the models say another way (MySQL/MariaDB keep a boolean
# default as 0/1 and now() as current_timestamp()): the same default, not drift.
_SAME_DEFAULT = {
    "now()": "current_timestamp",
    "current_timestamp()": "current_timestamp",
    "current_timestamp": "current_timestamp",
    "true": "1",
    "false": "0",
}


def _normal_default(text: str | None) -> str | None:
    if text is None:
        return None
    bare = text.strip().strip("()").strip("'\"").strip().lower()
    return _SAME_DEFAULT.get(bare, _SAME_DEFAULT.get(text.strip().lower(), bare))


def _server_default_differs(
    _context, _inspected, _metadata, in_db, _metadata_default, rendered
) -> bool | None:
    """Alembic's comparison hook: False where both say the same default in two spellings,
    else None (Alembic compares as it does)."""
    same = in_db is not None and rendered is not None
    return False if same and _normal_default(in_db) == _normal_default(rendered) else None


def _allowed(dialect: str, op: tuple) -> bool:
    kind = op[0]
    obj = op[1] if len(op) > 1 else None
    table = getattr(getattr(obj, "table", None), "name", "") or (op[2] if len(op) > 2 else "")
    name = getattr(obj, "name", "") or ""
    return (dialect, kind, str(table), str(name)) in ALLOWLIST


def _describe(op: tuple) -> str | None:
    kind = op[0]
    if kind == "add_table":
        return f"missing table {op[1].name}"
    if kind == "remove_table":
        return f"unexpected table {op[1].name}"
    if kind == "add_column":
        return f"missing column {op[2]}.{op[3].name} ({op[3].type})"
    if kind == "remove_column":
        return f"unexpected column {op[2]}.{op[3].name}"
    if kind in ("add_index", "remove_index"):
        index = op[1]
        cols = ", ".join(str(getattr(c, "name", c)) for c in index.expressions)
        where = "missing" if kind == "add_index" else "unexpected"
        unique = "unique " if index.unique else ""
        return f"{where} {unique}index {index.name} on {index.table.name} ({cols})"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = op[1]
        where = "missing" if kind.startswith("add") else "unexpected"
        what = (
            "foreign key"
            if kind.endswith("fk")
            else _KINDS.get(type(constraint).__name__, type(constraint).__name__)
        )
        return f"{where} {what} {_constraint(constraint)}"
    if kind in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        _, _schema, table, column, _existing, in_db, in_models = op
        what = kind.removeprefix("modify_")
        return (
            f"{table}.{column}: {what} is {_show(in_db)} in the database, "
            f"{_show(in_models)} in the models"
        )
    return f"difference: {op!r}"


_KINDS = {
    "UniqueConstraint": "unique constraint",
    "CheckConstraint": "check constraint",
    "PrimaryKeyConstraint": "primary key",
}


def _constraint(constraint: Any) -> str:
    """``name on table (columns)``; an unnamed one (the database chose its name, or the models
    leave it to the database) is named by its table and columns, a foreign key also by what it
    refers to."""
    cols = ", ".join(c.name for c in constraint.columns)
    name = constraint.name if isinstance(constraint.name, str) and constraint.name else None
    text = f"{name + ' on ' if name else 'on '}{constraint.table.name} ({cols})"
    elements = getattr(constraint, "elements", None)
    if elements:  # a foreign key: where it points
        targets = [e.target_fullname.rsplit(".", 1) for e in elements]
        text += f" -> {targets[0][0]} ({', '.join(t[-1] for t in targets)})"
    return text


def _show(value: Any) -> str:
    text = getattr(value, "arg", value)
    return repr(str(text)) if text is not None else "none"


def _primary_key_differences(connection: Connection, metadata: Any, tables: set[str]) -> list:
    inspector = inspect(connection)
    lines = []
    for name in sorted(tables):
        live = sorted(inspector.get_pk_constraint(name)["constrained_columns"])
        model = sorted(c.name for c in metadata.tables[name].primary_key.columns)
        if live != model:
            lines.append(f"{name}: primary key is {live} in the database, {model} in the models")
    return lines
