"""Migrating under live traffic (issue 15), on real PostgreSQL through the CLI.

``tests/bundles/live``: core alters a hot table (a column, a CHECK rows can fail, a unique index
built CONCURRENTLY in an autocommit block); plugin ``extra`` has a CHECK rows can fail. A
"blocker" is another session holding ACCESS SHARE on the hot table in an open transaction, as a
long report or an idle-in-transaction app session does. Behaviour only: no timing is asserted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from conftest import Job, execute, query, run_gmg, version_rows

LIVE = Path(__file__).resolve().parent / "bundles" / "live"
CORE_HEAD, EXTRA_HEAD = "l00000000004", "e00000000002"


def gmg(*args: str, url: str, bundle: Path = LIVE, **kwargs):
    return run_gmg(*args, "--migrations", str(bundle), "--database-url", url, **kwargs)


def at(url: str, revision: str) -> None:
    """Bring the database to ``revision`` with Alembic's own CLI."""
    result = run_gmg(
        "alembic", "--migrations", str(LIVE), "--database-url", url, "upgrade", revision,
        json_logs=False,
    )  # fmt: skip
    assert result.code == 0, result


def connect(url: str, name: str):
    parsed = make_url(url)
    return psycopg2.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        application_name=name,
    )


def blocker(url: str):
    """A session that holds ACCESS SHARE on the hot table until it ends its transaction."""
    connection = connect(url, "live-blocker")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM live_hot")
    return connection


def columns(url: str, table: str = "live_hot") -> set[str]:
    rows = query(
        url, "SELECT column_name FROM information_schema.columns WHERE table_name = :t", t=table
    )
    return {r[0] for r in rows}


def start_gmg(url: str, *args: str) -> Job:
    """``gmg dbupdate`` on the live bundle, in a process whose log is read as it comes."""
    return Job("dbupdate", "--migrations", str(LIVE), "--database-url", url, *args)


def test_blocked_ddl_is_retried_and_the_app_keeps_going(pg_url):
    at(pg_url, "l00000000001")
    held = blocker(pg_url)
    held_pid = held.get_backend_pid()
    job = start_gmg(pg_url, "--plugins", "none", "--ddl-lock-timeout", "0.3")
    try:
        job.wait_for(lambda e: e["event"] == "ddl.blocked")  # fails if the job ended first
        # While the blocker still holds its lock, the app's queries on the hot table are served:
        # the migration does not keep its place at the head of the table's lock queue.
        app = connect(pg_url, "live-app")
        with app.cursor() as cursor:
            cursor.execute("SET statement_timeout = '60s'")  # a hang fails, never blocks CI
            cursor.execute("SELECT count(*) FROM live_hot")
            assert cursor.fetchone() == (0,)
        app.close()
        assert held.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        held.rollback()  # the blocker ends
        result = job.finish(timeout=120)
    finally:
        held.close()
        if job.proc.poll() is None:
            job.proc.kill()
    events = result.events
    assert result.code == 0, events[-1]
    blocked = [e for e in events if e["event"] == "ddl.blocked"]
    who = blocked[0]["blockers"]
    assert [b["pid"] for b in who] == [held_pid]
    assert who[0]["application_name"] == "live-blocker"
    assert who[0]["state"] == "idle in transaction"
    assert "live_hot" in who[0]["query"]
    assert blocked[0]["revision"] == "l00000000002"
    assert "ALTER TABLE live_hot" in blocked[0]["statement"]
    assert events[-1]["event"] == "dbupdate.done"
    assert events[-1]["applied"] == ["l00000000002", "l00000000003", CORE_HEAD]
    assert version_rows(pg_url) == {CORE_HEAD}
    assert "flag" in columns(pg_url)


def test_blocked_until_the_deadline_exits_75_naming_the_blocker(pg_url):
    at(pg_url, "l00000000001")
    held = blocker(pg_url)
    try:
        result = gmg(
            "dbupdate", "--plugins", "none", "--ddl-lock-timeout", "0.2", "--lock-timeout", "2",
            url=pg_url,
        )  # fmt: skip
        held_pid = held.get_backend_pid()
    finally:
        held.close()
    assert result.code == 75, result
    assert len(result.named("ddl.blocked")) >= 2, result
    failed = result.last
    assert [b["pid"] for b in failed["blockers"]] == [held_pid]
    assert f"pid={held_pid}" in failed["error"] and "live-blocker" in failed["error"]
    assert failed["revision"] == "l00000000002"
    assert version_rows(pg_url) == {"l00000000001"}  # nothing committed
    assert columns(pg_url) == {"id", "n"}


