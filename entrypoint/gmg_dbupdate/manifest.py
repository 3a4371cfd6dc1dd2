"""The bundle's ``manifest.toml``, parsed and validated into frozen values (manifest v2).

Nothing here imports the bundle's code or asks Alembic anything: every check is about the
manifest's own shape, its paths and its identifiers. Every defect is a ``BundleError`` (64).
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError, ConfigError

MANIFEST_NAME = "manifest.toml"
BOOTSTRAPS = ("models", "migrations")  # how a fresh database gets a component
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_REVISION = re.compile(r"[A-Za-z0-9_]{1,32}")  # fits Alembic's varchar(32) version_num
# issue 15: how much of the Alembic phase one transaction holds (see transactions.py)
TRANSACTION_MODES = ("run", "component", "revision")


@dataclass(frozen=True)
class TableName:
    """A plain SQL identifier, optionally schema-qualified; quoted by the dialect when used."""

    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class LegacyRepository:
    """A frozen sqlalchemy-migrate repository and where its history hands over to Alembic."""

    path: Path
    repository_id: str
    scripts: dict[int, Path]
    lowest_supported: int
    handoff: dict[int, str]  # legacy version -> Alembic revision it equals
    too_old_hint: str
    initial_version: int = 0  # the version a database is put under control at (squashed: > 0)

    @property
    def last(self) -> int:
        return max(self.handoff)

    @property
    def repositories(self) -> tuple[LegacyRepository, ...]:
        return (self,)

    def target(self, version: int) -> int:
        """The handoff version a database at legacy ``version`` walks to."""
        return min(v for v in self.handoff if v >= version)

    def ordered_handoff(self) -> list[str]:
        """The handoff revisions in legacy order."""
        return [self.handoff[v] for v in sorted(self.handoff)]

    def position(self, rows: dict[str, int]) -> int | None:
        """This component's legacy version from ``migrate_version``'s rows (None: no row)."""
        return rows.get(self.repository_id)

    def steps(self, component: str, version: int) -> list[dict]:
        """The legacy runner's steps that walk a database at ``version`` to its target."""
        return [
            {
                "component": component,
                "repository": str(self.path),
                "initial": self.initial_version,
                "to": self.target(version),
            }
        ]


class Position(tuple):
    """The versions of a component's several legacy repositories, in their declared order.

    Compared element-wise, so the classifier's questions keep their meaning: ``p > last`` when
    any repository is beyond its last version, ``p < lowest`` when any is below its lowest,
    ``p < target`` when any still has scripts to run."""

    def __lt__(self, other: tuple) -> bool:
        return any(a < b for a, b in zip(self, other, strict=True))

    def __gt__(self, other: tuple) -> bool:
        return any(a > b for a, b in zip(self, other, strict=True))

    def __le__(self, other: tuple) -> bool:
        return all(a <= b for a, b in zip(self, other, strict=True))

    def __ge__(self, other: tuple) -> bool:
        return all(a >= b for a, b in zip(self, other, strict=True))


@dataclass(frozen=True)
class LegacyRepositories:
    """Several sqlalchemy-migrate repositories of one component sharing the legacy version table
    (one row each), walked in their declared order (e.g. expand, data migrations, contract).

    Each repository maps its versions to the same handoff revisions, in the same order; the
    component hands over at a revision once every repository stands at its version for it.
    Positions are ``Position`` tuples, one version per repository."""

    repositories: tuple[LegacyRepository, ...]

    @property
    def handoff(self) -> dict[Position, str]:
        points = [sorted(r.handoff) for r in self.repositories]
        revisions = self.repositories[0].ordered_handoff()
        return {Position(p[k] for p in points): rev for k, rev in enumerate(revisions)}

    @property
    def last(self) -> Position:
        return Position(r.last for r in self.repositories)

    @property
    def lowest_supported(self) -> Position:
        return Position(r.lowest_supported for r in self.repositories)

    @property
    def too_old_hint(self) -> str:
        return next((r.too_old_hint for r in self.repositories if r.too_old_hint), "")

    def target(self, version: Position) -> Position:
        return next(point for point in self.handoff if version <= point)

    def ordered_handoff(self) -> list[str]:
        return self.repositories[0].ordered_handoff()

    def position(self, rows: dict[str, int]) -> Position | None:
        """A repository without a row (yet) stands at its initial version, as
        sqlalchemy-migrate's apps put each one under control when it first walked it."""
        if not any(r.repository_id in rows for r in self.repositories):
            return None
        return Position(rows.get(r.repository_id, r.initial_version) for r in self.repositories)

    def steps(self, component: str, version: Position) -> list[dict]:
        target = self.target(version)
        return [
            {
                "component": component,
                "repository": str(r.path),
                "initial": r.initial_version,
                "to": to,
            }
            for r, v, to in zip(self.repositories, version, target, strict=True)
            if v < to or r.initial_version == v  # (an absent row is written by the runner)
        ]


