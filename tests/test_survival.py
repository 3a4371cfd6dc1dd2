"""Issue 10, classes 1-5: stale SQLite snapshots, passwords in odd URLs, a lost lock session,
the legacy child's lifetime, exit codes of the less common failures. Through the CLI, against
real PostgreSQL and real SQLite files; each case is a row of RELIABILITY.md."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy.engine import make_url

from conftest import BUNDLE, Job, alive, children_of, query, run_gmg, version_rows
from gmg_dbupdate import snapshot
from gmg_dbupdate.backends.postgresql import advisory_key
from gmg_dbupdate.bundle import Bundle
from gmg_dbupdate.errors import MigrationFailed
from gmg_dbupdate.lock import lock_name
from legacy_build import build_legacy_db
from pgserver import PASSWORD, free_port
from test_faults import (
    NO_PAUSE,
    SLOW,
    SLOW_GATE,
    SLOW_SECONDS,
    lock_is_free,
    migrating_slow,
    slow_bundle,
)

pytestmark = [pytest.mark.slow]
BUNDLE_OBJ = Bundle.load(BUNDLE)
LOCK_CLASSID = advisory_key(lock_name(BUNDLE_OBJ))[0]
OTHER_SECRET = "Od-d-Secret-42"
NOWHERE = f"127.0.0.1:{free_port()}"  # nothing listens there


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def slow_legacy_bundle(tmp_path, script: str, seconds: float):
    """The shipped bundle with one core legacy script that takes its time first: ``seconds``,
    or what the run's environment says (``SLOW_SECONDS``; a rerun that only converges sets 0)."""
    target = tmp_path / "slow-legacy-bundle"
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    path = next((target / "legacy" / "core" / "versions").glob(f"{script}_*.py"))
    text = path.read_text()
    text = text.replace(
        "def upgrade(migrate_engine):\n",
        "def upgrade(migrate_engine):\n"
        "    import os\n"
        f"    seconds = float(os.environ.get('{SLOW_SECONDS}', {float(seconds)!r}))\n"
        "    if migrate_engine.dialect.name == 'postgresql':\n"
        "        migrate_engine.execute('SELECT pg_sleep(%s)' % seconds)\n"
        "    else:\n"
        "        import time\n"
        "        time.sleep(seconds)\n",
        1,
    )
    path.write_text(text)
    return target


def legacy_sessions(url: str) -> list[tuple]:
    return query(
        url,
        "SELECT pid, application_name, state FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE :named",
        named="gmg-dbupdate:%:legacy",
    )


def core_legacy_version(url: str) -> int:
    rows = query(url, "SELECT repository_id, version FROM migrate_version")
    return next(v for r, v in rows if "core" in r.lower() or r == "mediagoblin")


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# --- class 1: SQLite snapshots ---------------------------------------------------------------


@pytest.mark.reliability(
    case="SQLite: SIGKILL mid-upgrade, then the app writes",
    expected="no snapshot taken for a one-transaction phase; rerun exit 0 keeps the new rows",
)
def test_sqlite_kill_mid_upgrade_keeps_later_writes(sqlite_url, observe):
    assert run_gmg("dbupdate", "--database-url", sqlite_url, "--plugins", "none").code == 0
    path = sqlite_path(sqlite_url)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    job = Job("dbupdate", "--database-url", sqlite_url, "--plugins", "all")
    job.wait_for(lambda e: e["event"] == "schema.classified")
    time.sleep(1)  # now waiting on the write lock, inside its transaction
    job.proc.kill()
    job.proc.wait()
    blocker.execute("ROLLBACK")
    blocker.close()
    names = [line for line in job.lines if '"sqlite.snapshot"' in line]
    assert not names, names
    assert not os.path.exists(path + ".gmg-snapshot")
    app = sqlite3.connect(path)
    app.execute("INSERT INTO core__users (username, email) VALUES ('late', 'late@example.org')")
    app.commit()
    app.close()
    rerun = run_gmg("dbupdate", "--database-url", sqlite_url, "--plugins", "all")
    assert rerun.code == 0 and rerun.last["changed"] is True, rerun
    assert not rerun.named("sqlite.restored")
    assert query(sqlite_url, "SELECT username FROM core__users WHERE username = 'late'")
    observe("killed; no snapshot; rerun exit 0, plugins installed, the row written after kept")