def test_statement_timeout_cancels_a_statement_and_is_not_retried(pg_url):
    at(pg_url, "l00000000001")
    held = blocker(pg_url)
    try:
        result = gmg(
            "dbupdate", "--plugins", "none", "--ddl-lock-timeout", "600",
            "--statement-timeout", "0.5", url=pg_url,
        )  # fmt: skip
    finally:
        held.close()
    assert result.code == 70, result
    assert "statement timeout" in result.last["error"]
    assert result.last["revision"] == "l00000000002"
    assert not result.named("ddl.blocked")
    assert version_rows(pg_url) == {"l00000000001"}


def test_a_failed_concurrent_index_is_dropped_and_rebuilt(pg_url):
    at(pg_url, "l00000000001")
    execute(pg_url, "INSERT INTO live_hot (n) VALUES (1), (1)")
    failed = gmg("dbupdate", "--plugins", "none", url=pg_url)
    assert failed.code == 70, failed
    assert failed.last["revision"] == CORE_HEAD
    # The revisions before the autocommit block were committed by it; the build left an
    # INVALID index behind.
    assert version_rows(pg_url) == {"l00000000003"}
    invalid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'live_hot_n_key'::regclass"
    assert query(pg_url, invalid) == [(False,)]

    execute(pg_url, "UPDATE live_hot SET n = 2 WHERE id = (SELECT max(id) FROM live_hot)")
    result = gmg("dbupdate", "--plugins", "none", url=pg_url)
    assert result.code == 0, result
    (dropped,) = result.named("ddl.invalid_index_dropped")
    assert (dropped["index"], dropped["table"]) == ("live_hot_n_key", "live_hot")
    assert result.last["applied"] == [CORE_HEAD]
    assert query(pg_url, invalid) == [(True,)]
    assert version_rows(pg_url) == {CORE_HEAD}
    assert gmg("dbverify", "--plugins", "none", url=pg_url).code == 0


@pytest.fixture
def live_bundle(tmp_path):
    def with_mode(mode: str) -> Path:
        bundle = tmp_path / f"live-{mode}"
        shutil.copytree(LIVE, bundle)
        manifest = bundle / "manifest.toml"
        text = manifest.read_text().replace('transaction = "run"', f'transaction = "{mode}"')
        manifest.write_text(text)
        return bundle

    return with_mode


# What a failure leaves, per mode: core's l00000000003 fails (a row with n = 0), or the plugin's
# e00000000002 (a row with id = 100); both start at core l00000000001 + extra e00000000001
# (Alembic keeps branch tips only: e00000000001 stands for l00000000001, its parent).
LEFT = {
    ("run", "core"): ({"e00000000001"}, {"id", "n"}),
    ("run", "extra"): ({"e00000000001"}, {"id", "n"}),
    ("component", "core"): ({"e00000000001"}, {"id", "n"}),
    ("component", "extra"): ({CORE_HEAD, "e00000000001"}, {"id", "n", "flag"}),
    ("revision", "core"): ({"l00000000002", "e00000000001"}, {"id", "n", "flag"}),
    ("revision", "extra"): ({CORE_HEAD, "e00000000001"}, {"id", "n", "flag"}),
}


@pytest.mark.parametrize(("mode", "failing"), sorted(LEFT))
def test_what_a_failure_leaves_in_each_transaction_mode(pg_url, live_bundle, mode, failing):
    at(pg_url, "e00000000001")
    if failing == "core":
        execute(pg_url, "INSERT INTO live_hot (n) VALUES (0)")
    else:
        execute(pg_url, "INSERT INTO live_extra (id) VALUES (100)")
    bundle = live_bundle(mode)
    result = gmg("dbupdate", "--plugins", "extra", url=pg_url, bundle=bundle)
    assert result.code == 70, result
    assert result.last["revision"] == ("l00000000003" if failing == "core" else EXTRA_HEAD)
    versions, cols = LEFT[(mode, failing)]
    assert version_rows(pg_url) == versions
    assert columns(pg_url) == cols

    # Fixed, a rerun converges from wherever the failure left it.
    execute(pg_url, "UPDATE live_hot SET n = 5 WHERE n = 0", "DELETE FROM live_extra")
    again = gmg("dbupdate", "--plugins", "extra", url=pg_url, bundle=bundle)
    assert again.code == 0, again
    assert version_rows(pg_url) == {CORE_HEAD, EXTRA_HEAD}


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--ddl-lock-timeout", "0"), ("--ddl-lock-timeout", "soon"), ("--statement-timeout", "-1")],
)
def test_bad_timeouts_exit_64(pg_url, flag, value):
    result = gmg("dbupdate", flag, value, url=pg_url)
    assert result.code == 64, result
    assert "timeout" in result.last["error"]