@dataclass(frozen=True)
class RegistryScripts:
    """A component's migrations in the app's own legacy registry (MediaGoblin's, issue 12)."""

    migrations: Path
    lowest_supported: int
    handoff: dict[int, str]
    too_old_hint: str


@dataclass(frozen=True)
class LegacyRegistry:
    """The app's own legacy version table: one row (name, version) per component."""

    table: TableName
    name_column: str
    version_column: str
    marker: str  # the database is under legacy control only if a row with this name exists


@dataclass(frozen=True)
class Component:
    name: str
    plugin: bool
    module: str | None  # the app's own name for it (its config / legacy registry name)
    models: Path | str  # a file defining define(metadata), or "package.module:attribute"
    versions: tuple[Path, ...]
    heads: tuple[str, ...]
    base: tuple[str, ...] | None  # None: whatever revisions start the component
    foundations: Path | None
    legacy: LegacyRepository | LegacyRepositories | None = None
    registry: RegistryScripts | None = None
    transaction: str | None = None  # None: the manifest's top-level ``transaction``
    bootstrap: str = "models"  # a fresh install: "models" (create_all + stamp) or "migrations"


@dataclass(frozen=True)
class Retired:
    """A revision real databases may hold that the bundle no longer ships."""

    revision: str
    down_revision: str | None
    component: str
    module: str | None
    tables: tuple[TableName, ...]  # left in place (user data)


@dataclass(frozen=True)
class Manifest:
    root: Path
    name: str
    version_table: TableName
    legacy_version_table: TableName
    default_plugins: tuple[str, ...]
    schemaless_plugins: tuple[str, ...]
    core: Component
    plugins: dict[str, Component]
    retired: dict[str, Retired]
    legacy_registry: LegacyRegistry | None
    pythonpath: tuple[Path, ...] = ()  # put before sys.path for the bundle's own Python
    transaction: str = "run"
    # the database backends the bundle's history runs on (config.BACKENDS names); None: any
    backends: tuple[str, ...] | None = None

    def transaction_of(self, name: str) -> str:
        """The transaction mode of component ``name`` (its own, else the top level's)."""
        return self.component(name).transaction or self.transaction

    @property
    def components(self) -> list[Component]:
        return [self.core, *self.plugins.values()]

    def component(self, name: str) -> Component:
        return self.core if name == self.core.name else self.plugins[name]

    @property
    def legacy_components(self) -> list[Component]:
        return [c for c in self.components if c.legacy is not None]

    def resolve_plugins(self, raw: str | None, modules: tuple[str, ...] | None = None) -> tuple:
        """``--plugins`` (``all``, ``none``, or ``a,b``), else the app config's plugin
        ``modules``, else the default → plugin names in manifest order."""
        if raw is None and modules is not None:
            return self.plugins_for_modules(modules)
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

    def plugins_for_modules(self, modules: tuple[str, ...]) -> tuple[str, ...]:
        """An app config's enabled plugin modules → plugin names; 64 naming any unknown one."""
        by_module = {c.module: c.name for c in self.plugins.values() if c.module}
        unknown = [m for m in modules if m not in by_module and m not in self.schemaless_plugins]
        if unknown:
            raise ConfigError(
                f"the app config enables plugin(s) this bundle does not know: {', '.join(unknown)}"
            )
        wanted = {by_module[m] for m in modules if m in by_module}
        return tuple(name for name in self.plugins if name in wanted)


def load_manifest(root: Path) -> Manifest:
    root = Path(root).resolve()
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise BundleError(f"migrations bundle not found: {root} is not a directory")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"migrations bundle has no manifest: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(f"cannot read bundle manifest {path}: {exc}") from None
    top = _Table(raw, "manifest", root)
    core = _component(top.table("core", required=True), plugin=False)
    plugins: dict[str, Component] = {}
    for i, entry in enumerate(top.tables("plugins")):
        component = _component(entry, plugin=True, where=f"plugins[{i}]")
        if component.name in plugins or component.name == core.name:
            raise BundleError(f"bundle manifest names component {component.name!r} twice")
        plugins[component.name] = component
    registry = top.table("legacy_registry")
    manifest = Manifest(
        root=root,
        name=top.string("name", required=True),
        version_table=top.identifier("version_table", "alembic_version"),
        legacy_version_table=top.identifier("legacy_version_table", "migrate_version"),
        default_plugins=top.strings("default_plugins"),
        schemaless_plugins=top.strings("schemaless_plugins", dotted=True),
        core=core,
        plugins=plugins,
        retired=_retired(top),
        legacy_registry=None if registry is None else _legacy_registry(registry),
        transaction=_transaction(top) or "run",
        pythonpath=tuple(top.inside(p, "pythonpath") for p in top.strings("pythonpath")),
        backends=_backends(top),
    )
    top.done()
    _cross_checks(manifest)
    return manifest