@pytest.mark.reliability(
    case="SQLite: SIGKILL in the legacy phase, then a rerun",
    expected="child gone with the job; snapshot restored only if nothing wrote since, "
    "else set aside and the new rows kept; rerun exit 0",
)
@pytest.mark.parametrize("app_writes", [False, True], ids=["untouched", "app-wrote"])
def test_sqlite_kill_in_legacy_phase(app_writes, sqlite_url, tmp_path, observe):
    build_legacy_db(sqlite_url, {"core": 6})
    bundle = slow_legacy_bundle(tmp_path, "008", 4)
    path = sqlite_path(sqlite_url)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", sqlite_url)
    job.wait_for(lambda e: e["event"] == "legacy.applied" and e["version"] == 7)
    time.sleep(0.5)  # inside script 8
    children = children_of(job.proc.pid)
    assert children, "the legacy runner is the job's child"
    job.proc.kill()
    job.proc.wait()
    # the runner goes with the job: an orphan would commit script 8 once its sleep is over
    assert wait_until(lambda: not any(alive(c) for c in children), 10), children
    assert core_legacy_version(sqlite_url) == 7
    assert os.path.exists(path + ".gmg-snapshot")
    if app_writes:
        app = sqlite3.connect(path)
        app.execute("CREATE TABLE app_log (line TEXT)")
        app.execute("INSERT INTO app_log VALUES ('written after the kill')")
        app.commit()
        app.close()
    rerun = run_gmg(
        "dbupdate", "--migrations", str(bundle), "--database-url", sqlite_url, env=NO_PAUSE
    )
    assert rerun.code == 0, rerun
    assert not os.path.exists(path + ".gmg-snapshot")
    if app_writes:
        discarded = rerun.named("sqlite.snapshot.discarded")
        assert discarded and not rerun.named("sqlite.restored"), rerun.events
        assert os.path.exists(path + ".gmg-snapshot.discarded")
        assert query(sqlite_url, "SELECT line FROM app_log") == [("written after the kill",)]
        # walked on from 7, where the killed run left it
        assert [e["version"] for e in rerun.named("legacy.applied")] == [8]
        observe("child gone; snapshot set aside, app row kept; rerun walked 8, exit 0")
    else:
        assert rerun.named("sqlite.restored"), rerun.events
        assert [e["version"] for e in rerun.named("legacy.applied")] == [7, 8]
        observe("child gone; snapshot restored (database untouched); rerun walked 7, 8, exit 0")


# --- class 2: passwords in odd URLs ----------------------------------------------------------


@pytest.mark.reliability(
    case="mistyped URL holding a password",
    expected="exit 64 (69 where it parses and nothing answers); password masked in every line",
)
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql:/user:{OTHER_SECRET}@{NOWHERE}/db",
        f"postgresql//user:{OTHER_SECRET}@{NOWHERE}/db",
        f"postgresql:user:{OTHER_SECRET}@{NOWHERE}/db",
        f"postgresql://user:pa/{OTHER_SECRET}@{NOWHERE}/db",
        f"postgresql://user:pa {OTHER_SECRET}@{NOWHERE}/db",
        f"postgresql://user:{OTHER_SECRET}@127.0.0.1:notaport/db",
        f"postgresql://user:{OTHER_SECRET}@{NOWHERE}",
    ],
    ids=["one-slash", "no-colon", "no-slashes", "slash-in-pw", "space-in-pw", "port", "no-db"],
)
def test_mistyped_urls_never_print_the_password(url, tmp_path, observe):
    termination = tmp_path / "termination-log"
    termination.write_text("")
    result = run_gmg(
        "dbupdate",
        "--database-url",
        url,
        "--wait-timeout",
        "1",
        env={"GMG_TERMINATION_LOG": str(termination)},
        secrets=(PASSWORD, OTHER_SECRET),
    )
    assert result.code in (64, 69), result
    assert OTHER_SECRET not in termination.read_text()
    assert "***" in result.last["error"] or "user:" not in result.last["error"], result
    observe(f"exit {result.code}: {result.last['error'][:80]}")


@pytest.mark.reliability(
    case="password in the query string (password=, sslpassword=)",
    expected="exit 0 on every verb and path; the URL printed masked",
)
def test_query_string_password_is_masked_everywhere(pg_url, observe):
    parsed = make_url(pg_url)
    url = (
        f"postgresql://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}"
        f"?sslmode=disable&password={PASSWORD}&sslpassword={OTHER_SECRET}"
    )
    seen = []
    for args in (
        ("dbupdate",),
        ("dbupdate",),  # the light path
        ("dbupdate", "--check"),
        ("dbcheck",),
        ("dbverify",),
    ):
        result = run_gmg(*args, "--database-url", url, secrets=(PASSWORD, OTHER_SECRET))
        assert result.code == 0, result
        start = result.named("dbupdate.start") or result.named("dbverify.start")
        assert "password=***" in start[0]["url"] and "sslpassword=***" in start[0]["url"]
        seen.append(start[0]["url"])
    observe(f"exit 0 × 5; url shown as {seen[0].split('?')[1]}")


