"""Every starting point converges on the fresh-bootstrap schema, with its rows intact.

The matrix is generated from the bundle, not picked by hand, and runs on SQLite and PostgreSQL:

* every legacy version a component may start from (``lowest_supported`` to its last), the
  other legacy components at their last version; and each legacy plugin version against each
  core handoff version;
* every Alembic revision of every branch (a core revision with the plugins at their first
  revision; a plugin revision with just the core revisions it needs);
* each plugin enabled late, on a database at core's first revision that has the others.

Each case builds the database at its starting point (legacy ones with sqlalchemy-migrate
itself, see ``legacy_build``), seeds rows of that era (``eras``), runs ``gmg dbupdate --plugins
all`` once, then requires ``gmg dbverify`` to pass, the schema to equal a fresh bootstrap's and
the rows to have survived as the migrations intend. Separately, the schema each handoff version
leaves must equal its Alembic revision's exactly, and refused or failing legacy databases must
exit with the contract's codes.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import (
    BUNDLE,
    backend_of,
    drop_database,
    engine_for,
    execute,
    heads,
    new_database,
    query,
    run_gmg,
    slow_except,
    version_rows,
)
from eras import HANDOFF, Era, assert_survived, seed
from gmg_dbupdate.bundle import Bundle
from legacy_build import build_legacy_db, legacy_repositories

VERSION_TABLES = ("alembic_version", "migrate_version")
BUNDLE_OBJ = Bundle.load(BUNDLE)
SCRIPT = BUNDLE_OBJ.script  # Alembic's own view of the bundle's revisions
HEADS = heads()
MANIFEST = tomllib.loads((BUNDLE / "manifest.toml").read_text(encoding="utf-8"))
_FOLDERS = {
    (BUNDLE / folder).resolve(): entry["name"]
    for entry in [MANIFEST["core"], *MANIFEST.get("plugins", [])]
    for folder in entry["versions"]
}
OWNER = {r.revision: _FOLDERS[Path(r.path).resolve().parent] for r in SCRIPT.walk_revisions()}
LEGACY = {
    entry["name"]: entry["legacy"]
    for entry in [MANIFEST["core"], *MANIFEST.get("plugins", [])]
    if "legacy" in entry
}
CORE = MANIFEST["core"]["name"]
PLUGINS = [entry["name"] for entry in MANIFEST.get("plugins", [])]


# --- the history, read from the bundle -------------------------------------------------------


def requires(revision: str) -> set[str]:
    """The revision and everything it needs: down revisions and ``depends_on``, transitively."""
    seen: set[str] = set()
    todo = [revision]
    while todo:
        rev = SCRIPT.get_revision(todo.pop())
        if rev.revision in seen:
            continue
        seen.add(rev.revision)
        for parent in (*_tuple(rev.down_revision), *_tuple(rev.dependencies)):
            todo.append(SCRIPT.get_revision(parent).revision)
    return seen


def _tuple(value) -> tuple:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def base_of(component: str) -> str:
    (base,) = [
        r.revision
        for r in SCRIPT.walk_revisions()
        if OWNER[r.revision] == component and not _tuple(r.down_revision)
    ]
    return base


def last_legacy(component: str) -> int:
    return max(HANDOFF[component])


def target(component: str, version: int) -> int:
    """The handoff version a database at legacy ``version`` is walked to."""
    return min(v for v in HANDOFF[component] if v >= version)


def scripts_between(component: str, after: int, upto: int) -> list[tuple[int, str]]:
    versions = legacy_repositories()[component] / "versions"
    found = {int(p.name[:3]): p.name for p in versions.glob("[0-9][0-9][0-9]_*.py")}
    return [(v, found[v]) for v in range(after + 1, upto + 1)]


# --- the matrix ------------------------------------------------------------------------------


def _legacy_cases() -> list:
    combos: list[dict[str, int]] = []
    last = {name: last_legacy(name) for name in LEGACY}
    for name, legacy in LEGACY.items():
        for version in range(int(legacy.get("lowest_supported", 0)), last[name] + 1):
            combos.append({**last, name: version})
    for name, legacy in LEGACY.items():
        if name == CORE:
            continue
        for version in range(int(legacy.get("lowest_supported", 0)), last[name] + 1):
            for core_version in sorted(HANDOFF[CORE]):
                combos.append({**last, CORE: core_version, name: version})
    unique = {tuple(sorted(c.items())): c for c in combos}
    return [pytest.param(c, id="-".join(f"{k}{v}" for k, v in c.items())) for c in unique.values()]


def _alembic_cases() -> list:
    cases = []
    for rev in SCRIPT.walk_revisions():
        component = OWNER[rev.revision]
        targets = [rev.revision]
        if component == CORE:  # plugins installed since their first revision, where possible
            reached = requires(rev.revision)
            targets += [
                base_of(p) for p in PLUGINS if requires(base_of(p)) - {base_of(p)} <= reached
            ]
        cases.append(pytest.param(targets, id=f"{component}-{rev.revision}"))
    return cases


def _on_backends(cases: list, sampled: tuple[int, ...] = (0, -1)) -> list:
    """Every case on SQLite and PostgreSQL; on MariaDB the cases at ``sampled`` only (the whole
    matrix there would add minutes to CI; the engine's MySQL path is the same for every case)."""
    chosen = {id(cases[i]) for i in sampled}
    return [
        pytest.param(*case.values, backend, marks=case.marks, id=f"{case.id}-{backend}")
        for case in cases
        for backend in ("sqlite", "postgresql", "mysql")
        if backend != "mysql" or id(case) in chosen
    ]


def _late_cases() -> list:
    cases = []
    for plugin in PLUGINS:
        others = [base_of(p) for p in PLUGINS if p != plugin]
        cases.append(pytest.param(plugin, [base_of(CORE), *others], id=f"late-{plugin}"))
    return cases


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="session")
def reference(request, tmp_path_factory):
    """Per backend, built once: a fresh bootstrap with every plugin (schema and version rows)."""
    cache: dict[str, tuple[dict, set[str]]] = {}

    def get(backend: str) -> tuple[dict, set[str]]:
        if backend not in cache:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
            else:
                url = new_database(request, backend, "ref")
            result = run_gmg("dbupdate", "--plugins", "all", "--database-url", url)
            assert result.code == 0, result
            cache[backend] = (strict_schema(url), version_rows(url))
            if backend != "sqlite":
                drop_database(request, url)
        return cache[backend]

    return get