def _backends(top: _Table) -> tuple[str, ...] | None:
    """``backends = ["postgresql", "sqlite"]``: a history written for some databases only (its
    revisions use one dialect's SQL, its models types another refuses) says so. The names are
    checked against the engine's backends by ``Bundle.load`` (this module knows none)."""
    if "backends" not in top.raw:
        top.read.add("backends")
        return None
    values = top.strings("backends")
    if not values:
        raise BundleError("bundle manifest: backends names no backend")
    return tuple(dict.fromkeys(values))


def _cross_checks(manifest: Manifest) -> None:
    unknown = set(manifest.default_plugins) - set(manifest.plugins)
    if unknown:
        raise BundleError(f"bundle default_plugins names unknown plugins: {sorted(unknown)}")
    folders: dict[Path, str] = {}
    for component in manifest.components:
        for folder in component.versions:
            if folder in folders:
                raise BundleError(
                    f"versions folder {folder} is claimed by {folders[folder]!r} and "
                    f"{component.name!r}: a revision belongs to one component"
                )
            folders[folder] = component.name
    modules = [c.module for c in manifest.components if c.module]
    if len(modules) != len(set(modules)):
        raise BundleError(f"two components share a module name: {modules}")
    clash = set(modules) & set(manifest.schemaless_plugins)
    if clash:
        raise BundleError(f"schemaless_plugins names components that own tables: {sorted(clash)}")
    for component in manifest.legacy_components:
        for repository in component.legacy.repositories:
            _check_legacy_table(component.name, repository, manifest.legacy_version_table)
    ids = [r.repository_id for c in manifest.legacy_components for r in c.legacy.repositories]
    if len(ids) != len(set(ids)):
        raise BundleError(f"legacy repositories share a repository_id: {ids}")


class _Table:
    """One TOML table of the manifest, read key by key with its type checked."""

    def __init__(self, raw: Any, where: str, root: Path) -> None:
        if not isinstance(raw, dict):
            raise BundleError(f"bundle manifest: {where} must be a table, not {_kind(raw)}")
        self.raw, self.where, self.root = raw, where, root
        self.read: set[str] = set()

    def _get(self, key: str, types: tuple[type, ...], what: str, required: bool) -> Any:
        self.read.add(key)
        if key not in self.raw:
            if required:
                raise BundleError(f"bundle manifest: {self.where} lacks {key!r}")
            return None
        value = self.raw[key]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise BundleError(
                f"bundle manifest: {self.where}.{key} must be {what}, not {_kind(value)}"
            )
        return value

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self._get(key, (str,), "a string", required)
        return default if value is None else value

    def integer(self, key: str, default: int) -> int:
        value = self._get(key, (int,), "an integer", False)
        return default if value is None else value

    def strings(self, key: str, *, dotted: bool = False, allow_string: bool = False) -> tuple:
        value = self._get(key, (list, str) if allow_string else (list,), "a list of strings", False)
        values = [value] if isinstance(value, str) else value or []
        if not all(isinstance(v, str) for v in values):
            raise BundleError(f"bundle manifest: {self.where}.{key} must hold only strings")
        if dotted:
            for v in values:
                _check_dotted(v, f"{self.where}.{key}")
        return tuple(values)

    def revisions(self, key: str, *, required: bool = False) -> tuple[str, ...] | None:
        if key not in self.raw and not required:
            self.read.add(key)
            return None
        values = self.strings(key, allow_string=True)
        if not values:
            raise BundleError(f"bundle manifest: {self.where}.{key} names no revision")
        for v in values:
            if not _REVISION.fullmatch(v):
                raise BundleError(f"bundle manifest: {self.where}.{key}: {v!r} is no revision id")
        return values

    def identifier(self, key: str, default: str) -> TableName:
        return table_name(self.string(key, default=default), f"{self.where}.{key}")

    def table(self, key: str, *, required: bool = False) -> _Table | None:
        value = self._get(key, (dict,), "a table", required)
        return None if value is None else _Table(value, f"{self.where}.{key}", self.root)

    def tables(self, key: str) -> list[_Table]:
        value = self._get(key, (list,), "an array of tables ([[" + key + "]])", False) or []
        return [_Table(v, f"{key}[{i}]", self.root) for i, v in enumerate(value)]

    def path(self, key: str, *, required: bool = False) -> Path | None:
        value = self.string(key, required=required)
        return None if value is None else self.inside(value, key)

    def inside(self, value: str, key: str) -> Path:
        """A path relative to the bundle that exists and stays inside it."""
        path = (self.root / value).resolve()
        if not path.is_relative_to(self.root):
            raise BundleError(
                f"bundle manifest: {self.where}.{key} = {value!r} leaves the bundle {self.root}"
            )
        if not path.exists():
            raise BundleError(f"bundle manifest: {self.where}.{key}: {path} does not exist")
        return path

    def done(self) -> None:
        """Unknown keys are refused: a misspelt key must not be silently ignored."""
        extra = sorted(set(self.raw) - self.read)
        if extra:
            raise BundleError(f"bundle manifest: {self.where} has unknown key(s) {extra}")


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def table_name(text: str, where: str) -> TableName:
    """``name`` or ``schema.name``, each a plain identifier; anything else is refused (64)."""
    parts = text.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise BundleError(
            f"bundle manifest: {where} = {text!r} is not a plain SQL identifier "
            "(letters, digits, _; optionally schema.name)"
        )
    return TableName(parts[-1], parts[0] if len(parts) == 2 else None)