def test_password_equal_to_a_word_of_the_url_masks_only_itself(pg_admin, pg_url):
    import sqlalchemy as sa

    database = make_url(pg_url).database
    with pg_admin.connect() as c:
        c.execute(sa.text("DROP ROLE IF EXISTS postgres_word"))
        c.execute(sa.text("CREATE ROLE postgres_word LOGIN PASSWORD 'postgres'"))
        c.execute(sa.text(f'ALTER DATABASE "{database}" OWNER TO postgres_word'))
        c.execute(sa.text(f'GRANT ALL ON DATABASE "{database}" TO postgres_word'))
    parsed = make_url(pg_url)
    url = f"postgresql://postgres_word:postgres@{parsed.host}:{parsed.port}/{database}"
    try:
        result = run_gmg("dbupdate", "--database-url", url)
        assert result.code == 0, result
        shown = result.named("dbupdate.start")[0]["url"]
        assert shown.startswith("postgresql://postgres_word:***@"), shown
        assert ":postgres@" not in result.stderr
    finally:
        with pg_admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            c.execute(sa.text("DROP ROLE postgres_word"))


# --- class 3: the lock session ends mid-run --------------------------------------------------


def _lock_session(url: str) -> int | None:
    rows = query(
        url,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
        "AND classid = :k AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())",
        k=LOCK_CLASSID,
    )
    return rows[0][0] if rows else None


@pytest.mark.reliability(
    case="lock session terminated mid-migration (pg_terminate_backend)",
    expected="the first runner commits nothing, exit 75 with lock.lost; the second waits, "
    "then migrates once, exit 0",
)
@pytest.mark.parametrize("path", ["full", "light"])
def test_lock_session_terminated_mid_migration(path, pg_url, pg_admin, tmp_path, observe):
    import sqlalchemy as sa

    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    bundle = slow_bundle(tmp_path, 0)
    if path == "light":  # the lock is then held on the light path's bare connection
        assert run_gmg("bundle-index", "--migrations", str(bundle)).code == 0
    gate = tmp_path / "first-gate"  # the first runner stays in its slow revision while this exists
    gate.touch()
    first = Job(
        "dbupdate",
        "--migrations",
        str(bundle),
        "--database-url",
        pg_url,
        env={SLOW_GATE: str(gate)},
    )
    first.wait_for(migrating_slow)
    pid = _lock_session(pg_url)
    assert pid is not None
    with pg_admin.connect() as c:
        assert c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    second = Job(
        "dbupdate", "--migrations", str(bundle), "--database-url", pg_url, "--lock-timeout", "60"
    )
    # the lock is free, but the first is still in its transaction: the second waits for it
    second.wait_for(lambda e: e["event"] == "lock.waiting" and e.get("fence") is True)
    assert first.proc.poll() is None, "the first runner was still migrating"
    gate.unlink()
    one, two = first.finish(), second.finish()
    assert one.code == 75, one
    assert one.named("lock.lost") and not one.named("lock.released"), one.events
    assert two.code == 0 and two.last["applied"] == [SLOW], two
    assert SLOW in version_rows(pg_url) and lock_is_free(pg_url)
    observe(
        f"first exit {one.code} ({one.last['error'][:50]}…); second exit {two.code}, "
        f"applied {two.last['applied']} once"
    )


@pytest.mark.reliability(
    case="DBA's idle_session_timeout of 1 s while a runner migrates",
    expected="the idle lock session survives; holder exit 0, waiter exit 0, applied once",
)
def test_idle_session_timeout_does_not_end_the_lock(pg_url, pg_admin, tmp_path, observe):
    import sqlalchemy as sa

    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    database = make_url(pg_url).database
    with pg_admin.connect() as c:
        c.execute(sa.text(f'ALTER DATABASE "{database}" SET idle_session_timeout = 1000'))
        c.execute(
            sa.text(f'ALTER DATABASE "{database}" SET idle_in_transaction_session_timeout = 1000')
        )
    bundle = slow_bundle(tmp_path, 4)
    holder = Job("dbupdate", "--migrations", str(bundle), "--database-url", pg_url)
    holder.wait_for(migrating_slow)
    waiter = Job("dbupdate", "--migrations", str(bundle), "--database-url", pg_url)
    one, two = holder.finish(), waiter.finish()
    assert one.code == 0 and one.last["applied"] == [SLOW], one
    assert two.code == 0 and two.last["applied"] == [], two
    assert not one.named("lock.lost")
    observe(f"holder exit 0 applied {SLOW}; waiter exit 0 applied nothing")


