"""The app's own legacy registry (MediaGoblin's ``core__migrations``): read, decide, walk, record.

Beside the sqlalchemy-migrate-repository adapter (``legacy.py``). Works on the manifest v2
objects (``manifest.legacy_registry`` with ``table``/``name_column``/``version_column``/
``marker``; per component ``module`` = its registry name and ``registry`` with ``migrations``,
``lowest_supported``, ``handoff``, ``too_old_hint``); only their attributes are used here.

MediaGoblin's rules, as its own dbupdate applies them:
- the database is under the registry only if a row named ``marker`` (``__main__``) exists; every
  database made by 0.9.0 or later has an empty table, and Alembic rows always win;
- a component with a row walks its migrations up to a handoff number, which names the Alembic
  revision its schema equals; a component without migrations sits at 0 (``handoff = {0 = …}``);
- an enabled plugin without a row is created from the current models (the engine's late-plugin
  install) and its row recorded at its latest number, so MediaGoblin finds nothing to do.

The walk runs in the sealed runtime (``entrypoint/legacy/registry.py``), one transaction per
migration together with its row update; its JSON lines are re-emitted as ``legacy.applied``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StateRefused

RUNNER = Path(__file__).resolve().parents[1] / "legacy" / "registry.py"


@dataclass(frozen=True)
class RegistryState:
    """Registry facts mapped onto components (empty when the database is not under it)."""

    versions: dict[str, int] = field(default_factory=dict)  # component -> registry number
    unknown: dict[str, int] = field(default_factory=dict)  # rows naming no bundle component

    @property
    def active(self) -> bool:
        return bool(self.versions)


def scripts_of(component: Any) -> Any | None:
    return getattr(component, "registry", None)


def last_number(scripts: Any) -> int:
    return max(scripts.handoff)


def decide(manifest: Any, rows: list[tuple[str, int]]) -> RegistryState:
    """Map registry rows onto components; refuse (65) what this bundle cannot upgrade."""
    spec = getattr(manifest, "legacy_registry", None)
    if spec is None or spec.marker not in dict(rows):
        return RegistryState()
    by_module = {c.module: c for c in manifest.components if c.module}
    versions, unknown = {}, {}
    for name, version in rows:
        component = by_module.get(name)
        if component is None:
            unknown[name] = version  # a plugin this bundle does not ship: left as it is
            continue
        scripts = scripts_of(component)
        if scripts is None:
            if version != 0:
                raise StateRefused(
                    f"legacy registry row {name!r} is at {version}, but {component.name} has no "
                    "registry migrations in this bundle",
                )
            versions[component.name] = 0
            continue
        if version < scripts.lowest_supported:
            hint = f"; {scripts.too_old_hint}" if scripts.too_old_hint else ""
            raise StateRefused(
                f"{component.name} is at legacy registry version {version} ({name!r}), older "
                f"than the lowest this release upgrades from ({scripts.lowest_supported}){hint}",
            )
        if version > last_number(scripts):
            raise StateRefused(
                f"{component.name} is at legacy registry version {version} ({name!r}), beyond "
                f"the last this bundle knows ({last_number(scripts)}): run a newer release",
            )
        versions[component.name] = version
    return RegistryState(versions=versions, unknown=unknown)


@dataclass(frozen=True)
class View:
    """A registry component seen like a sqlalchemy-migrate repository by the classifier."""

    registry_name: str
    migrations: Path | None
    handoff: dict[int, str]
    lowest_supported: int
    too_old_hint: str

    @property
    def last(self) -> int:
        return max(self.handoff)

    def target(self, version: int) -> int:
        return min(v for v in self.handoff if v >= version)


def view(component: Any, history: Any = None) -> View | None:
    """The registry side of a component (None without a registry name)."""
    if not component.module:
        return None
    scripts = scripts_of(component)
    if scripts is not None:
        return View(
            component.module,
            Path(scripts.migrations),
            dict(scripts.handoff),
            scripts.lowest_supported,
            scripts.too_old_hint,
        )
    # the checked history's first revisions (the manifest's ``base`` may name a label)
    base = (
        history.bases(component.name)
        if history is not None
        else getattr(component, "base", None) or []
    )
    return View(component.module, None, {0: base[0]} if base else {}, 0, "")


def handoff_revision(component: Any, version: int) -> str | None:
    scripts = scripts_of(component)
    if scripts is not None:
        return scripts.handoff.get(version)
    if version == 0:
        base = getattr(component, "base", None)
        return base[0] if base else None
    return None


def records(manifest: Any, components: list[Any]) -> list[dict]:
    """Rows for components the engine just created from the current models (latest number)."""
    out = []
    for component in components:
        if not component.module:
            continue
        scripts = scripts_of(component)
        out.append(
            {
                "component": component.name,
                "name": component.module,
                "version": last_number(scripts) if scripts is not None else 0,
            }
        )
    return out


def record_rows(connection: Any, manifest: Any, rows: list[dict]) -> None:
    """Insert or set registry rows in the caller's transaction (the main runtime)."""
    import sqlalchemy as sa

    spec = manifest.legacy_registry
    table = sa.table(
        spec.table.name,
        sa.column(spec.name_column),
        sa.column(spec.version_column),
        schema=spec.table.schema,
    )
    name_col, version_col = table.c[spec.name_column], table.c[spec.version_column]
    for row in rows:
        moved = connection.execute(
            table.update().where(name_col == row["name"]).values({version_col: row["version"]})
        )
        if moved.rowcount == 0:
            connection.execute(
                table.insert().values({name_col: row["name"], version_col: row["version"]})
            )


def job(manifest: Any, walk: list[dict], record: list[dict] = ()) -> dict:
    """What the sealed registry runner needs beside the common legacy job keys."""
    spec = manifest.legacy_registry
    return {
        "registry": {
            "table": str(spec.table),
            "name_column": spec.name_column,
            "version_column": spec.version_column,
        },
        "steps": walk,
        "record": list(record),
        "pythonpath": [str(p) for p in getattr(manifest, "pythonpath", ())],
    }


# --- hooks used by classify / pipeline ---------------------------------------------------------


def legacy_side(bundle: Any, name: str) -> Any:
    """A component's legacy history: its sqlalchemy-migrate repository, else its registry view."""
    component = bundle.component(name)
    return component.legacy or view(component, bundle.branches)


def step(name: str, side: View, version: int) -> dict:
    """The runner step walking a registry component from ``version`` to its handoff."""
    return {
        "component": name,
        "name": side.registry_name,
        "module": str(side.migrations),
        "to": side.target(version),
    }


def record_installed(
    connection: Any, manifest: Any, components: list[Any], registry_rows: tuple
) -> None:
    """After the engine created plugins from their models in a registry-era database, record
    them at their latest numbers (as MediaGoblin does), in the same transaction.
    ``registry_rows``: the registry's rows as read in that transaction."""
    spec = getattr(manifest, "legacy_registry", None)
    if spec is None or not components:
        return
    rows = dict(registry_rows)
    if spec.marker not in rows:
        return
    record_rows(connection, manifest, records(manifest, components))
