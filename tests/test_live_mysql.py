"""Migrating under live traffic on real MariaDB, through the CLI (``ddl.py`` with the MySQL
backend's rules).

``tests/bundles/livemysql``: core alters a hot table (one statement in ``m00000000002``; in
``m00000000003`` a new table first, which commits itself, then the hot table). A "blocker" is
another session that read the hot table in a transaction it keeps open: it holds a shared
metadata lock on the table, as a long report or an idle-in-transaction app session does.
Timing is asserted only with generous bounds.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import mariadbserver
from conftest import Job, query, run_gmg, version_rows

LIVE = Path(__file__).resolve().parent / "bundles" / "livemysql"
HEAD = "m00000000003"
MDL_INSTRUMENT = "wait/lock/metadata/sql/mdl"


def gmg(*args: str, url: str, bundle: Path = LIVE, **kwargs):
    return run_gmg(*args, "--migrations", str(bundle), "--database-url", url, **kwargs)


def at(url: str, revision: str, bundle: Path = LIVE) -> None:
    """Bring the database to ``revision`` with Alembic's own CLI."""
    result = run_gmg(
        "alembic", "--migrations", str(bundle), "--database-url", url, "upgrade", revision,
        json_logs=False,
    )  # fmt: skip
    assert result.code == 0, result


def blocker(url: str):
    """A session that holds a shared metadata lock on the hot table until its transaction
    ends."""
    connection = mariadbserver.connect(url, autocommit=False, program_name="live-blocker")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM live_hot")
        cursor.fetchall()
    return connection


def columns(url: str, table: str = "live_hot") -> set[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = :t"
    )
    return {r[0] for r in query(url, sql, t=table)}


def tables(url: str) -> set[str]:
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    return {r[0] for r in query(url, sql)}


def start_gmg(url: str, *args: str) -> Job:
    """``gmg dbupdate`` on the live bundle, in a process whose log is read as it comes."""
    return Job("dbupdate", "--migrations", str(LIVE), "--database-url", url, *args)


@pytest.fixture(params=["metadata_locks", "innodb_trx"])
def blocker_source(request, mysql_admin_url):
    """Blockers named from performance_schema.metadata_locks (the MDL instrument on) or, less
    precisely, from information_schema.innodb_trx (the instrument off). The server is this
    worker's own; the instrument is put back after the test."""
    admin = mariadbserver.connect(mysql_admin_url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT enabled FROM performance_schema.setup_instruments WHERE name = %s",
                (MDL_INSTRUMENT,),
            )
            (before,) = cursor.fetchone()
            wanted = "YES" if request.param == "metadata_locks" else "NO"
            cursor.execute(
                "UPDATE performance_schema.setup_instruments SET enabled = %s WHERE name = %s",
                (wanted, MDL_INSTRUMENT),
            )
        yield request.param
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "UPDATE performance_schema.setup_instruments SET enabled = %s WHERE name = %s",
                (before, MDL_INSTRUMENT),
            )
        admin.close()


@pytest.mark.slow
@pytest.mark.reliability(
    case="DDL blocked by an open transaction (MariaDB)",
    expected="ddl.blocked naming the blocker, retried, exit 0; app never stalled 4 s",
)
def test_blocked_ddl_is_retried_and_the_app_keeps_going(mysql_url, blocker_source):
    at(mysql_url, "m00000000001")
    held = blocker(mysql_url)
    held_id = held.thread_id()
    worst: list[float] = []
    stop = threading.Event()

    def app() -> None:
        """The app's simple reads on the hot table, timed, until told to stop."""
        connection = mariadbserver.connect(mysql_url, program_name="live-app")
        try:
            while not stop.is_set():
                began = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM live_hot")
                    cursor.fetchall()
                worst.append(time.monotonic() - began)
                time.sleep(0.05)
        finally:
            connection.close()

    reader = threading.Thread(target=app, daemon=True)
    job = start_gmg(mysql_url, "--plugins", "none", "--ddl-lock-timeout", "1")
    try:
        reader.start()
        time.sleep(6)  # longer than the bound below: without retries the app stalls this long
        held.rollback()  # the blocker ends
        stop.set()
        reader.join(timeout=60)
        result = job.finish(timeout=120)
    finally:
        stop.set()
        held.close()
        if job.proc.poll() is None:
            job.proc.kill()
    events = result.events
    assert result.code == 0, events[-1]
    assert worst and max(worst) < 4, max(worst)  # about ddl-lock-timeout (1 s), generously
    blocked = [e for e in events if e["event"] == "ddl.blocked"]
    assert blocked, events
    named = [b for e in blocked for b in e["blockers"]]
    assert held_id in [b["pid"] for b in named], blocked
    mine = next(b for b in named if b["pid"] == held_id)
    assert mine["source"] == blocker_source
    assert mine["application_name"] == "live-blocker"
    assert "in transaction" in mine["state"]
    assert blocked[0]["revision"] == "m00000000002"
    assert "ALTER TABLE live_hot" in blocked[0]["statement"]
    assert blocked[0]["ddl_lock_timeout_s"] == 1
    assert events[-1]["event"] == "dbupdate.done"
    assert events[-1]["applied"] == ["m00000000002", HEAD]
    assert version_rows(mysql_url) == {HEAD}
    assert columns(mysql_url) == {"id", "n", "flag", "other"}