# --- class 4: the legacy child -------------------------------------------------------------


@pytest.mark.reliability(
    case="SIGTERM during a slow legacy script",
    expected="exit 143 within 10 s; the child's statement cancelled (PostgreSQL: no session "
    "left; SQLite: snapshot put back); the next runner converges",
)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_sigterm_during_legacy_script(backend, request, tmp_path, observe):
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    build_legacy_db(url, {"core": 6})
    bundle = slow_legacy_bundle(tmp_path, "008", 30)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", url)
    job.wait_for(lambda e: e["event"] == "legacy.applied" and e["version"] == 7)
    if backend == "postgresql":  # running, and named
        assert wait_until(lambda: any(s[2] == "active" for s in legacy_sessions(url)), 10)
    else:
        time.sleep(0.5)
    sent = time.monotonic()
    job.proc.send_signal(signal.SIGTERM)
    result = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 143 and took < 10, (result, took)
    assert result.last["signal"] == "SIGTERM"
    assert lock_is_free(url)
    if backend == "postgresql":
        assert legacy_sessions(url) == []  # gone before the job ended: nothing left running
        assert core_legacy_version(url) == 7
        seen = "no legacy session left, version 7 kept"
    else:
        assert result.named("sqlite.restored") and core_legacy_version(url) == 6
        assert not os.path.exists(sqlite_path(url) + ".gmg-snapshot")
        seen = "snapshot put back (version 6)"
    rerun = run_gmg("dbupdate", "--database-url", url, "--lock-timeout", "5")
    assert rerun.code == 0, rerun
    observe(f"exit 143 {took:.2f} s after the signal; {seen}; rerun exit 0")


@pytest.mark.reliability(
    case="SIGKILL of the job (not its child) in the legacy phase (PostgreSQL)",
    expected="the child dies with it and commits nothing more; the next runner converges",
)
def test_sigkill_of_the_job_in_the_legacy_phase(pg_url, tmp_path, observe):
    build_legacy_db(pg_url, {"core": 6})
    bundle = slow_legacy_bundle(tmp_path, "008", 4)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", pg_url)
    job.wait_for(lambda e: e["event"] == "legacy.applied" and e["version"] == 7)
    children = children_of(job.proc.pid)
    assert children, "the legacy runner is the job's child"
    job.proc.kill()
    job.proc.wait()
    assert wait_until(lambda: legacy_sessions(pg_url) == [], 5), legacy_sessions(pg_url)
    # the runner goes with the job: an orphan would commit script 8 once its sleep is over
    assert wait_until(lambda: not any(alive(c) for c in children), 5), children
    assert core_legacy_version(pg_url) == 7
    rerun = run_gmg("dbupdate", "--migrations", str(bundle), "--database-url", pg_url, env=NO_PAUSE)
    assert rerun.code == 0, rerun
    assert [e["version"] for e in rerun.named("legacy.applied")] == [8]
    observe("child gone within 5 s, version stayed 7; rerun walked 8, exit 0")


# --- class 5: exit codes -------------------------------------------------------------------


@pytest.mark.reliability(
    case="SIGHUP / SIGQUIT while waiting for the database",
    expected="exit 129 / 131 at once, dbupdate.failed last",
)
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_sighup_sigquit_stop_like_sigterm(signum, observe):
    url = f"postgresql://gmg:{PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    job = Job("dbupdate", "--database-url", url, "--wait-timeout", "60")
    job.wait_for(lambda e: e["event"] == "db.waiting")
    sent = time.monotonic()
    job.proc.send_signal(signum)
    result = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 128 + signum and took < 3, (result, took)
    assert result.last["event"] == "dbupdate.failed" and result.last["exit_code"] == result.code
    observe(f"exit {result.code} {took:.2f} s after the signal, dbupdate.failed last")


@pytest.mark.reliability(
    case="read-only SQLite directory with work to do",
    expected="exit 77 (the lock file cannot be created), database unchanged",
)
def test_read_only_sqlite_directory_exits_77(tmp_path, observe):
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'mediagoblin.db'}"
    assert run_gmg("dbupdate", "--database-url", url, "--plugins", "none").code == 0
    before = (data / "mediagoblin.db").read_bytes()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(data), str(data)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot make a read-only bind mount here")
    try:
        result = run_gmg("dbupdate", "--database-url", url, "--plugins", "all")
    finally:
        subprocess.run(["umount", str(data)], check=True)
    assert result.code == 77, result
    assert "lock file" in result.last["error"]
    assert (data / "mediagoblin.db").read_bytes() == before


