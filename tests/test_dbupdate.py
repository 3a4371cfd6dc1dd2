"""``gmg dbupdate`` end to end on real PostgreSQL and real SQLite files."""

from __future__ import annotations

import os

import pytest

from conftest import (
    BUNDLE,
    backend_of,
    drop_database,
    execute,
    heads,
    new_database,
    query,
    run_gmg,
    schema_of,
    slow_except,
    version_rows,
)
from gmg_dbupdate.bundle import Bundle

BUNDLE_OBJ = Bundle.load(BUNDLE)
DEFAULT_PLUGINS = BUNDLE_OBJ.default_plugins
ALL_TABLES = BUNDLE_OBJ.table_names()


def positions(url: str) -> dict[str, set[str]]:
    rows = list(version_rows(url))
    return {c: set(r) for c, r in BUNDLE_OBJ.branches.positions(rows).items()}


def expected_positions(components) -> dict[str, set[str]]:
    return {c: {heads()[c]} for c in components}


def tables(url: str) -> set[str]:
    return set(schema_of(url))


def bootstrap(url: str, *extra: str):
    result = run_gmg("dbupdate", "--database-url", url, *extra)
    assert result.code == 0, result
    return result


# --- fresh databases ------------------------------------------------------------------------


def test_fresh_bootstrap_creates_stamps_and_lays_foundations(db_url):
    result = bootstrap(db_url)
    names = [e["event"] for e in result.events if not e["event"].endswith(".log")]
    for expected in (
        "dbupdate.start",
        "db.ready",
        "lock.acquired",
        "schema.classified",
        "schema.bootstrapped",
        "foundations.laid",
        "lock.released",
        "dbupdate.done",
    ):
        assert expected in names, names
    assert names.index("lock.acquired") < names.index("schema.classified")
    assert names.index("schema.classified") < names.index("schema.bootstrapped")
    assert result.named("schema.classified")[0]["state"] == "fresh"
    assert result.last == result.named("dbupdate.done")[0]
    assert result.last["changed"] is True and result.last["applied"] == []
    assert result.last["bootstrapped"] == ["core", *DEFAULT_PLUGINS]
    assert isinstance(result.last["duration_s"], float)

    enabled = ["core", *DEFAULT_PLUGINS]
    want = set().union(*(ALL_TABLES[c] for c in enabled)) | {"alembic_version"}
    assert tables(db_url) == want
    assert positions(db_url) == expected_positions(enabled)
    laid = {e["component"] for e in result.named("foundations.laid")}
    assert laid == {
        c.name for c in BUNDLE_OBJ.components if c.name in enabled and c.foundations is not None
    }
    assert query(db_url, "SELECT count(*) FROM core__privileges")[0][0] >= 5


def test_second_run_is_a_no_op(db_url):
    bootstrap(db_url)
    before = schema_of(db_url)
    rows = version_rows(db_url)
    privileges = query(db_url, "SELECT * FROM core__privileges ORDER BY 1")
    again = bootstrap(db_url)
    assert again.last["changed"] is False
    assert again.last["applied"] == [] and again.last["bootstrapped"] == []
    assert again.named("schema.classified")[0]["state"] == "alembic"
    assert not again.named("migration.applied") and not again.named("schema.bootstrapped")
    assert schema_of(db_url) == before and version_rows(db_url) == rows
    assert query(db_url, "SELECT * FROM core__privileges ORDER BY 1") == privileges


def test_embedded_sqlite_default_in_working_directory(tmp_path):
    result = run_gmg("dbupdate", cwd=tmp_path)
    assert result.code == 0, result
    assert (tmp_path / "mediagoblin.db").exists()
    assert result.named("dbupdate.start")[0]["url"] == "sqlite:///mediagoblin.db"


# --- upgrades -------------------------------------------------------------------------------


def _older_revisions():
    branches = BUNDLE_OBJ.branches
    for rev in BUNDLE_OBJ.script.walk_revisions():
        if rev.revision not in branches.heads[branches.owner[rev.revision]]:
            yield pytest.param(
                branches.owner[rev.revision],
                rev.revision,
                id=f"{branches.owner[rev.revision]}-{rev.revision}",
            )


