"""The MediaGoblin bundle against MediaGoblin's real databases, judged by the independent oracle.

Every check compares ``oracle.fingerprint`` of a real PostgreSQL database or SQLite file with the
fingerprint of a database MediaGoblin itself made (``schemas/<state>.<backend>.fingerprint.txt``):
equal means equal columns, types, nullability, defaults, keys, indexes and (on PostgreSQL) names.
These drive the bundle with plain Alembic and ``create_all``; test_mediagoblin_cli.py runs ``gmg``.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
from contextlib import closing

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

import mediagoblin_dbs as mg
import oracle
from conftest import URL_FIXTURES, slow_except
from oracle import sqlite_path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """MediaGoblin's shipped history runs on SQLite and PostgreSQL only (its manifest's
    ``backends``): this file's tests stay on those two."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


CORE_REVISIONS = ["52bf0ccbedc1", "101510e3a713", "8429e33fdf7", "4066b9f8b84a", "3145accb8fe3"]


def head_versions(backend: str) -> set[str]:
    return set(mg.versions("head_fresh", backend)["alembic_version"])


def rows(url: str, sql: str) -> list[tuple]:
    engine = mg.engine_for(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql))]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = mg.engine_for(url)
    try:
        with engine.begin() as c:
            for sql in statements:
                c.execute(sa.text(sql))
    finally:
        engine.dispose()


def assert_head_fresh(url: str) -> None:
    backend = mg.backend_of(url)
    diff = oracle.diff(mg.expected_fingerprint("head_fresh", backend), oracle.fingerprint(url))
    assert diff == [], "\n".join(diff)
    assert {r[0] for r in rows(url, "SELECT version_num FROM alembic_version")} == head_versions(
        backend
    )


def schema_text(url: str) -> dict[str, list[str]]:
    """Per table (and index), the DDL as the database itself keeps it: ``pg_dump
    --schema-only`` statements on PostgreSQL, ``sqlite_master.sql`` on SQLite. The fingerprint
    leaves out column order, CHECK constraints and sequences; this shows them."""
    if mg.backend_of(url) == "pg":
        dump = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "-d", oracle.libpq_dsn(url)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        return _pg_statements(dump)
    with closing(sqlite3.connect(sqlite_path(url))) as conn:
        return _sqlite_statements(conn)


def _pg_statements(dump: str) -> dict[str, list[str]]:
    # drop comments and psql meta-commands (the dump's random \restrict key)
    kept = [line for line in dump.splitlines() if not line.startswith(("--", "\\"))]
    statements = [s.strip() for s in "\n".join(kept).split(";\n") if s.strip()]
    return {"": sorted(statements)}