@pytest.mark.reliability(
    case="gmg alembic current with a wrong password, or no server",
    expected="exit 77 / 69, password masked",
)
def test_alembic_with_a_wrong_password_exits_77(pg_url, observe):
    url = make_url(pg_url).set(password=OTHER_SECRET).render_as_string(False)
    result = run_gmg("alembic", "--database-url", url, "current", secrets=(PASSWORD, OTHER_SECRET))
    assert result.code == 77, result
    assert "password authentication failed" in result.last["error"]
    down = run_gmg(
        "alembic",
        "--database-url",
        f"postgresql://u:{OTHER_SECRET}@{NOWHERE}/db",
        "current",
        secrets=(PASSWORD, OTHER_SECRET),
    )
    assert down.code == 69, down
    observe(f"exit {result.code} ({result.last['error'][:60]}…); no server: exit {down.code}")


# --- the snapshot's rule, on real SQLite files (no CLI) --------------------------------------


def _db_with_rows(path, *rows: str):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    connection.executemany("INSERT INTO t VALUES (?)", [(r,) for r in rows])
    connection.commit()
    connection.close()


def _rows(path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [r[0] for r in connection.execute("SELECT v FROM t ORDER BY rowid")]
    finally:
        connection.close()


def _die_in_the_legacy_phase(database, *commits: str) -> None:
    """What a run killed in its legacy phase leaves: snapshot, record, later commits."""
    script = (
        "import os, sqlite3, sys\n"
        "from pathlib import Path\n"
        "from gmg_dbupdate import snapshot\n"
        "database = Path(sys.argv[1])\n"
        "guard = snapshot.guarded(database)\n"
        "committed = guard.__enter__()\n"
        "for row in sys.argv[2:]:\n"
        "    c = sqlite3.connect(database)\n"
        "    c.execute('INSERT INTO t VALUES (?)', (row,))\n"
        "    c.commit()\n"
        "    c.close()\n"
        "    committed()\n"
        "os._exit(0)  # gone, like a killed run\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database), *commits], check=True)


def test_snapshot_is_put_back_over_an_untouched_database(tmp_path):
    database = tmp_path / "x.db"
    _db_with_rows(database, "before")
    _die_in_the_legacy_phase(database, "script 1")
    assert snapshot.restore_leftover(database)
    assert _rows(database) == ["before"]
    assert not snapshot.snapshot_path(database).exists()
    assert list(tmp_path.iterdir()) == [database]


@pytest.mark.parametrize("later", ["app row", None], ids=["app-wrote", "commit-unrecorded"])
def test_snapshot_is_never_put_back_over_later_writes(later, tmp_path):
    database = tmp_path / "x.db"
    _db_with_rows(database, "before")
    _die_in_the_legacy_phase(database, "script 1")
    _db_with_rows(database, later or "script 2, committed as the run died")
    assert not snapshot.restore_leftover(database)
    assert _rows(database)[-1] == (later or "script 2, committed as the run died")
    assert not snapshot.snapshot_path(database).exists()
    aside = tmp_path / "x.db.gmg-snapshot.discarded"
    assert _rows(aside) == ["before"]


def test_a_failed_restore_keeps_both_files_and_is_retried_only_while_untouched(tmp_path):
    database = tmp_path / "x.db"
    _db_with_rows(database, "before")
    _die_in_the_legacy_phase(database, "script 1")
    snap = snapshot.snapshot_path(database)
    good = snap.read_bytes()
    snap.write_bytes(b"not a database" * 100)  # as if the copy back cannot be read or written
    with pytest.raises(MigrationFailed, match="both are kept"):
        snapshot.restore_leftover(database)
    assert _rows(database) == ["before", "script 1"] and snap.exists()
    snap.write_bytes(good)
    _db_with_rows(database, "app row")  # the app wrote before the next run
    assert not snapshot.restore_leftover(database)
    assert _rows(database) == ["before", "script 1", "app row"]


def test_a_failing_legacy_phase_restores_only_if_nothing_else_wrote(tmp_path):
    database = tmp_path / "x.db"
    _db_with_rows(database, "before")
    with pytest.raises(RuntimeError), snapshot.guarded(database) as committed:
        _db_with_rows(database, "script 1")
        committed()
        raise RuntimeError("script 2 failed")
    assert _rows(database) == ["before"]
    with pytest.raises(RuntimeError), snapshot.guarded(database) as committed:
        _db_with_rows(database, "script 1")
        committed()
        _db_with_rows(database, "the app, meanwhile")
        raise RuntimeError("script 2 failed")
    assert _rows(database) == ["before", "script 1", "the app, meanwhile"]