@pytest.fixture
def twin_url(db_url, request, tmp_path):
    """A second empty database on the same backend as ``db_url``."""
    if backend_of(db_url) == "sqlite":
        yield f"sqlite:///{tmp_path / 'twin.db'}"
        return
    url = new_database(request, backend_of(db_url), "twin")
    yield url
    drop_database(request, url)


def build_alembic_db(url: str, targets: list[str]) -> Era:
    """Upgrade an empty database to each target revision (Alembic, the bundle's env)."""
    from alembic import command

    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            config = BUNDLE_OBJ.alembic_config(connection=connection)
            for revision in targets:
                command.upgrade(config, revision)
    finally:
        engine.dispose()
    return Era(revisions=frozenset().union(*(requires(t) for t in targets)))


def dbupdate_all(url: str, *extra: str):
    result = run_gmg("dbupdate", "--plugins", "all", "--database-url", url, *extra)
    assert result.code == 0, result
    assert result.last["event"] == "dbupdate.done", result
    return result


def assert_current(url: str, era: Era, reference) -> None:
    """Verified by ``gmg dbverify``, equal to a fresh bootstrap, the era's rows survived.

    The schema comparison is ``strict_schema`` (a superset of ``conftest.schema_of``).
    """
    verify = run_gmg("dbverify", "--plugins", "all", "--database-url", url)
    assert verify.code == 0, verify
    assert verify.stdout == "", verify
    schema, rows = reference(backend_of(url))
    assert strict_schema(url) == schema
    assert version_rows(url) == rows == set(HEADS.values())
    assert_survived(url, era)


