"""MediaGoblin registry-era databases upgraded through the CLI (issue 12), on both backends.

Databases are real MediaGoblin 0.8.1 installs (the shared ``v081_fresh`` dump) or those walked
forward by our own registry steps (``registry_build``); the end state is compared with
MediaGoblin's fresh head install (``head_fresh``) by the bundle's oracle, never by the engine.
"""

from __future__ import annotations

import fcntl
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from conftest import REPO, URL_FIXTURES, Job, alive, children_of, execute, query, run_gmg
from oracle import diff, fingerprint
from pgserver import create_database
from registry_build import (
    add_mediagoblin_walk_residue,
    add_pinned_sqlalchemy_serial,
    build_registry_db,
    core_step,
    run_registry,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """MediaGoblin's shipped history runs on SQLite and PostgreSQL only (its manifest's
    ``backends``): this file's tests stay on those two."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


pytestmark = pytest.mark.slow

SHARED = Path("/work/shared/mediagoblin/schemas")
BUNDLE_ENV = {"GMG_MIGRATIONS": str(REPO / "migrations")}
ALL = ("--plugins", "all")


def head_fresh(url: str) -> str:
    backend = "sqlite" if url.startswith("sqlite") else "pg"
    return (SHARED / f"head_fresh.{backend}.fingerprint.txt").read_text(encoding="utf-8")


def dbupdate(url: str, *args: str):
    return run_gmg("dbupdate", "--database-url", url, *args, env=BUNDLE_ENV, timeout=300)


def registry_rows(url: str) -> dict[str, int]:
    return dict(query(url, "SELECT name, version FROM core__migrations"))


def assert_rows_kept(url: str) -> None:
    assert query(url, "SELECT id, username FROM core__local_users ORDER BY id") == [
        (1, "alice"),
        (2, "bob"),
    ]
    assert sorted(query(url, "SELECT id, type FROM core__users")) == [
        (1, "user_local"),
        (2, "user_local"),
    ]
    ((entry,),) = query(
        url,
        "SELECT id FROM core__generic_model_reference "
        "WHERE model_type = 'core__media_entries' AND obj_pk = 1",
    )
    ((comment,),) = query(
        url,
        "SELECT id FROM core__generic_model_reference "
        "WHERE model_type = 'core__media_comments' AND obj_pk = 1",
    )
    assert query(url, "SELECT target_id, comment_id FROM core__comment_links") == [(entry, comment)]
    assert query(url, "SELECT collection, object_id FROM core__collection_items") == [(1, entry)]
    assert sorted(query(url, "SELECT id, object_id FROM core__reports")) == [
        (1, entry),
        (2, comment),
    ]
    assert query(url, "SELECT media_entry, width FROM image__mediadata") == [(1, 640)]


def test_real_v081_database_reaches_head_fresh(db_url):
    build_registry_db(db_url, 26)
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    applied = [(e["component"], e["version"], e["name"]) for e in result.named("legacy.applied")]
    assert applied[0] == ("core", 27, "create_generic_model_reference")
    assert applied[-1] == ("core", 44, "activity_cleanup")
    assert [v for _, v, _ in applied] == list(range(27, 45))
    handoffs = {e["component"]: e["revision"] for e in result.named("legacy.handoff")}
    assert handoffs["core"] == "52bf0ccbedc1"
    assert handoffs["image"] == "a98c1a320e88"
    assert handoffs["video"] == "38feb829c545"
    assert handoffs["audio"] == "e9212d3a12d3"
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert_rows_kept(db_url)
    # what MediaGoblin's own dbupdate reads: every row at its latest number, nothing to run
    rows = registry_rows(db_url)
    assert rows["__main__"] == 44
    assert rows["mediagoblin.media_types.image"] == 1
    assert rows["mediagoblin.media_types.video"] == 3
    again = dbupdate(db_url, *ALL)
    assert again.code == 0 and again.last["changed"] is False, again
    assert not again.named("legacy.applied")


def test_v081_made_under_its_pinned_sqlalchemy_reaches_head_fresh(pg_url):
    """PostgreSQL only: the variant (a SERIAL on openid__nonce.timestamp) has no SQLite form."""
    build_registry_db(pg_url, 26)
    add_pinned_sqlalchemy_serial(pg_url)
    result = dbupdate(pg_url, *ALL)
    assert result.code == 0, result
    assert diff(head_fresh(pg_url), fingerprint(pg_url)) == []
    assert query(
        pg_url,
        "SELECT count(*) FROM pg_class WHERE relkind = 'S' "
        "AND relname = 'openid__nonce_timestamp_seq'",
    ) == [(0,)]
    assert_rows_kept(pg_url)
    assert run_gmg("dbverify", "--database-url", pg_url, *ALL, env=BUNDLE_ENV).code == 0
    again = dbupdate(pg_url, *ALL)
    assert again.code == 0 and again.last["changed"] is False, again


@pytest.mark.parametrize("level", range(27, 45))
def test_every_registry_level_reaches_head_fresh(db_url, level):
    """Every level on both backends (26 is test_real_v081_database_reaches_head_fresh)."""
    build_registry_db(db_url, level)
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    assert [e["version"] for e in result.named("legacy.applied")] == list(range(level + 1, 45))
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert_rows_kept(db_url)


def test_default_plugins_then_all(db_url):
    build_registry_db(db_url, 26)
    first = dbupdate(db_url)  # the bundle's default: image only
    assert first.code == 0, first
    assert {e["component"] for e in first.named("legacy.handoff")} == {"core", "image"}
    assert {e["plugin"] for e in first.named("plugin.disabled")} >= {"video", "openid"}
    assert registry_rows(db_url)["mediagoblin.media_types.video"] == 3  # left as it was
    later = dbupdate(db_url, *ALL)
    assert later.code == 0, later
    assert "video" in {e["component"] for e in later.named("legacy.handoff")}
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []


def test_plugin_without_a_row_is_created_and_recorded(db_url):
    build_registry_db(db_url, 26)
    execute(
        db_url,
        "DROP TABLE video__mediadata",
        "DELETE FROM core__migrations WHERE name = 'mediagoblin.media_types.video'",
    )
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    assert "video" in result.last["bootstrapped"]
    assert registry_rows(db_url)["mediagoblin.media_types.video"] == 3
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []


def test_plugin_behind_core(db_url):
    build_registry_db(db_url, 26)
    execute(
        db_url,
        "UPDATE core__migrations SET version = 1 WHERE name = 'mediagoblin.media_types.video'",
        "INSERT INTO core__file_keynames (id, name) VALUES (1, 'webm_640')",
    )
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    video = [
        (e["version"], e["name"])
        for e in result.named("legacy.applied")
        if e["component"] == "video"
    ]
    assert video == [(2, "webm_640_to_webm_video"), (3, "change_metadata_format")]
    assert query(db_url, "SELECT name FROM core__file_keynames") == [("webm_video",)]
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []


def test_older_than_0_8_is_refused(db_url):
    build_registry_db(db_url, 26, samples=False)
    execute(db_url, "UPDATE core__migrations SET version = 25 WHERE name = '__main__'")
    before = fingerprint(db_url)
    result = dbupdate(db_url, *ALL)
    assert result.code == 65, result
    assert "0.8.1" in result.last["error"]
    assert fingerprint(db_url) == before


def test_check_reports_pending_on_a_registry_database(db_url):
    build_registry_db(db_url, 26, samples=False)
    result = run_gmg("dbupdate", "--check", "--database-url", db_url, *ALL, env=BUNDLE_ENV)
    assert result.code == 1, result


def test_v081_upgraded_by_mediagoblin_090(db_url):
    """Registry at 44 beside alembic_version (MediaGoblin 0.9.0's own upgrade of 0.8.1), with
    what MediaGoblin's own walk leaves: settled by cc3651803714, the first revision it runs."""
    from alembic import command

    import mediagoblin_dbs as mdb

    build_registry_db(db_url, 26)
    code, events, stderr = run_registry(db_url, [core_step(44)])
    assert code == 0, (events, stderr)
    firsts = [(c.get("base") or c["heads"])[0] for c in mdb.components() if c["name"] != "core"]
    engine = mdb.engine_for(db_url)
    try:
        with engine.begin() as conn:
            cfg = mdb.alembic_config(conn)
            command.stamp(cfg, firsts)
            command.upgrade(cfg, "228916769bd2")  # 0.9.0's core head
    finally:
        engine.dispose()
    add_mediagoblin_walk_residue(db_url)
    assert diff(head_fresh(db_url), fingerprint(db_url)) != []
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    assert not result.named("legacy.applied")
    assert sorted(result.last["applied"]) == ["afd3d1da5e29", "cc3651803714"]
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert_rows_kept(db_url)
    assert run_gmg("dbverify", "--database-url", db_url, *ALL, env=BUNDLE_ENV).code == 0
    again = dbupdate(db_url, *ALL)
    assert again.code == 0 and again.last["changed"] is False, again
    # a registry that stopped short of its handoff beside Alembic rows is inconsistent: 65
    execute(db_url, "UPDATE core__migrations SET version = 30 WHERE name = '__main__'")
    refused = dbupdate(db_url, *ALL)
    assert refused.code == 65, refused
    assert "handoff" in refused.last["error"]


def test_upgraded_registry_database_takes_the_light_path(sqlite_url, tmp_path):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "migrations", bundle, ignore=shutil.ignore_patterns("__pycache__"))
    assert run_gmg("bundle-index", "--migrations", str(bundle)).code == 0
    env = {"GMG_MIGRATIONS": str(bundle)}
    build_registry_db(sqlite_url, 26)
    args = ("dbupdate", "--database-url", sqlite_url, *ALL)
    first = run_gmg(*args, env=env, timeout=300)
    assert first.code == 0 and first.last["changed"] is True, first
    assert first.last.get("fast_path") is not True
    again = run_gmg(*args, env=env)
    assert again.code == 0 and again.last["changed"] is False, again
    assert again.last["fast_path"] is True  # core__migrations keeps __main__ = 44: Alembic wins


def test_rows_inserted_mid_history_survive(db_url):
    """Rows written by a 0.9-dev instance at registry 38 (actor columns, generic references)."""
    build_registry_db(db_url, 38)
    execute(
        db_url,
        "INSERT INTO core__media_entries (id, actor, title, slug, created, updated, media_type, "
        "state, remote) VALUES (3, 2, 'Third', 'third', '2016-01-02 03:04:05', "
        "'2016-01-02 03:04:05', 'mediagoblin.media_types.image', 'processed', false)",
        "INSERT INTO core__generic_model_reference (id, obj_pk, model_type) "
        "VALUES (100, 3, 'core__media_entries')",
        "INSERT INTO core__collection_items (id, collection, object_id, added) "
        "VALUES (2, 1, 100, '2016-01-02 03:04:05')",
        "INSERT INTO core__media_comments (id, media_entry, actor, created, content) "
        "VALUES (2, 3, 1, '2016-01-03 00:00:00', 'Second comment')",
    )
    result = dbupdate(db_url, *ALL)
    assert result.code == 0, result
    assert [e["version"] for e in result.named("legacy.applied")] == list(range(39, 45))
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert sorted(query(db_url, "SELECT collection, object_id FROM core__collection_items"))[
        -1
    ] == (1, 100)
    ((comment_ref,),) = query(
        db_url,
        "SELECT id FROM core__generic_model_reference "
        "WHERE model_type = 'core__media_comments' AND obj_pk = 2",
    )
    assert query(
        db_url, "SELECT target_id FROM core__comment_links WHERE comment_id = :c", c=comment_ref
    ) == [(100,)]


# --- issue 12: faults mid-walk on the registry adapter (rows of RELIABILITY.md) ---------------

SLOW_STEP = (30, "rename_and_remove_object_and_target")


def slow_registry_bundle(tmp_path: Path, marker: Path, seconds: float) -> Path:
    """The shipped bundle whose core registry step 30 first sleeps while ``marker`` exists (the
    injected cause; the next run removes it and runs the same bundle)."""
    target = tmp_path / "slow-registry-bundle"
    shutil.copytree(
        REPO / "migrations", target, ignore=shutil.ignore_patterns("__pycache__", "*.json")
    )
    version, name = SLOW_STEP
    core = target / "legacy" / "registry" / "core.py"
    core.write_text(
        core.read_text(encoding="utf-8")
        + f"""

_original_{version} = MIGRATIONS[{version}]


def {name}(conn):
    import os
    import time

    if os.path.exists({str(marker)!r}):
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_sleep({seconds})")
        else:
            time.sleep({seconds})
    _original_{version}(conn)


MIGRATIONS[{version}] = {name}
""",
        encoding="utf-8",
    )
    return target


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def legacy_sessions(url: str) -> list[tuple]:
    return query(
        url,
        "SELECT pid, state FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE :named",
        named="gmg-dbupdate:%:legacy",
    )


def lock_is_free(url: str) -> bool:
    """No runner holds the job's lock on this database (this database's only, under xdist)."""
    if url.startswith("sqlite"):
        with open(url.removeprefix("sqlite:///") + ".lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    ((held,),) = query(
        url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    return held == 0


@pytest.mark.reliability(
    case="registry adapter (core__migrations): SIGTERM mid-walk",
    expected="exit 143; no child left, lock free; PostgreSQL: row at the last completed step, "
    "SQLite: snapshot put back; the next run resumes and ends at head_fresh",
)
def test_sigterm_mid_registry_walk(db_url, tmp_path, observe):
    build_registry_db(db_url, 26)
    marker = tmp_path / "slow"
    marker.touch()
    bundle = slow_registry_bundle(tmp_path, marker, 30)
    env = {"GMG_MIGRATIONS": str(bundle)}
    job = Job("dbupdate", "--database-url", db_url, *ALL, env=env)
    version, name = SLOW_STEP
    job.wait_for(lambda e: e["event"] == "legacy.applied" and e["version"] == version - 1)
    postgres = db_url.startswith("postgresql")
    if postgres:  # the child's step is running on its own, named session
        assert wait_until(lambda: any(s[1] == "active" for s in legacy_sessions(db_url)), 10)
    else:
        time.sleep(0.5)
    children = children_of(job.proc.pid)
    assert children, "the registry runner is the job's child"
    sent = time.monotonic()
    job.proc.send_signal(signal.SIGTERM)
    result = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 143 and took < 10, (result, took)
    assert result.last["event"] == "dbupdate.failed" and result.last["signal"] == "SIGTERM"
    assert result.named("lock.released") and lock_is_free(db_url)
    assert wait_until(lambda: not any(alive(c) for c in children), 5), children
    applied = [e["version"] for e in result.named("legacy.applied")]
    assert applied == list(range(27, version)), applied
    if postgres:
        assert legacy_sessions(db_url) == []
        assert registry_rows(db_url)["__main__"] == version - 1  # steps 27..29 committed
        resumes_at = version
        seen = f"row at {version - 1} (last completed step)"
    else:  # the legacy phase commits step by step: SQLite's snapshot is put back
        assert result.named("sqlite.restored"), result.events
        assert registry_rows(db_url)["__main__"] == 26
        resumes_at = 27
        seen = "snapshot put back (row at 26)"
    marker.unlink()
    rerun = run_gmg(
        "dbupdate", "--database-url", db_url, *ALL, "--lock-timeout", "5", env=env, timeout=300
    )
    assert rerun.code == 0, rerun
    walked = [e["version"] for e in rerun.named("legacy.applied") if e["component"] == "core"]
    assert walked == list(range(resumes_at, 45)), walked
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert_rows_kept(db_url)
    assert registry_rows(db_url)["__main__"] == 44
    observe(
        f"exit 143 {took:.2f} s after the signal in step {version} ({name}); no child left, "
        f"lock free; {seen}; rerun walked {resumes_at}..44, exit 0, schema = head_fresh"
    )


def level_fingerprint(db_url: str, tmp_path: Path, level: int, *statements: str) -> str:
    """The fingerprint of another database of the same backend built at ``level`` (then
    ``statements``): what a walk that stopped after step ``level`` must have left."""
    if db_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / f'at-{level}.db'}"
        build_registry_db(other, level)
        execute(other, *statements)
        return fingerprint(other)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        make_url(db_url).set(drivername="postgresql+psycopg2"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    try:
        with admin.connect() as c:
            create_database(c, name)
        other = make_url(db_url).set(database=name).render_as_string(hide_password=False)
        build_registry_db(other, level)
        execute(other, *statements)
        return fingerprint(other)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BREAK_37 = "ALTER TABLE core__collection_items RENAME COLUMN media_entry TO gone"
MEND_37 = "ALTER TABLE core__collection_items RENAME COLUMN gone TO media_entry"


@pytest.mark.reliability(
    case="registry adapter (core__migrations): a migration fails mid-walk",
    expected="exit 70 naming the step's function and component; PostgreSQL: row and schema at "
    "the previous step, SQLite: snapshot put back; with the cause removed the next run converges",
)
def test_failing_registry_step_mid_walk(db_url, tmp_path, observe):
    build_registry_db(db_url, 26)
    # a state step 37 (federation_collection_schema) cannot handle: its column is missing
    execute(db_url, BREAK_37)
    before = fingerprint(db_url)
    result = dbupdate(db_url, *ALL)
    assert result.code == 70, result
    failed = result.last
    assert failed["event"] == "dbupdate.failed" and failed["exit_code"] == 70
    assert "federation_collection_schema" in failed["error"], failed
    assert "of core" in failed["error"], failed
    assert [e["version"] for e in result.named("legacy.applied")] == list(range(27, 37))
    assert not result.named("migration.applied")
    assert lock_is_free(db_url)
    if db_url.startswith("postgresql"):  # each step committed with its row: stopped after 36
        assert registry_rows(db_url)["__main__"] == 36
        assert diff(level_fingerprint(db_url, tmp_path, 36, BREAK_37), fingerprint(db_url)) == []
        resumes_at, seen = 37, "row and schema at 36 (the previous step)"
    else:  # SQLite: the legacy phase's snapshot is put back over the untouched file
        assert result.named("sqlite.restored"), result.events
        assert registry_rows(db_url)["__main__"] == 26
        assert diff(before, fingerprint(db_url)) == []
        resumes_at, seen = 27, "snapshot put back (row and schema at 26)"
    assert "alembic_version" not in fingerprint(db_url)
    execute(db_url, MEND_37)  # the cause removed
    rerun = dbupdate(db_url, *ALL)
    assert rerun.code == 0, rerun
    walked = [e["version"] for e in rerun.named("legacy.applied") if e["component"] == "core"]
    assert walked == list(range(resumes_at, 45)), walked
    assert diff(head_fresh(db_url), fingerprint(db_url)) == []
    assert_rows_kept(db_url)
    observe(
        f"exit 70: {failed['error'][:80]}; {seen}; column put back, rerun walked "
        f"{resumes_at}..44, exit 0, schema = head_fresh"
    )