@pytest.fixture(scope="session")
def fresh_schema(request, tmp_path_factory):
    """The schema a fresh bootstrap with every plugin produces, per backend (built once)."""
    cache: dict[str, dict] = {}

    def get(backend: str) -> dict:
        if backend not in cache:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
            else:
                url = new_database(request, backend, "ref")
            bootstrap(url, "--plugins", "all")
            cache[backend] = schema_of(url, exclude=("alembic_version",))
            if backend != "sqlite":
                drop_database(request, url)
        return cache[backend]

    return get


@pytest.mark.parametrize(("component", "revision"), slow_except(list(_older_revisions()), 0))
def test_upgrade_from_every_older_revision_equals_fresh_bootstrap(
    component, revision, db_url, fresh_schema
):
    if component != "core":  # a plugin's history starts on a current core
        r = run_gmg(
            "alembic", "--database-url", db_url, "upgrade", heads()["core"], json_logs=False
        )
        assert r.code == 0, r
    r = run_gmg("alembic", "--database-url", db_url, "upgrade", revision, json_logs=False)
    assert r.code == 0, r
    assert revision in positions(db_url)[component]

    check = run_gmg("dbupdate", "--check", "--plugins", "all", "--database-url", db_url)
    assert check.code == 1, check
    assert check.last["current"] is False
    assert any(p["component"] == component for p in check.last["pending"]), check.last

    result = run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url)
    assert result.code == 0, result
    applied = [e["revision"] for e in result.named("migration.applied")]
    assert applied and len(applied) == len(set(applied)), applied
    assert revision not in applied
    assert heads()[component] in applied
    assert result.last["applied"] == applied and result.last["changed"] is True
    assert positions(db_url) == expected_positions(["core", *BUNDLE_OBJ.plugins])
    assert schema_of(db_url, exclude=("alembic_version",)) == fresh_schema(backend_of(db_url))

    after = run_gmg("dbupdate", "--check", "--plugins", "all", "--database-url", db_url)
    assert after.code == 0 and after.last["current"] is True, after


# --- plugins enabled late, disabled after install -------------------------------------------


def test_plugin_enabled_late_gets_tables_stamp_and_foundations(db_url, fresh_schema):
    bootstrap(db_url, "--plugins", "none")
    assert tables(db_url) == ALL_TABLES["core"] | {"alembic_version"}
    with_foundations = [c.name for c in BUNDLE_OBJ.plugins.values() if c.foundations]
    assert with_foundations, "the bundle should have a plugin with foundations"
    late = with_foundations[0]

    result = run_gmg("dbupdate", "--plugins", late, "--database-url", db_url)
    assert result.code == 0, result
    assert [e["component"] for e in result.named("schema.bootstrapped")] == [late]
    assert [e["component"] for e in result.named("foundations.laid")] == [late]
    assert result.last["bootstrapped"] == [late] and result.last["changed"] is True
    assert ALL_TABLES[late] <= tables(db_url)
    assert positions(db_url) == expected_positions(["core", late])
    for table in ALL_TABLES[late]:
        assert schema_of(db_url)[table] == fresh_schema(backend_of(db_url))[table]
    seeded = [t for t in ALL_TABLES[late] if query(db_url, f"SELECT count(*) FROM {t}")[0][0] > 0]
    assert seeded, "the late plugin's foundations were not laid"

    everything = run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url)
    assert everything.code == 0, everything
    assert positions(db_url) == expected_positions(["core", *BUNDLE_OBJ.plugins])
    assert schema_of(db_url, exclude=("alembic_version",)) == fresh_schema(backend_of(db_url))


def test_plugin_disabled_after_install_is_left_alone(db_url):
    bootstrap(db_url, "--plugins", "all")
    before = schema_of(db_url)
    rows = version_rows(db_url)
    result = run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url)
    assert result.code == 0, result
    warned = {e["plugin"] for e in result.named("plugin.disabled")}
    assert warned == set(BUNDLE_OBJ.plugins)
    assert all(e["level"] == "warning" for e in result.named("plugin.disabled"))
    assert result.last["changed"] is False
    assert schema_of(db_url) == before and version_rows(db_url) == rows
    check = run_gmg("dbupdate", "--check", "--plugins", "none", "--database-url", db_url)
    assert check.code == 0, check