def table_names(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def migrate_versions(url: str) -> dict[str, int]:
    return dict(query(url, "SELECT repository_id, version FROM migrate_version"))


def repository_ids() -> dict[str, str]:
    ids = {}
    for name, path in legacy_repositories().items():
        for line in (path / "migrate.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "repository_id":
                ids[name] = value.strip()
    return ids


# --- (a) every legacy version ----------------------------------------------------------------


@pytest.mark.slow  # the fast loop walks legacy histories in the tests below
@pytest.mark.parametrize(("versions", "db_url"), _on_backends(_legacy_cases()), indirect=["db_url"])
def test_legacy_database_converges(versions, db_url, reference):
    build_legacy_db(db_url, versions)
    era = Era(legacy=dict(versions))
    seed(db_url, era)

    result = dbupdate_all(db_url)

    assert result.named("schema.classified")[0]["state"] == "legacy"
    walked = result.named("legacy.applied")
    expected = {
        (name, version, script)
        for name, at in versions.items()
        for version, script in scripts_between(name, at, target(name, at))
    }
    assert {(e["component"], e["version"], e["script"]) for e in walked} == expected
    assert len(walked) == len(expected)
    repositories = legacy_repositories()
    for event in walked:
        assert Path(event["repository"]).resolve() == repositories[event["component"]].resolve()
        assert isinstance(event["duration_s"], int | float) and event["duration_s"] >= 0
    for name in versions:  # each repository walks upwards, one script at a time
        mine = [e["version"] for e in walked if e["component"] == name]
        assert mine == sorted(mine), mine
    handed = {(e["component"], e["revision"]) for e in result.named("legacy.handoff")}
    assert handed == {(n, HANDOFF[n][target(n, v)]) for n, v in versions.items()}
    names = [e["event"] for e in result.events]
    if walked:  # every script ran before anything was stamped
        assert names.index("legacy.handoff") > max(
            i for i, n in enumerate(names) if n == "legacy.applied"
        )

    assert_current(db_url, era, reference)
    ids = repository_ids()
    # sqlalchemy-migrate's rows stay where the handoff left them; Alembic's rows now win
    assert migrate_versions(db_url) == {ids[n]: target(n, v) for n, v in versions.items()}


def test_second_run_after_handoff_is_a_no_op(db_url):
    versions = {
        name: max(int(legacy.get("lowest_supported", 0)), 1) for name, legacy in LEGACY.items()
    }
    build_legacy_db(db_url, versions)
    dbupdate_all(db_url)
    before = strict_schema(db_url)
    again = dbupdate_all(db_url)
    assert again.named("schema.classified")[0]["state"] == "alembic"
    assert again.last["changed"] is False
    assert not again.named("legacy.applied") and not again.named("legacy.handoff")
    assert strict_schema(db_url) == before


@pytest.mark.slow
def test_disabled_legacy_plugin_waits_then_catches_up(db_url, reference):
    """A legacy plugin left out of ``--plugins`` keeps its legacy version; enabled, it walks on."""
    plugin = next(name for name in LEGACY if name != CORE)
    versions = {CORE: last_legacy(CORE), plugin: int(LEGACY[plugin].get("lowest_supported", 0))}
    build_legacy_db(db_url, versions)
    era = Era(legacy=versions)
    seed(db_url, era)
    ids = repository_ids()

    core_only = run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url)
    assert core_only.code == 0, core_only
    assert [e["plugin"] for e in core_only.named("plugin.disabled")] == [plugin]
    assert {e["component"] for e in core_only.named("legacy.handoff")} == {CORE}
    assert migrate_versions(db_url)[ids[plugin]] == versions[plugin]

    result = dbupdate_all(db_url)
    assert {e["component"] for e in result.named("legacy.applied")} == {plugin}
    assert {e["component"] for e in result.named("legacy.handoff")} == {plugin}
    assert_current(db_url, era, reference)


# --- (b) every Alembic revision of every branch ----------------------------------------------


@pytest.mark.parametrize(
    ("targets", "db_url"), _on_backends(slow_except(_alembic_cases(), 0)), indirect=["db_url"]
)
def test_alembic_database_converges(targets, db_url, reference):
    era = build_alembic_db(db_url, targets)
    seed(db_url, era)

    result = dbupdate_all(db_url)

    assert result.named("schema.classified")[0]["state"] == "alembic"
    applied = [e["revision"] for e in result.named("migration.applied")]
    assert len(applied) == len(set(applied)), applied
    assert not set(applied) & era.revisions, applied
    assert not result.named("legacy.applied")
    assert_current(db_url, era, reference)


# --- (c) each plugin enabled late ------------------------------------------------------------


@pytest.mark.parametrize(("plugin", "targets"), slow_except(_late_cases(), 0))
def test_plugin_enabled_late_converges(plugin, targets, db_url, reference):
    era = build_alembic_db(db_url, targets)
    assert not era.has(base_of(plugin))
    seed(db_url, era)

    result = dbupdate_all(db_url)

    assert [e["component"] for e in result.named("schema.bootstrapped")] == [plugin]
    has_foundations = "foundations" in next(p for p in MANIFEST["plugins"] if p["name"] == plugin)
    laid = [e["component"] for e in result.named("foundations.laid")]
    assert laid == ([plugin] if has_foundations else [])
    assert_current(db_url, era, reference)


# --- each handoff version is exactly its Alembic revision ------------------------------------


def _handoff_cases() -> list:
    cases = []
    for name in LEGACY:
        core_versions = [None] if name == CORE else sorted(HANDOFF[CORE])
        for version in sorted(HANDOFF[name]):
            for core_version in core_versions:
                versions = (
                    {name: version}
                    if core_version is None
                    else {
                        CORE: core_version,
                        name: version,
                    }
                )
                cases.append(
                    pytest.param(versions, id="-".join(f"{k}{v}" for k, v in versions.items()))
                )
    return cases


def strict_schema(url: str) -> dict:
    """``conftest.schema_of`` and more: verbatim defaults, key options, checks, PK names.

    Read with the inspector's multi-table calls: on PostgreSQL a tenth of the time that
    table-by-table reflection takes, which matters in a matrix this size.
    """
    engine = engine_for(url)
    try:
        insp = sa.inspect(engine)
        names = sorted(set(insp.get_table_names()) - set(VERSION_TABLES))
        columns = insp.get_multi_columns(filter_names=names)
        pks = insp.get_multi_pk_constraint(filter_names=names)
        fks = insp.get_multi_foreign_keys(filter_names=names)
        uniques = insp.get_multi_unique_constraints(filter_names=names)
        indexes = insp.get_multi_indexes(filter_names=names)
        checks = insp.get_multi_check_constraints(filter_names=names)
    finally:
        engine.dispose()
    picture = {}
    for name in names:
        key = (None, name)
        picture[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in columns[key]
            ],
            "pk": (pks[key].get("name"), sorted(pks[key]["constrained_columns"])),
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    tuple(sorted((fk.get("options") or {}).items())),
                )
                for fk in fks[key]
            ),
            "uniques": sorted((u["name"], tuple(u["column_names"])) for u in uniques[key]),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in indexes[key]
            ),
            "checks": sorted((c["name"], " ".join(c["sqltext"].split())) for c in checks[key]),
        }
    return picture