@pytest.mark.slow
@pytest.mark.reliability(
    case="DDL blocked past --lock-timeout (MariaDB)",
    expected="exit 75 naming the blocker, nothing of the revision applied",
)
def test_blocked_until_the_deadline_exits_75_naming_the_blocker(mysql_url):
    at(mysql_url, "m00000000001")
    held = blocker(mysql_url)
    held_id = held.thread_id()
    try:
        result = gmg(
            "dbupdate", "--plugins", "none", "--ddl-lock-timeout", "0.3", "--lock-timeout", "3",
            url=mysql_url,
        )  # fmt: skip
    finally:
        held.close()
    assert result.code == 75, result
    assert result.named("ddl.blocked"), result
    failed = result.last
    assert held_id in [b["pid"] for b in failed["blockers"]], failed
    assert f"pid={held_id}" in failed["error"] and "live-blocker" in failed["error"]
    assert failed["revision"] == "m00000000002"
    assert version_rows(mysql_url) == {"m00000000001"}  # nothing of the refused revision
    assert columns(mysql_url) == {"id", "n"}


@pytest.mark.reliability(
    case="DDL refused after part of its revision committed (MariaDB)",
    expected="exit 70 half_applied, not retried",
)
def test_refused_after_part_of_the_revision_committed_is_70_half_applied(mysql_url):
    at(mysql_url, "m00000000002")
    held = blocker(mysql_url)
    try:
        result = gmg(
            "dbupdate", "--plugins", "none", "--ddl-lock-timeout", "1", "--lock-timeout", "60",
            url=mysql_url,
        )  # fmt: skip
    finally:
        held.close()
    assert result.code == 70, result
    failed = result.last
    assert failed["revision"] == HEAD
    assert failed["half_applied"] is True
    assert "refused its lock after part of the revision had committed" in failed["error"], (
        "\n".join(json.dumps(e)[:400] for e in result.events)
    )
    assert not result.named("ddl.blocked")  # not retried
    assert "live_side" in tables(mysql_url)  # its first statement committed itself
    assert columns(mysql_url) == {"id", "n", "flag"}
    assert version_rows(mysql_url) == {"m00000000002"}


@pytest.mark.reliability(
    case="statement past --statement-timeout (MariaDB)",
    expected="exit 70, cut short",
)
def test_statement_timeout_cancels_a_long_statement_on_mariadb(mysql_url, tmp_path):
    bundle = tmp_path / "livemysql"
    shutil.copytree(LIVE, bundle)
    manifest = bundle / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(HEAD, "m00000000004"))
    (bundle / "versions" / "core" / "m00000000004_slow.py").write_text(
        '"""a long statement"""\n\nfrom alembic import op\n\n'
        'revision = "m00000000004"\ndown_revision = "m00000000003"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        'def upgrade() -> None:\n    op.execute("SELECT SLEEP(30)")\n\n\n'
        "def downgrade() -> None:\n    raise NotImplementedError\n"
    )
    at(mysql_url, HEAD, bundle)
    began = time.monotonic()
    result = gmg("dbupdate", "--plugins", "none", "--statement-timeout", "0.5", url=mysql_url,
                 bundle=bundle)  # fmt: skip
    assert result.code == 70, result
    assert time.monotonic() - began < 25  # cut short, not slept out
    assert result.last["revision"] == "m00000000004"
    assert "max_statement_time" in result.last["error"]
    assert not result.named("ddl.blocked")
    assert not result.named("ddl.statement_timeout_not_applied")  # MariaDB applies it
    assert version_rows(mysql_url) == {HEAD}


def _backend(url: str):
    """A MySQL backend and its engine, as the run makes them."""
    from gmg_dbupdate import config
    from gmg_dbupdate.backends.mysql import MySQLBackend

    backend = MySQLBackend(config.parse_url(url), connect_timeout=5)
    return backend, backend.engine()


def test_a_units_bounds_are_rounded_up_and_restored_after_it(mysql_url):
    backend, engine = _backend(mysql_url)
    settings = SimpleNamespace(ddl_lock_timeout=0.3, statement_timeout=1.5, lock_timeout=9)
    rules = backend.ddl_rules(settings, None)
    read = "SELECT @@SESSION.lock_wait_timeout, @@SESSION.max_statement_time"
    try:
        with engine.connect() as c:
            before = tuple(c.exec_driver_sql(read).one())
            c.rollback()
            for _ in range(2):  # one unit after another: bounded inside, restored outside
                rules.begin(c)
                assert tuple(c.exec_driver_sql(read).one()) == (1, 1.5)
                rules.end(c)
                c.rollback()
                assert tuple(c.exec_driver_sql(read).one()) == before
                c.rollback()
    finally:
        engine.dispose()
    assert before[0] > 1


def test_statement_timeout_on_mysql_proper_is_not_applied_and_said_once(mysql_url, monkeypatch):
    from gmg_dbupdate import logs

    said: list[tuple] = []

    class Logger:
        def warning(self, event, **fields):
            said.append((event, fields))

    monkeypatch.setattr(logs, "get_logger", lambda: Logger())
    backend, engine = _backend(mysql_url)
    settings = SimpleNamespace(ddl_lock_timeout=2.5, statement_timeout=1.0, lock_timeout=9)
    try:
        with engine.connect() as c:
            c.connection.driver_connection.get_server_info = lambda: "8.0.36"  # MySQL proper
            before = c.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar()
            c.rollback()
            for _ in range(2):  # two phases' rules of one run: said once
                rules = backend.ddl_rules(settings, None)
                rules.begin(c)
                assert c.exec_driver_sql("SELECT @@SESSION.lock_wait_timeout").scalar() == 3
                assert c.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar() == before
                rules.end(c)
                c.rollback()
    finally:
        engine.dispose()
    assert [event for event, _ in said] == ["ddl.statement_timeout_not_applied"]
    assert said[0][1]["statement_timeout_s"] == 1.0