def _check_dotted(text: str, where: str) -> None:
    if not _DOTTED.fullmatch(text):
        raise BundleError(f"bundle manifest: {where}: {text!r} is not a dotted module name")


def _component(entry: _Table, *, plugin: bool, where: str = "core") -> Component:
    entry.where = where
    name = entry.string("name", required=True)
    entry.where = f"{where} ({name})"
    module = entry.string("module")
    if module is not None:
        _check_dotted(module, f"{entry.where}.module")
    versions = entry.strings("versions", allow_string=True)
    if not versions:
        raise BundleError(f"bundle manifest: {entry.where} lacks 'versions'")
    legacy = _legacy_side(entry, name)
    registry = entry.table("registry")
    component = Component(
        name=name,
        plugin=plugin,
        module=module,
        models=_models(entry),
        versions=tuple(entry.inside(v, "versions") for v in versions),
        heads=entry.revisions("heads", required=True),
        base=entry.revisions("base"),
        foundations=entry.path("foundations"),
        legacy=legacy,
        registry=None if registry is None else _registry_scripts(registry),
        transaction=_transaction(entry),
        bootstrap=entry.string("bootstrap", default="models"),
    )
    if component.bootstrap not in BOOTSTRAPS:
        raise BundleError(
            f"bundle manifest: {entry.where}.bootstrap = {component.bootstrap!r}: "
            f"one of {', '.join(BOOTSTRAPS)}"
        )
    entry.done()
    return component


def _transaction(entry: _Table) -> str | None:
    value = entry.string("transaction")
    if value is not None and value not in TRANSACTION_MODES:
        raise BundleError(
            f"bundle manifest: {entry.where}.transaction must be one of "
            f"{', '.join(TRANSACTION_MODES)}, not {value!r}"
        )
    return value


def _models(entry: _Table) -> Path | str:
    """A file relative to the bundle, or ``package.module:attribute`` (a MetaData or a
    declarative base) imported through the manifest's ``pythonpath``."""
    value = entry.string("models", required=True)
    if ":" not in value:
        return entry.inside(value, "models")
    module, _, attribute = value.partition(":")
    _check_dotted(module, f"{entry.where}.models")
    if not _DOTTED.fullmatch(attribute):
        raise BundleError(
            f"bundle manifest: {entry.where}.models = {value!r}: expected package.module:attribute"
        )
    return value


def _handoff(entry: _Table) -> dict[int, str]:
    raw = entry.table("handoff", required=True).raw
    try:
        handoff = {int(v): r for v, r in raw.items() if isinstance(r, str)}
    except ValueError:
        handoff = {}
    if not handoff or len(handoff) != len(raw):
        raise BundleError(
            f"bundle manifest: {entry.where}.handoff must map version numbers to revisions"
        )
    return handoff