def all_rows(url: str) -> dict[str, list[tuple]]:
    engine = engine_for(url)
    try:
        names = sorted(set(sa.inspect(engine).get_table_names()) - set(VERSION_TABLES))
        with engine.connect() as c:
            return {
                n: [tuple(r) for r in c.execute(sa.text(f'SELECT * FROM "{n}" ORDER BY 1'))]
                for n in names
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize("versions", slow_except(_handoff_cases(), 0))
def test_handoff_version_equals_its_alembic_revision(versions, db_url, twin_url):
    build_legacy_db(db_url, versions)
    build_alembic_db(twin_url, [HANDOFF[name][v] for name, v in versions.items()])
    assert strict_schema(db_url) == strict_schema(twin_url)
    assert all_rows(db_url) == all_rows(twin_url)  # the seed rows of the revisions, e.g. keynames


# --- refused and failing legacy databases ----------------------------------------------------


@pytest.mark.parametrize(
    "component",
    [pytest.param(n, id=n) for n, legacy in LEGACY.items() if legacy.get("too_old_hint")],
)
def test_legacy_version_below_lowest_supported_is_refused(component, db_url):
    lowest = int(LEGACY[component]["lowest_supported"])
    versions = {CORE: last_legacy(CORE)} if component != CORE else {}
    versions[component] = lowest - 1
    build_legacy_db(db_url, versions)
    before = (strict_schema(db_url), migrate_versions(db_url))

    result = run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url)

    assert result.code == 65, result
    assert LEGACY[component]["too_old_hint"] in result.last["error"]
    assert not result.named("legacy.applied")
    assert (strict_schema(db_url), migrate_versions(db_url)) == before
    assert run_gmg("dbupdate", "--check", "--database-url", db_url).code == 65


