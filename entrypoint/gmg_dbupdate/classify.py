"""What the database holds, decided again after the lock is held."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .bundle import Bundle
from .errors import StateRefused

if TYPE_CHECKING:
    from sqlalchemy import Connection

FRESH, ALEMBIC, LEGACY = "fresh", "alembic", "legacy"
UNMANAGED, AHEAD, INCONSISTENT, TOO_OLD = "unmanaged", "ahead", "inconsistent", "too_old"


@dataclass(frozen=True)
class DbState:
    kind: str
    # component -> the revisions its branch is at (a fork may leave two)
    versions: dict[str, frozenset[str]] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()
    # component -> legacy version, for components not (yet) under Alembic
    legacy: dict[str, int] = field(default_factory=dict)
    unknown_revisions: tuple[str, ...] = ()
    unmanaged_tables: tuple[str, ...] = ()
    problem: str = ""

    def installed(self, component: str) -> bool:
        return component in self.versions

    def summary(self) -> dict:
        return {
            "state": self.kind,
            "versions": {c: sorted(r) for c, r in self.versions.items()},
            **({"legacy_versions": self.legacy} if self.legacy else {}),
            **(
                {"unknown_revisions": list(self.unknown_revisions)}
                if self.unknown_revisions
                else {}
            ),
            **({"unmanaged_tables": list(self.unmanaged_tables)} if self.unmanaged_tables else {}),
        }


def inspect_state(connection: Connection, bundle: Bundle) -> DbState:
    """Read what classification needs through SQLAlchemy, then decide."""
    from sqlalchemy import inspect, text

    tables = frozenset(inspect(connection).get_table_names())
    rows: list[str] = []
    if bundle.version_table in tables:
        rows = list(
            connection.execute(text(f'SELECT version_num FROM "{bundle.version_table}"')).scalars()
        )
    legacy: list[tuple[str, Any]] = []
    if bundle.legacy_version_table in tables and bundle.legacy_components:
        legacy = list(
            connection.execute(
                text(f'SELECT repository_id, version FROM "{bundle.legacy_version_table}"')
            )
        )
    return decide(bundle, tables, rows, legacy)


def decide(
    bundle: Bundle, tables: frozenset[str], rows: list[str], legacy_table: list[tuple[str, Any]]
) -> DbState:
    """Classify from plain facts: the table names, Alembic's rows, sqlalchemy-migrate's rows."""
    owned = bundle.table_names()
    ours = tables & set().union(*owned.values())
    ids = {c.legacy.repository_id: c.name for c in bundle.legacy_components}
    legacy_rows = {ids[repo]: int(version) for repo, version in legacy_table if repo in ids}
    if not rows and not legacy_rows:
        kind = UNMANAGED if ours else FRESH
        return DbState(kind=kind, tables=tables, unmanaged_tables=tuple(sorted(ours)))

    unknown = tuple(sorted(r for r in rows if r not in bundle.branches.owner))
    if unknown:
        return DbState(kind=AHEAD, tables=tables, unknown_revisions=unknown)
    versions = bundle.branches.positions(rows)
    applied = bundle.branches.applied(rows)

    legacy: dict[str, int] = {}
    for name, version in legacy_rows.items():
        repo = bundle.component(name).legacy
        if name in versions:
            # Alembic rows win; the legacy rows must have stopped exactly at a handoff.
            if version not in repo.handoff or repo.handoff[version] not in applied:
                return DbState(
                    kind=INCONSISTENT,
                    tables=tables,
                    problem=f"{name} is under Alembic at {sorted(versions[name])} but its legacy "
                    f"version {version} is not a handoff point it went through",
                )
            continue
        if version > repo.last:
            return DbState(
                kind=AHEAD,
                tables=tables,
                unknown_revisions=(f"{name} legacy version {version}",),
            )
        if version < repo.lowest_supported:
            hint = f"; {repo.too_old_hint}" if repo.too_old_hint else ""
            return DbState(
                kind=TOO_OLD,
                tables=tables,
                problem=f"{name} is at legacy version {version}, older than the lowest this "
                f"release upgrades from ({repo.lowest_supported}){hint}",
            )
        legacy[name] = version
    if legacy and not versions and bundle.core.name not in legacy:
        return DbState(
            kind=INCONSISTENT,
            tables=tables,
            problem=f"legacy versions for {sorted(legacy)} but none for {bundle.core.name}",
        )
    # Tables of a component with no version anywhere: someone created them by hand.
    known = set(versions) | set(legacy)
    stray = tuple(
        sorted(t for name, names in owned.items() if name not in known for t in names & tables)
    )
    if stray:
        return DbState(kind=UNMANAGED, tables=tables, unmanaged_tables=stray)
    return DbState(
        kind=ALEMBIC if versions else LEGACY, versions=versions, tables=tables, legacy=legacy
    )


def refuse_unusable(state: DbState, bundle: Bundle) -> None:
    """Unmanaged and ahead databases are never touched (65)."""
    if state.kind == AHEAD:
        raise StateRefused(
            f"database is ahead of this bundle: {bundle.version_table} holds revisions "
            f"{', '.join(state.unknown_revisions)} unknown here; run a newer release",
            revisions=list(state.unknown_revisions),
        )
    if state.kind in (INCONSISTENT, TOO_OLD):
        raise StateRefused(f"database refused: {state.problem}")
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
        if component in state.legacy:
            repo = bundle.component(component).legacy
            version = state.legacy[component]
            todo.append(
                {
                    "component": component,
                    "action": "legacy",
                    "from": version,
                    "to": repo.target(version),
                    "head": head,
                }
            )
        elif current is None:
            todo.append({"component": component, "action": "install", "head": head})
        elif current != {head}:
            todo.append(
                {"component": component, "action": "upgrade", "from": sorted(current), "head": head}
            )
    return todo


def warn_disabled(state: DbState, bundle: Bundle, enabled: tuple[str, ...]) -> None:
    """Installed plugins that are not enabled are left exactly as they are, with a warning."""
    from .logs import get_logger

    for name in bundle.plugins:
        if name not in enabled and (state.installed(name) or name in state.legacy):
            get_logger().warning(
                "plugin.disabled",
                plugin=name,
                versions=sorted(state.versions.get(name, ())),
                **({"legacy_version": state.legacy[name]} if name in state.legacy else {}),
                detail="installed but not enabled: its tables are left as they are",
            )


def outcome(
    applied: list[str] = (),
    walked: list[str] = (),
    handed_over: list[str] = (),
    bootstrapped: list[str] = (),
) -> dict:
    """The ``dbupdate.done`` fields every run reports, the no-op fast path included."""
    return {
        "changed": bool(applied or walked or handed_over or bootstrapped),
        "applied": list(applied),
        "legacy_applied": list(walked),
        "handed_over": list(handed_over),
        "bootstrapped": list(bootstrapped),
    }