def _legacy_side(entry: _Table, name: str) -> LegacyRepository | LegacyRepositories | None:
    """``legacy = {…}``: one repository; ``[[….legacy]]``: several, in walk order."""
    value = entry._get("legacy", (dict, list), "a table or an array of tables", False)
    if value is None:
        return None
    if isinstance(value, dict):
        return _legacy(_Table(value, f"{entry.where}.legacy", entry.root), name)
    if not value:
        raise BundleError(f"bundle manifest: {entry.where}.legacy names no repository")
    repositories = tuple(
        _legacy(_Table(v, f"{entry.where}.legacy[{i}]", entry.root), name)
        for i, v in enumerate(value)
    )
    first = repositories[0].ordered_handoff()
    for repository in repositories[1:]:
        if repository.ordered_handoff() != first:
            raise BundleError(
                f"legacy repositories of {name!r} hand over at different revisions: "
                f"{repositories[0].repository_id} at {first}, {repository.repository_id} at "
                f"{repository.ordered_handoff()} (each must map one version to each revision, "
                "in the same order)"
            )
    return LegacyRepositories(repositories)


def _legacy(entry: _Table, name: str) -> LegacyRepository:
    path = entry.path("repository", required=True)
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
    handoff = _handoff(entry)
    initial = entry.integer("initial_version", 0)
    lowest = entry.integer("lowest_supported", initial)
    if initial < 0 or min(handoff) < initial:
        raise BundleError(
            f"legacy initial_version of {name!r} ({initial}) lies beyond its handoff "
            f"{min(handoff)} or below 0"
        )
    expected = set(range(initial + 1, max(handoff) + 1))
    if set(scripts) != expected:
        missing = sorted(expected - set(scripts))
        extra = sorted(set(scripts) - expected)
        raise BundleError(
            f"legacy map of {name!r} ({repository_id}) has a gap: scripts "
            f"{initial + 1}..{max(handoff)} are needed from its initial_version ({initial}) up "
            f"to the handoff; missing {missing or 'none'}, outside {extra or 'none'}"
        )
    if not initial <= lowest <= min(handoff):
        raise BundleError(
            f"legacy lowest_supported of {name!r} lies beyond its handoff or below its "
            "initial_version"
        )
    repository = LegacyRepository(
        path=path,
        repository_id=repository_id,
        scripts=scripts,
        lowest_supported=lowest,
        handoff=handoff,
        too_old_hint=entry.string("too_old_hint", default=""),
        initial_version=initial,
    )
    entry.done()
    return repository


def _registry_scripts(entry: _Table) -> RegistryScripts:
    scripts = RegistryScripts(
        migrations=entry.path("migrations", required=True),
        lowest_supported=entry.integer("lowest_supported", 0),
        handoff=_handoff(entry),
        too_old_hint=entry.string("too_old_hint", default=""),
    )
    entry.done()
    return scripts


def _legacy_registry(entry: _Table) -> LegacyRegistry:
    def column(key: str) -> str:
        value = entry.string(key, required=True)
        if not _IDENTIFIER.fullmatch(value):
            raise BundleError(f"bundle manifest: {entry.where}.{key} = {value!r} is no identifier")
        return value

    registry = LegacyRegistry(
        table=table_name(entry.string("table", required=True), f"{entry.where}.table"),
        name_column=column("name_column"),
        version_column=column("version_column"),
        marker=entry.string("marker", required=True),
    )
    entry.done()
    return registry


def _retired(top: _Table) -> dict[str, Retired]:
    retired: dict[str, Retired] = {}
    for entry in top.tables("retired"):
        (revision,) = entry.revisions("revision", required=True)
        down = entry.revisions("down_revision")
        if down is not None and len(down) != 1:
            raise BundleError(f"bundle manifest: {entry.where}.down_revision names one revision")
        module = entry.string("module")
        if module is not None:
            _check_dotted(module, f"{entry.where}.module")
        retired[revision] = Retired(
            revision=revision,
            down_revision=None if down is None else down[0],
            component=entry.string("component", required=True),
            module=module,
            tables=tuple(table_name(t, f"{entry.where}.tables") for t in entry.strings("tables")),
        )
        entry.done()
    return retired


def _check_legacy_table(name: str, repository: LegacyRepository, table: TableName) -> None:
    cfg = configparser.ConfigParser()
    cfg.read(repository.path / "migrate.cfg")
    declared = cfg.get("db_settings", "version_table", fallback="migrate_version")
    if declared != str(table):
        raise BundleError(
            f"legacy repository {repository.repository_id} of {name!r} keeps versions in "
            f"{declared!r}, "
            f"but the manifest's legacy_version_table is {str(table)!r}"
        )