def test_legacy_rows_behind_the_handoff_with_alembic_rows_are_refused(db_url):
    first = min(HANDOFF[CORE])
    build_legacy_db(db_url, {CORE: first - 1})
    execute(
        db_url,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        f"INSERT INTO alembic_version (version_num) VALUES ('{HANDOFF[CORE][first]}')",
    )
    before = (strict_schema(db_url), migrate_versions(db_url), version_rows(db_url))

    result = run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url)

    assert result.code == 65, result
    assert "legacy" in result.last["error"]
    assert not result.named("legacy.applied") and not result.named("migration.applied")
    assert (strict_schema(db_url), migrate_versions(db_url), version_rows(db_url)) == before


def test_failing_legacy_script_exits_70_naming_it_and_releases_the_lock(db_url, twin_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    start = min(HANDOFF[CORE]) - 3  # walks two scripts, the second of which fails
    (_, good), (failing_version, failing) = scripts_between(CORE, start, start + 2)
    script = legacy_repositories(bundle)[CORE] / "versions" / failing
    script.write_text(
        script.read_text().replace(
            "def upgrade(migrate_engine):\n",
            "def upgrade(migrate_engine):\n    _upgrade(migrate_engine)\n"
            "    raise RuntimeError('injected failure')\n\n\ndef _upgrade(migrate_engine):\n",
            1,
        )
    )
    build_legacy_db(db_url, {CORE: start})
    ids = repository_ids()

    result = run_gmg(
        "dbupdate", "--plugins", "all", "--migrations", str(bundle), "--database-url", db_url
    )

    assert result.code == 70, result
    assert failing in f"{result.last.get('script')} {result.last['error']}", result.last
    assert "injected failure" in result.last["error"]
    assert [e["script"] for e in result.named("legacy.applied")] == [good]
    assert result.named("lock.released")
    assert not result.named("legacy.handoff") and not result.named("migration.applied")
    if backend_of(db_url) == "mysql":
        # MySQL commits each DDL statement: the failing script's schema changes stay, its
        # version bump does not, and the failure says so
        assert result.last["half_applied"] is True
        assert f"legacy script {failing} may be left half-applied" in result.last["error"]
        assert migrate_versions(db_url)[ids[CORE]] == failing_version - 1
        build_legacy_db(twin_url, {CORE: failing_version - 1})
        assert strict_schema(db_url) != strict_schema(twin_url)
        # the lock is free: the next run fails on the half-applied script, not on the lock
        again = run_gmg(
            "dbupdate", "--plugins", "all", "--database-url", db_url, "--lock-timeout", "2"
        )
        assert again.code == 70 and again.last["half_applied"] is True, again
        return
    # The failing script left nothing behind. A script that committed before it may stay
    # (PostgreSQL: one transaction per script) or be undone too (SQLite: the file is restored);
    # either way the schema is exactly that of the version recorded.
    at = migrate_versions(db_url)[ids[CORE]]
    assert at in (start, failing_version - 1), at
    assert "alembic_version" not in table_names(db_url) or not version_rows(db_url)
    build_legacy_db(twin_url, {CORE: at})
    assert strict_schema(db_url) == strict_schema(twin_url)

    # the lock is free and the database intact: the shipped bundle takes it all the way
    dbupdate_all(db_url)
    assert run_gmg("dbverify", "--plugins", "all", "--database-url", db_url).code == 0