def test_bad_timeout_from_the_environment_exits_64(pg_url):
    result = gmg("dbupdate", url=pg_url, env={"GMG_DDL_LOCK_TIMEOUT": "-2"})
    assert result.code == 64, result


def test_unknown_transaction_mode_exits_64(pg_url, tmp_path):
    bundle = tmp_path / "live"
    shutil.copytree(LIVE, bundle)
    manifest = bundle / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('name = "extra"\n', 'name = "extra"\ntransaction = "batch"\n'))
    result = gmg("dbupdate", url=pg_url, bundle=bundle)
    assert result.code == 64, result
    assert "transaction" in result.last["error"] and "batch" in result.last["error"]
    assert query(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_the_fence_is_confirmed_before_an_autocommit_block_commits(pg_url):
    """The lock session ends while the run waits; the autocommit block's commit of everything
    before it (Alembic commits the interrupted transaction) must refuse: nothing commits, 75."""
    import time
    import zlib

    at(pg_url, "l00000000001")
    held = blocker(pg_url)
    job = start_gmg(pg_url, "--plugins", "none", "--ddl-lock-timeout", "120")
    try:
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :q"
        )
        for _ in range(600):  # the migration's ALTER queues behind the blocker
            if query(pg_url, waiting, q="ALTER TABLE live_hot%"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the migration never waited for the blocker")
        holder = query(
            pg_url,
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND classid = :k",
            k=zlib.crc32(b"gmg-dbupdate") & 0x7FFFFFFF,
        )
        assert query(pg_url, "SELECT pg_terminate_backend(:p)", p=holder[0][0]) == [(True,)]
        held.rollback()  # l00000000002 and l00000000003 run; l00000000004's block would commit
        result = job.finish(timeout=120)
    finally:
        held.close()
        if job.proc.poll() is None:
            job.proc.kill()
    events = result.events
    assert result.code == 75, events[-1]
    applied = [e["revision"] for e in events if e["event"] == "migration.applied"]
    assert applied == ["l00000000002", "l00000000003"]  # it got as far as the block
    assert any("l00000000003 -> l00000000004" in e.get("message", "") for e in events)
    assert "lost the lock" in events[-1]["error"]
    assert version_rows(pg_url) == {"l00000000001"}
    assert columns(pg_url) == {"id", "n"}


def test_a_component_may_set_its_own_transaction_mode(pg_url, tmp_path):
    """Top level ``run``, core ``revision``: core's revisions commit one by one."""
    bundle = tmp_path / "live"
    shutil.copytree(LIVE, bundle)
    manifest = bundle / "manifest.toml"
    text = manifest.read_text().replace(
        'name = "core"\n', 'name = "core"\ntransaction = "revision"\n'
    )
    manifest.write_text(text)
    at(pg_url, "e00000000001")
    execute(pg_url, "INSERT INTO live_hot (n) VALUES (0)")
    result = gmg("dbupdate", "--plugins", "extra", url=pg_url, bundle=bundle)
    assert result.code == 70, result
    assert result.last["revision"] == "l00000000003"
    assert version_rows(pg_url) == {"l00000000002", "e00000000001"}
    assert columns(pg_url) == {"id", "n", "flag"}


def test_revision_mode_plans_each_components_path_once(pg_url, live_bundle, monkeypatch):
    """One transaction per revision, but Alembic's path is planned once per component, not
    once per revision (planning walks the whole history: quadratic over a long one)."""
    from alembic.script import ScriptDirectory

    planned: list[tuple] = []
    plan = ScriptDirectory._upgrade_revs

    def counted(self, destination, current_rev):
        planned.append(tuple(current_rev))
        return plan(self, destination, current_rev)

    at(pg_url, "e00000000001")
    monkeypatch.setattr(ScriptDirectory, "_upgrade_revs", counted)
    result = gmg("dbupdate", "--plugins", "extra", url=pg_url, bundle=live_bundle("revision"))
    assert result.code == 0, result
    assert result.last["applied"] == ["l00000000002", "l00000000003", CORE_HEAD, EXTRA_HEAD]
    assert version_rows(pg_url) == {CORE_HEAD, EXTRA_HEAD}
    # core from e00000000001 (which stands for l00000000001), then extra from core's head
    assert planned == [("e00000000001",), ("e00000000001", CORE_HEAD)], planned
