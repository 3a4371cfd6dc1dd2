"""What the database holds, decided again after the lock is held."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, inspect, text

from .bundle import Bundle
from .errors import StateRefused

FRESH, ALEMBIC, UNMANAGED, AHEAD = "fresh", "alembic", "unmanaged", "ahead"


@dataclass(frozen=True)
class DbState:
    kind: str
    # component -> the revisions its branch is at (a fork may leave two)
    versions: dict[str, frozenset[str]] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()
    unknown_revisions: tuple[str, ...] = ()
    unmanaged_tables: tuple[str, ...] = ()

    def installed(self, component: str) -> bool:
        return component in self.versions

    def summary(self) -> dict:
        return {
            "state": self.kind,
            "versions": {c: sorted(r) for c, r in self.versions.items()},
            **({"unknown_revisions": list(self.unknown_revisions)} if self.unknown_revisions else {}),
            **({"unmanaged_tables": list(self.unmanaged_tables)} if self.unmanaged_tables else {}),
        }


def inspect_state(connection: Connection, bundle: Bundle) -> DbState:
    tables = frozenset(inspect(connection).get_table_names())
    owned = bundle.table_names()
    ours = tables & set().union(*owned.values())
    rows: list[str] = []
    if bundle.version_table in tables:
        rows = list(
            connection.execute(text(f'SELECT version_num FROM "{bundle.version_table}"')).scalars()
        )
    if not rows:
        kind = UNMANAGED if ours else FRESH
        return DbState(kind=kind, tables=tables, unmanaged_tables=tuple(sorted(ours)))

    unknown = tuple(sorted(r for r in rows if r not in bundle.branches.owner))
    if unknown:
        return DbState(kind=AHEAD, tables=tables, unknown_revisions=unknown)
    versions = bundle.branches.positions(rows)
    # Tables of a component whose branch was never stamped: someone created them by hand.
    stray = tuple(
        sorted(t for name, names in owned.items() if name not in versions for t in names & tables)
    )
    return DbState(
        kind=UNMANAGED if stray else ALEMBIC,
        versions=versions,
        tables=tables,
        unmanaged_tables=stray,
    )


def refuse_unusable(state: DbState, bundle: Bundle) -> None:
    """Unmanaged and ahead databases are never touched (65)."""
    if state.kind == AHEAD:
        raise StateRefused(
            f"database is ahead of this bundle: {bundle.version_table} holds revisions "
            f"{', '.join(state.unknown_revisions)} unknown here; run a newer release",
            revisions=list(state.unknown_revisions),
        )
    if state.kind == UNMANAGED:
        shown = ", ".join(state.unmanaged_tables[:5])
        more = len(state.unmanaged_tables) - 5
        raise StateRefused(
            f"database holds this app's tables ({shown}{f' and {more} more' if more > 0 else ''}) "
            f"but no version rows for them in {bundle.version_table}; refusing to guess its "
            "schema (stamp it with `gmg alembic stamp` if you know it)",
            tables=list(state.unmanaged_tables),
        )


def pending(state: DbState, bundle: Bundle, enabled: tuple[str, ...]) -> list[dict]:
    """What ``gmg dbupdate`` would do, per component (empty when current)."""
    heads = bundle.branches.heads
    todo = []
    for component in [bundle.core.name, *enabled]:
        head = heads[component]
        current = state.versions.get(component)
        if current is None:
            todo.append({"component": component, "action": "install", "head": head})
        elif current != {head}:
            todo.append(
                {"component": component, "action": "upgrade", "from": sorted(current), "head": head}
            )
    return todo