def test_core_upgrades_while_an_installed_plugin_is_disabled(db_url):
    def revisions_of(component):
        return [
            r.revision
            for r in BUNDLE_OBJ.script.walk_revisions()
            if BUNDLE_OBJ.branches.owner[r.revision] == component
        ]

    plugin = DEFAULT_PLUGINS[0]
    for target in (revisions_of("core")[-1], revisions_of(plugin)[-1]):
        r = run_gmg("alembic", "--database-url", db_url, "upgrade", target, json_logs=False)
        assert r.code == 0, r
    plugin_at = positions(db_url)[plugin]
    plugin_tables = {t: v for t, v in schema_of(db_url).items() if t in ALL_TABLES[plugin]}

    result = run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url)
    assert result.code == 0, result
    assert {e["component"] for e in result.named("migration.applied")} == {"core"}
    assert positions(db_url)["core"] == {heads()["core"]}
    assert positions(db_url)[plugin] == plugin_at
    assert {t: v for t, v in schema_of(db_url).items() if t in ALL_TABLES[plugin]} == plugin_tables


# --- refused states -------------------------------------------------------------------------


@pytest.mark.reliability(case="unmanaged database", expected="exit 65, nothing touched")
def test_unmanaged_database_is_refused(db_url):
    execute(
        db_url,
        "CREATE TABLE core__users (id INTEGER PRIMARY KEY, username VARCHAR(30))",
        "INSERT INTO core__users (id, username) VALUES (1, 'alice')",
    )
    result = run_gmg("dbupdate", "--database-url", db_url)
    assert result.code == 65, result
    assert "core__users" in result.last["error"]
    assert result.named("schema.classified")[0]["state"] == "unmanaged"
    assert tables(db_url) == {"core__users"}
    assert query(db_url, "SELECT username FROM core__users") == [("alice",)]
    assert run_gmg("dbupdate", "--check", "--database-url", db_url).code == 65


def test_stray_plugin_tables_without_a_stamp_are_refused(db_url):
    bootstrap(db_url, "--plugins", "none")
    plugin = DEFAULT_PLUGINS[0]
    table = sorted(ALL_TABLES[plugin])[0]
    execute(db_url, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    rows = version_rows(db_url)
    result = run_gmg("dbupdate", "--plugins", plugin, "--database-url", db_url)
    assert result.code == 65, result
    assert table in result.last["error"]
    assert version_rows(db_url) == rows


@pytest.mark.reliability(case="database ahead of the code", expected="exit 65, nothing touched")
def test_database_ahead_of_the_bundle_is_refused(db_url):
    bootstrap(db_url)
    execute(db_url, "INSERT INTO alembic_version (version_num) VALUES ('ffffffffffff')")
    before = schema_of(db_url)
    result = run_gmg("dbupdate", "--database-url", db_url)
    assert result.code == 65, result
    assert "ffffffffffff" in result.last["error"]
    assert result.named("schema.classified")[0]["state"] == "ahead"
    assert schema_of(db_url) == before
    assert run_gmg("dbupdate", "--check", "--database-url", db_url).code == 65


# --- --check ---------------------------------------------------------------------------------


def test_check_before_and_after_and_it_writes_nothing(db_url):
    before = run_gmg("dbupdate", "--check", "--database-url", db_url)
    assert before.code == 1, before
    assert before.last["current"] is False
    assert {p["component"] for p in before.last["pending"]} == {"core", *DEFAULT_PLUGINS}
    assert not before.named("lock.acquired")
    if db_url.startswith("sqlite"):
        assert not os.path.exists(db_url.removeprefix("sqlite:///"))
    else:
        assert tables(db_url) == set()
    bootstrap(db_url)
    after = run_gmg("dbupdate", "--check", "--database-url", db_url)
    assert after.code == 0, after
    assert after.last["current"] is True and after.last["pending"] == []
    wider = run_gmg("dbupdate", "--check", "--plugins", "all", "--database-url", db_url)
    assert wider.code == 1, wider