def _sqlite_statements(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Column lines in order, then table constraints in any order (their order means nothing)."""
    found = {}
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"):
        lines = [line.strip().rstrip(",").strip() for line in sql.splitlines()]
        columns = [x for x in lines if not x.startswith(_SQLITE_CONSTRAINTS)]
        found[name] = columns + sorted(x for x in lines if x.startswith(_SQLITE_CONSTRAINTS))
    return found


_SQLITE_CONSTRAINTS = ("PRIMARY KEY", "FOREIGN KEY", "UNIQUE", "CHECK", "CONSTRAINT")


def reference_schema_text(backend: str) -> dict[str, list[str]]:
    text = (mg.SCHEMAS / f"head_fresh.{backend}.schema.sql").read_text()
    if backend == "pg":
        return _pg_statements(text)
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(text)
        return _sqlite_statements(conn)
    finally:
        conn.close()


def set_core_revision(url: str, revision: str) -> None:
    """Pretend core stopped at ``revision`` (its schema is the same from 52bf0ccbedc1 to
    228916769bd2: those revisions only change data). The plugin branches hang off 52bf0ccbedc1,
    so their rows imply it: Alembic then keeps no row of its own for it."""
    if revision == "52bf0ccbedc1":
        execute(url, "DELETE FROM alembic_version WHERE version_num = '228916769bd2'")
    else:
        execute(
            url,
            f"UPDATE alembic_version SET version_num = '{revision}' "
            "WHERE version_num = '228916769bd2'",
        )


# --- the oracle itself ----------------------------------------------------------------------


@pytest.mark.parametrize("state", slow_except(list(mg.STATES), 0))
def test_oracle_reproduces_the_shared_fingerprints(db_url, state):
    mg.load_state(db_url, state)
    backend = mg.backend_of(db_url)
    assert oracle.fingerprint(db_url) == mg.expected_fingerprint(state, backend)


@pytest.mark.parametrize("state", mg.STATES)
def test_sample_rows_fit_each_state(db_url, state):
    mg.load_state(db_url, state)
    mg.add_sample_rows(db_url, state)
    assert rows(db_url, "SELECT id, title FROM core__media_entries") == [(1, "Sunset")]
    assert rows(db_url, "SELECT media_entry, width FROM image__mediadata") == [(1, 640)]
    if state != "v081_fresh":
        assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


_ODD_SCHEMA = [
    'CREATE TABLE "a b" (id INTEGER NOT NULL, "order" VARCHAR(20) DEFAULT \'x\', '
    'CONSTRAINT a_pk PRIMARY KEY (id), CONSTRAINT a_uq UNIQUE ("order"))',
    "CREATE TABLE c (id INTEGER NOT NULL, a_id INTEGER, k INTEGER, PRIMARY KEY (id), "
    'CONSTRAINT c_fk FOREIGN KEY (a_id) REFERENCES "a b" (id), UNIQUE (k, a_id))',
    "CREATE UNIQUE INDEX c_k ON c (k)",
]


def test_oracle_on_names_quotes_defaults_and_unique_indexes(db_url):
    execute(db_url, *_ODD_SCHEMA)
    named = mg.backend_of(db_url) == "pg"
    default = "'x'::character varying" if named else "'x'"
    assert oracle.fingerprint(db_url).splitlines() == [
        "table a b",
        "  column a b.id integer not null",
        f"  column a b.order varchar(20) null default={default}",
        "  pk a b(id) [a_pk]",
        "  unique a b(order) [a_uq]",
        "table c",
        "  column c.a_id integer null",
        "  column c.id integer not null",
        "  column c.k integer null",
        "  fk c(a_id) -> a b(id) [c_fk]",
        "  index c(k) [c_k] unique",
        f"  pk c(id) [{'c_pkey' if named else None}]",
        f"  unique c(k, a_id) [{'c_k_a_id_key' if named else None}]",
    ]


# --- the bundle's revision graph ------------------------------------------------------------


def test_revision_graph_is_mediagoblins():
    script = ScriptDirectory.from_config(_offline_config())
    facts = FACTS_REVISIONS
    ours = {r.revision: r for r in script.walk_revisions()}
    at_head = {rev for rev, f in facts.items() if "HEAD" in f["releases"]}
    assert set(ours) == at_head
    for rev, r in ours.items():
        down = facts[rev]["down_revision"]
        assert r.down_revision == (None if down == "-" else down), rev
        label = facts[rev]["branch_labels"]
        assert set(r.branch_labels) == (set() if label == "-" else {label}), rev
    manifest = mg.manifest()
    declared = {h for comp in mg.components() for h in comp["heads"]}
    assert set(script.get_heads()) == declared
    retired = {r["revision"]: r for r in manifest["retired"]}
    assert set(retired) == set(facts) - at_head == {"c7d4840a5592"}
    assert retired["c7d4840a5592"]["down_revision"] == facts["c7d4840a5592"]["down_revision"]
    # each revision sits in its component's folder, as MediaGoblin's sit in their package's
    for comp in mg.components():
        where = (
            "mediagoblin/db/migrations/versions"
            if comp["name"] == "core"
            else comp["module"].replace(".", "/") + "/migrations"
        )
        for folder in comp["versions"]:
            for path in (mg.BUNDLE / folder).glob("*.py"):
                assert facts[path.name.split("_", 1)[0]]["location"] == where, path


def _offline_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(mg.ALEMBIC_ENV))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(mg.version_locations()))
    return cfg


def _facts_revisions() -> dict[str, dict]:
    with (mg.FACTS / "facts" / "alembic_revisions.tsv").open() as f:
        return {r["revision"]: r for r in csv.DictReader(f, delimiter="\t")}


FACTS_REVISIONS = _facts_revisions()


# --- fresh installs -------------------------------------------------------------------------


def test_create_all_and_stamp_is_head_fresh(db_url):
    mg.create_from_models(db_url)
    assert_head_fresh(db_url)
    backend = mg.backend_of(db_url)
    want = mg.versions("head_fresh", backend)
    got = rows(db_url, "SELECT id, privilege_name FROM core__privileges ORDER BY id")
    assert got == [(p["id"], p["privilege_name"]) for p in want["core__privileges"]]
    assert rows(db_url, "SELECT * FROM core__migrations") == []
    ours, theirs = schema_text(db_url), reference_schema_text(mg.backend_of(db_url))
    if mg.backend_of(db_url) == "sqlite":
        # the one difference: MediaGoblin's ALTER TABLE put cc3651803714's column on the line
        # of the column before it; create_all gives it a line of its own
        appended = "media_metadata TEXT, main_transcoding_progress FLOAT"
        split = theirs["core__media_entries"].index(appended)
        theirs["core__media_entries"][split : split + 1] = appended.split(", ")
    assert ours == theirs


def test_alembic_upgrade_heads_from_empty_is_head_fresh(db_url):
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    # MediaGoblin makes a fresh database this way: even the DDL text is the same
    assert schema_text(db_url) == reference_schema_text(mg.backend_of(db_url))


def test_default_plugins_only_then_the_rest_late(db_url):
    """Core and image from the models, every other plugin later through its revision."""
    assert mg.manifest()["default_plugins"] == ["image"]
    mg.create_from_models(db_url, ["core", "image"])
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)


# --- upgrades of MediaGoblin's own databases ------------------------------------------------


def test_v090_fresh_upgrades_to_head_fresh_keeping_rows(db_url):
    mg.load_state(db_url, "v090_fresh")
    mg.add_sample_rows(db_url, "v090_fresh")
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    assert schema_text(db_url) == reference_schema_text(mg.backend_of(db_url))
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


@pytest.mark.parametrize("revision", slow_except(list(CORE_REVISIONS), 0))
def test_from_each_core_revision(db_url, revision):
    mg.load_state(db_url, "v090_fresh")
    mg.add_sample_rows(db_url, "v090_fresh")
    set_core_revision(db_url, revision)
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


@pytest.mark.parametrize("head", ["cc3651803714", "afd3d1da5e29"])
def test_from_one_core_head_only(db_url, head):
    mg.load_state(db_url, "v090_fresh")
    mg.add_sample_rows(db_url, "v090_fresh")
    mg.upgrade_heads(db_url, head)
    assert head in {r[0] for r in rows(db_url, "SELECT version_num FROM alembic_version")}
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


def test_head_fresh_upgrade_changes_nothing(db_url):
    mg.load_state(db_url, "head_fresh")
    mg.add_sample_rows(db_url, "head_fresh")
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


@pytest.mark.parametrize("plugin", slow_except([c["name"] for c in mg.components()[1:]], 0))
def test_plugin_missing_from_a_v090_database_is_created_late(db_url, plugin):
    """A 0.9.0 database that never had the plugin: its tables and row are absent."""
    mg.load_state(db_url, "v090_fresh")
    comp = next(c for c in mg.components() if c["name"] == plugin)
    tables = sorted(
        mg.bundle_metadata([plugin]).tables.keys() - mg.bundle_metadata(["core"]).tables.keys()
    )
    execute(
        db_url,
        *(f'DROP TABLE "{t}"' for t in reversed(_creation_order(tables))),
        f"DELETE FROM alembic_version WHERE version_num = '{comp['heads'][0]}'",
    )
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)


def _creation_order(tables: list[str]) -> list[str]:
    metadata = mg.bundle_metadata()
    return [t.name for t in metadata.sorted_tables if t.name in tables]


# --- what the data revisions do --------------------------------------------------------------

_TOMBSTONES = [
    # a collection holding the sample media (gmr 1) and a deleted one (tombstone 1 = gmr 3)
    "INSERT INTO core__graveyard (id, deleted, object_type) VALUES (1, :t, 'image')",
    "INSERT INTO core__generic_model_reference (id, obj_pk, model_type)"
    " VALUES (3, 1, 'core__graveyard')",
    "INSERT INTO core__collections (id, title, created, updated, actor, num_items, type)"
    " VALUES (1, 'Best', :t, :t, 1, 2, 'core-user-defined')",
    "INSERT INTO core__collection_items (id, collection, added, object_id)"
    " VALUES (1, 1, :t, 1), (2, 1, :t, 3)",
    # a notification about the tombstone, one about the sample comment's content (gmr 2)
    "INSERT INTO core__notifications (id, object_id, created, user_id, seen)"
    " VALUES (1, 3, :t, 1, false), (2, 2, :t, 1, false)",
    "INSERT INTO core__reports (id, reporter_id, reported_user_id, created, object_id)"
    " VALUES (1, 1, 1, :t, 3)",
    # a second comment link whose comment content was deleted (its gmr now names the tombstone)
    "INSERT INTO core__comment_links (id, target_id, comment_id, added) VALUES (2, 1, 3, :t)",
]


def test_data_revisions_clean_up_tombstones_and_repoint_notifications(db_url):
    mg.load_state(db_url, "v090_fresh")
    mg.add_sample_rows(db_url, "v090_fresh")
    engine = mg.engine_for(db_url)
    try:
        with engine.begin() as c:
            for sql in _TOMBSTONES:
                c.execute(sa.text(sql), {"t": mg.WHEN})
            mg.advance_sequences(c)
    finally:
        engine.dispose()
    set_core_revision(db_url, "52bf0ccbedc1")
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
    assert rows(db_url, "SELECT id, object_id FROM core__collection_items") == [(1, 1)]
    link_ref = rows(
        db_url,
        "SELECT id FROM core__generic_model_reference "
        "WHERE model_type = 'core__comment_links' AND obj_pk = 1",
    )
    assert len(link_ref) == 1
    assert rows(db_url, "SELECT id, object_id FROM core__notifications") == [(2, link_ref[0][0])]
    assert rows(db_url, "SELECT id, object_id FROM core__reports") == [(1, None)]
    assert rows(db_url, "SELECT id FROM core__comment_links") == [(1,)]
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


def test_reports_object_id_made_nullable(db_url):
    mg.load_state(db_url, "v090_fresh")
    if mg.backend_of(db_url) == "pg":
        execute(db_url, "ALTER TABLE core__reports ALTER COLUMN object_id SET NOT NULL")
    else:
        with closing(sqlite3.connect(sqlite_path(db_url))) as conn:
            (sql,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'core__reports'"
            ).fetchone()
            conn.executescript(
                "DROP TABLE core__reports;"
                + sql.replace("object_id INTEGER,", "object_id INTEGER NOT NULL,")
            )
            conn.commit()
    assert "column core__reports.object_id integer not null" in oracle.fingerprint(db_url)
    set_core_revision(db_url, "3145accb8fe3")
    mg.upgrade_heads(db_url)
    assert_head_fresh(db_url)
