"""What the database holds, decided again after the lock is held."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import registry
from .bundle import Bundle
from .errors import StateRefused
from .facts import VersionFacts, read_facts

if TYPE_CHECKING:
    from .backends import Backend

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
    retired: tuple[str, ...] = ()  # rows naming revisions the bundle no longer ships

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
            **({"retired_revisions": list(self.retired)} if self.retired else {}),
        }


def inspect_state(backend: Backend, connection: Any, bundle: Bundle) -> DbState:
    """Read what classification needs on the bare driver (``connection`` is DB-API), then
    decide."""
    return decide(bundle, read_facts(backend, connection, bundle.manifest))


def effective_rows(bundle: Bundle, rows: list[str] | tuple[str, ...]) -> list[str]:
    """The rows once retired revisions are gone: each dropped, or replaced by its
    down_revision where no other row already stands for that one."""
    kept = [r for r in rows if r not in bundle.retired]
    for row in rows:
        down = bundle.retired[row].down_revision if row in bundle.retired else None
        if down is not None and down not in bundle.branches.applied(kept):
            kept.append(down)
    return kept


def legacy_positions(bundle: Bundle, pairs: tuple[tuple[str, int], ...]) -> dict:
    """Component -> its legacy version (a ``Position`` for several repositories) from the
    legacy version table's (repository_id, version) rows."""
    rows = dict(pairs)
    positions = {}
    for component in bundle.legacy_components:
        position = component.legacy.position(rows)
        if position is not None:
            positions[component.name] = position
    return positions


def decide(bundle: Bundle, facts: VersionFacts) -> DbState:
    """Classify from plain facts: the table names, Alembic's rows, sqlalchemy-migrate's rows."""
    tables = facts.tables
    owned = bundle.table_names()
    ours = tables & set().union(*owned.values())
    legacy_rows = legacy_positions(bundle, facts.legacy)
    if facts.registry:  # MediaGoblin's own registry (issue 12): only with its marker row
        for name, version in registry.decide(
            bundle.manifest, list(facts.registry)
        ).versions.items():
            legacy_rows.setdefault(name, version)
    retired = tuple(sorted(r for r in facts.rows if r in bundle.retired))
    unknown = tuple(
        sorted(r for r in facts.rows if r not in bundle.branches.owner and r not in retired)
    )
    if unknown:
        return DbState(kind=AHEAD, tables=tables, unknown_revisions=unknown)
    rows = effective_rows(bundle, facts.rows)
    if not rows and not legacy_rows:
        kind = UNMANAGED if ours else FRESH
        return DbState(
            kind=kind, tables=tables, unmanaged_tables=tuple(sorted(ours)), retired=retired
        )
    versions = bundle.branches.positions(rows)
    applied = bundle.branches.applied(rows)

    legacy: dict[str, int] = {}
    for name, version in legacy_rows.items():
        repo = registry.legacy_side(bundle, name)
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
    # A component whose rows say it is at its heads must have every table its models define.
    for name, position in versions.items():
        missing = sorted(owned[name] - tables)
        if bundle.branches.at_heads(name, position) and missing:
            return DbState(
                kind=INCONSISTENT,
                tables=tables,
                problem=f"{bundle.version_table} says {name} is at {sorted(position)}, but its "
                f"tables {', '.join(missing)} are missing",
            )
    # Tables of a component with no version anywhere: someone created them by hand.
    known = set(versions) | set(legacy)
    stray = tuple(
        sorted(t for name, names in owned.items() if name not in known for t in names & tables)
    )
    if stray:
        return DbState(kind=UNMANAGED, tables=tables, unmanaged_tables=stray)
    return DbState(
        kind=ALEMBIC if versions else LEGACY,
        versions=versions,
        tables=tables,
        legacy=legacy,
        retired=retired,
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
    todo = [
        {"component": bundle.retired[r].component, "action": "retire", "revision": r}
        for r in state.retired
    ]
    for component in [bundle.core.name, *enabled]:
        heads = sorted(bundle.branches.heads[component])
        current = state.versions.get(component)
        if component in state.legacy:
            repo = registry.legacy_side(bundle, component)
            version = state.legacy[component]
            todo.append(
                {
                    "component": component,
                    "action": "legacy",
                    "from": version,
                    "to": repo.target(version),
                    "heads": heads,
                }
            )
        elif current is None:
            todo.append({"component": component, "action": "install", "heads": heads})
        elif not bundle.branches.at_heads(component, current):
            todo.append(
                {
                    "component": component,
                    "action": "upgrade",
                    "from": sorted(current),
                    "heads": heads,
                }
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
    retired: list[str] = (),
) -> dict:
    """The ``dbupdate.done`` fields every run reports, the no-op fast path included."""
    return {
        "changed": bool(applied or walked or handed_over or bootstrapped or retired),
        "applied": list(applied),
        "legacy_applied": list(walked),
        "handed_over": list(handed_over),
        "bootstrapped": list(bootstrapped),
        "retired": list(retired),
    }
