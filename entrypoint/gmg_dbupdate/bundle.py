"""The app's schema bundle: manifest, models, foundations and Alembic revisions, read from disk.

Nothing here knows the app: every name and path comes from the bundle's ``manifest.toml``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import BundleError, ConfigError

ALEMBIC_ENV_DIR = Path(__file__).resolve().parent / "alembic_env"
INDEX_NAME = "bundle-index.json"


@dataclass(frozen=True)
class LegacyRepository:
    """A frozen sqlalchemy-migrate repository and where its history hands over to Alembic."""

    path: Path
    repository_id: str
    scripts: dict[int, Path]
    lowest_supported: int
    handoff: dict[int, str]  # legacy version -> Alembic revision it equals
    too_old_hint: str

    @property
    def last(self) -> int:
        return max(self.handoff)

    def target(self, version: int) -> int:
        """The handoff version a database at legacy ``version`` walks to."""
        return min(v for v in self.handoff if v >= version)


@dataclass(frozen=True)
class Component:
    name: str
    plugin: bool
    models: Path
    versions: Path
    foundations: Path | None
    legacy: LegacyRepository | None = None


@dataclass(frozen=True)
class BranchHeads:
    """What the Alembic history says: one head per component, and who owns each revision."""

    heads: dict[str, str]
    owner: dict[str, str]  # revision id -> component name
    down: dict[str, tuple[str, ...]]  # revision id -> its down revisions
    requires: dict[str, tuple[str, ...]]  # revision id -> down revisions and depends_on

    def applied(self, rows: list[str]) -> set[str]:
        """Every revision a version table holding ``rows`` stands for.

        Alembic keeps only the tips: a plugin row whose revision ``depends_on`` a core revision
        replaces that core row, so the core branch's position has to be read from the graph.
        """
        seen: set[str] = set()
        todo = [r for r in rows if r in self.owner]
        while todo:
            revision = todo.pop()
            if revision not in seen:
                seen.add(revision)
                todo.extend(self.requires[revision])
        return seen

    def positions(self, rows: list[str]) -> dict[str, frozenset[str]]:
        """Component -> the revisions its branch is at (a fork may leave two)."""
        applied = self.applied(rows)
        positions: dict[str, frozenset[str]] = {}
        for component in sorted(set(self.owner[r] for r in applied)):
            mine = {r for r in applied if self.owner[r] == component}
            below = {d for r in mine for d in self.down[r]}
            positions[component] = frozenset(mine - below)
        return positions


@dataclass
class Bundle:
    root: Path
    name: str
    version_table: str
    legacy_version_table: str
    default_plugins: tuple[str, ...]
    core: Component
    plugins: dict[str, Component]
    _modules: dict[Path, ModuleType] = field(default_factory=dict, repr=False)
    _owned: dict[str, set[str]] | None = field(default=None, repr=False)

    # --- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, root: Path) -> Bundle:
        root = Path(root).resolve()
        manifest_path = root / "manifest.toml"
        if not root.is_dir():
            raise BundleError(f"migrations bundle not found: {root} is not a directory")
        try:
            manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"migrations bundle has no manifest: {manifest_path}") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BundleError(f"cannot read bundle manifest {manifest_path}: {exc}") from None
        try:
            core = _component(root, manifest["core"], plugin=False)
            plugins = {}
            for entry in manifest.get("plugins", []):
                component = _component(root, entry, plugin=True)
                if component.name in plugins or component.name == core.name:
                    raise BundleError(f"bundle manifest names component {component.name!r} twice")
                plugins[component.name] = component
            bundle = cls(
                root=root,
                name=str(manifest["name"]),
                version_table=str(manifest.get("version_table", "alembic_version")),
                legacy_version_table=str(manifest.get("legacy_version_table", "migrate_version")),
                default_plugins=tuple(manifest.get("default_plugins", ())),
                core=core,
                plugins=plugins,
            )
        except KeyError as exc:
            raise BundleError(f"bundle manifest {manifest_path} lacks {exc.args[0]!r}") from None
        unknown = set(bundle.default_plugins) - set(plugins)
        if unknown:
            raise BundleError(f"bundle default_plugins names unknown plugins: {sorted(unknown)}")
        for component in bundle.components:
            if component.legacy is not None:
                _check_legacy_table(component, bundle.legacy_version_table)
        ids = [c.legacy.repository_id for c in bundle.components if c.legacy is not None]
        if len(ids) != len(set(ids)):
            raise BundleError(f"legacy repositories share a repository_id: {ids}")
        return bundle

    @property
    def legacy_components(self) -> list[Component]:
        return [c for c in self.components if c.legacy is not None]

    def check_handoff(self) -> None:
        """Every handoff revision must exist in its component's branch, in legacy order."""
        branches = self.branches
        for component in self.legacy_components:
            mapped = [component.legacy.handoff[v] for v in sorted(component.legacy.handoff)]
            for revision in mapped:
                if branches.owner.get(revision) != component.name:
                    raise BundleError(
                        f"legacy handoff of {component.name!r} names revision {revision!r}, "
                        f"which is not in the {component.name!r} Alembic branch"
                    )
            for older, newer in zip(mapped, mapped[1:], strict=False):
                if older not in branches.applied([newer]):
                    raise BundleError(
                        f"legacy handoff of {component.name!r}: {newer} does not descend "
                        f"from {older}, but its legacy version is later"
                    )

    @property
    def components(self) -> list[Component]:
        return [self.core, *self.plugins.values()]

    def component(self, name: str) -> Component:
        return self.core if name == self.core.name else self.plugins[name]

    def resolve_plugins(self, raw: str | None) -> tuple[str, ...]:
        """``--plugins`` → plugin names in manifest order (``all``, ``none``, or ``a,b``)."""
        if raw is None:
            wanted = set(self.default_plugins)
        elif raw.strip().lower() == "all":
            wanted = set(self.plugins)
        elif raw.strip().lower() in ("none", ""):
            wanted = set()
        else:
            wanted = {p.strip() for p in raw.split(",") if p.strip()}
            unknown = wanted - set(self.plugins)
            if unknown:
                raise ConfigError(
                    f"unknown plugin(s) {', '.join(sorted(unknown))}; "
                    f"this bundle has: {', '.join(self.plugins) or 'none'}"
                )
        return tuple(name for name in self.plugins if name in wanted)

    # --- models and foundations ----------------------------------------------------------

    def _module(self, path: Path) -> ModuleType:
        if path not in self._modules:
            name = f"gmg_bundle_{self.name}_{path.parent.name}_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise BundleError(f"cannot load bundle module {path}")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise BundleError(f"bundle module {path} failed to import: {exc}") from exc
            self._modules[path] = module
        return self._modules[path]

    def metadata(self, names: list[str] | tuple[str, ...]) -> Any:
        """One MetaData holding the models of core plus the named plugins."""
        from sqlalchemy import MetaData

        metadata = MetaData()
        for component in self.components:
            if component is self.core or component.name in names:
                self._module(component.models).define(metadata)
        return metadata

    def table_names(self) -> dict[str, set[str]]:
        """Tables each component's models define (used to recognise our tables in a DB)."""
        if self._owned is None:
            from sqlalchemy import MetaData

            owned: dict[str, set[str]] = {}
            metadata = MetaData()
            for component in self.components:
                before = set(metadata.tables)
                self._module(component.models).define(metadata)
                owned[component.name] = set(metadata.tables) - before
            self._owned = owned
        return self._owned

    # --- the index: what the no-op fast path needs, without importing scripts or models ----

    def fingerprint(self) -> str:
        """A digest of every file of the bundle (the index itself and caches aside)."""
        import hashlib

        digest = hashlib.sha256()
        for path in sorted(self.root.rglob("*")):
            if (
                path.is_file()
                and path.name != INDEX_NAME
                and "__pycache__" not in path.parts
                and not path.name.endswith((".pyc", ".pyo"))
            ):
                digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()

    def write_index(self) -> Path:
        branches = self.branches
        index = {
            "fingerprint": self.fingerprint(),
            "heads": branches.heads,
            "owner": branches.owner,
            "down": branches.down,
            "requires": branches.requires,
            "tables": {name: sorted(tables) for name, tables in self.table_names().items()},
        }
        path = self.root / INDEX_NAME
        path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return path

    def load_index(self) -> bool:
        """Take the history and table names from a current index; False if absent or stale."""
        try:
            index = json.loads((self.root / INDEX_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if index.get("fingerprint") != self.fingerprint():
            return False
        self.__dict__["branches"] = BranchHeads(
            heads=index["heads"],
            owner=index["owner"],
            down={r: tuple(d) for r, d in index["down"].items()},
            requires={r: tuple(d) for r, d in index["requires"].items()},
        )
        self._owned = {name: set(tables) for name, tables in index["tables"].items()}
        return True

    def lay_foundations(self, component: Component, connection: Any, metadata: Any) -> bool:
        if component.foundations is None:
            return False
        self._module(component.foundations).lay(connection, metadata)
        return True

    # --- Alembic -------------------------------------------------------------------------

    def alembic_config(self, url: Any = None, **attributes: Any) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(ALEMBIC_ENV_DIR))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option(
            "version_locations", os.pathsep.join(str(c.versions) for c in self.components)
        )
        cfg.set_main_option("version_table", self.version_table)
        if url is not None:
            plain = url.render_as_string(hide_password=False)
            cfg.set_main_option("sqlalchemy.url", plain.replace("%", "%%"))
        cfg.attributes.update(attributes)
        return cfg

    @cached_property
    def script(self) -> Any:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        try:
            return ScriptDirectory.from_config(self.alembic_config())
        except CommandError as exc:
            raise BundleError(f"bundle's Alembic history is broken: {exc}") from None

    @cached_property
    def branches(self) -> BranchHeads:
        """Check the history (one base and one head per component) and index it."""
        from alembic.util import CommandError, to_tuple

        by_dir = {c.versions.resolve(): c.name for c in self.components}
        owner: dict[str, str] = {}
        down: dict[str, tuple[str, ...]] = {}
        requires: dict[str, tuple[str, ...]] = {}
        try:
            revisions = list(self.script.walk_revisions())
        except CommandError as exc:
            raise BundleError(f"bundle's Alembic history is broken: {exc}") from None
        for rev in revisions:
            name = by_dir.get(Path(rev.path).resolve().parent)
            if name is None:
                raise BundleError(f"revision {rev.revision} lies outside the bundle: {rev.path}")
            owner[rev.revision] = name
            down[rev.revision] = to_tuple(rev.down_revision, default=())
            try:
                dependencies = tuple(
                    self.script.revision_map.get_revision(d).revision
                    for d in to_tuple(rev.dependencies, default=())
                )
            except CommandError as exc:
                raise BundleError(f"revision {rev.revision}: bad depends_on: {exc}") from None
            requires[rev.revision] = down[rev.revision] + dependencies
        heads: dict[str, str] = {}
        for component in self.components:
            mine = {r for r, o in owner.items() if o == component.name}
            if not mine:
                raise BundleError(f"component {component.name!r} has no Alembic revisions")
            parents = set()
            bases = []
            for rev in revisions:
                if rev.revision in mine:
                    parents.update(down[rev.revision])
                    if not down[rev.revision]:
                        bases.append(rev)
            crossing = parents - mine
            if crossing:
                raise BundleError(
                    f"component {component.name!r} has revisions whose down_revision lies in "
                    f"another component: {sorted(crossing)} (use depends_on)"
                )
            if len(bases) != 1 or component.name not in (bases[0].branch_labels or ()):
                raise BundleError(
                    f"component {component.name!r} needs exactly one base revision labelled "
                    f"{component.name!r}; found {[b.revision for b in bases]}"
                )
            tips = sorted(mine - parents)
            if len(tips) != 1:
                raise BundleError(
                    f"component {component.name!r} has {len(tips)} heads {tips}; "
                    "merge them (alembic merge) before shipping"
                )
            heads[component.name] = tips[0]
        return BranchHeads(heads=heads, owner=owner, down=down, requires=requires)


def _component(root: Path, entry: dict, *, plugin: bool) -> Component:
    name = str(entry["name"])

    def existing(key: str, required: bool = True) -> Path | None:
        if key not in entry:
            if required:
                raise BundleError(f"bundle component {name!r} lacks {key!r}")
            return None
        path = (root / entry[key]).resolve()
        if not path.exists():
            raise BundleError(f"bundle component {name!r}: {key} {path} does not exist")
        return path

    return Component(
        name=name,
        plugin=plugin,
        models=existing("models"),
        versions=existing("versions"),
        foundations=existing("foundations", required=False),
        legacy=_legacy(root, name, entry["legacy"]) if "legacy" in entry else None,
    )


def _legacy(root: Path, name: str, entry: dict) -> LegacyRepository:
    import configparser
    import re

    path = (root / entry["repository"]).resolve()
    cfg = configparser.ConfigParser()
    if not cfg.read(path / "migrate.cfg"):
        raise BundleError(f"legacy repository of {name!r} has no migrate.cfg: {path}")
    repository_id = cfg.get("db_settings", "repository_id", fallback=None)
    if not repository_id:
        raise BundleError(f"{path / 'migrate.cfg'} names no repository_id")
    scripts: dict[int, Path] = {}
    for script in sorted((path / "versions").glob("[0-9]*_*.py")):
        number = int(re.match(r"\d+", script.name).group())
        if number in scripts:
            raise BundleError(f"legacy repository of {name!r} has two scripts numbered {number}")
        scripts[number] = script
    try:
        handoff = {int(v): str(r) for v, r in entry["handoff"].items()}
        lowest = int(entry.get("lowest_supported", 0))
    except (TypeError, ValueError, AttributeError):
        raise BundleError(
            f"legacy handoff of {name!r} must map version numbers to revisions"
        ) from None
    if not handoff:
        raise BundleError(f"legacy handoff map of {name!r} is empty")
    expected = set(range(1, max(handoff) + 1))
    if set(scripts) != expected:
        missing = sorted(expected - set(scripts))
        extra = sorted(set(scripts) - expected)
        raise BundleError(
            f"legacy map of {name!r} has a gap: scripts 1..{max(handoff)} are needed up to the "
            f"handoff; missing {missing or 'none'}, beyond the handoff {extra or 'none'}"
        )
    if not 0 <= lowest <= min(handoff):
        raise BundleError(f"legacy lowest_supported of {name!r} lies beyond its handoff")
    return LegacyRepository(
        path=path,
        repository_id=repository_id,
        scripts=scripts,
        lowest_supported=lowest,
        handoff=handoff,
        too_old_hint=str(entry.get("too_old_hint", "")),
    )


def _check_legacy_table(component: Component, table: str) -> None:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(component.legacy.path / "migrate.cfg")
    declared = cfg.get("db_settings", "version_table", fallback="migrate_version")
    if declared != table:
        raise BundleError(
            f"legacy repository of {component.name!r} keeps versions in {declared!r}, "
            f"but the manifest's legacy_version_table is {table!r}"
        )
