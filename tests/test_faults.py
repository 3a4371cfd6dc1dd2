"""Fault injection through the CLI: restarts, kills, signals, crowds. Each case checks the exit
code, the final event and the database afterwards; each is a row of RELIABILITY.md."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import time
from collections import Counter

import pytest

from conftest import (
    BUNDLE,
    URL_FIXTURES,
    Job,
    backend_of,
    crowd,
    declare_head,
    query,
    run_gmg,
    schema_of,
    version_rows,
)
from gmg_dbupdate.bundle import Bundle
from pgserver import PASSWORD, Cluster, wait_until_accepting

pytestmark = [pytest.mark.slow]
BUNDLE_OBJ = Bundle.load(BUNDLE)
(HEAD,) = BUNDLE_OBJ.branches.heads["core"]
SLOW = "cccccccccccc"


# A run's environment may set the slow revision's pause: SLOW_SECONDS (a rerun that only has to
# converge sets 0), or SLOW_GATE, a file the pause lasts as long as (at most a minute).
SLOW_SECONDS = "TEST_SLOW_SECONDS"
SLOW_GATE = "TEST_SLOW_GATE"
NO_PAUSE = {SLOW_SECONDS: "0"}


def slow_bundle(tmp_path, seconds: float):
    """The shipped bundle plus one core revision that creates a table, then takes its time:
    ``seconds``, unless the run's environment says otherwise (``SLOW_SECONDS``, ``SLOW_GATE``)."""
    target = tmp_path / "slow-bundle"
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    (target / "versions" / "core" / f"{SLOW}_slow.py").write_text(
        '"""slow"""\nimport os\nimport time\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "{SLOW}"\ndown_revision = "{HEAD}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def pause():\n"
        f'    gate = os.environ.get("{SLOW_GATE}")\n'
        "    if gate:\n"
        "        deadline = time.monotonic() + 60\n"
        "        while os.path.exists(gate) and time.monotonic() < deadline:\n"
        "            time.sleep(0.05)\n"
        "        return\n"
        f'    seconds = float(os.environ.get("{SLOW_SECONDS}", {float(seconds)!r}))\n'
        '    if op.get_bind().dialect.name == "mysql":\n'
        '        op.execute(f"SELECT SLEEP({seconds})")\n'
        '    elif op.get_bind().dialect.name == "postgresql":\n'
        '        op.execute(f"SELECT pg_sleep({seconds})")\n'
        "    else:\n"
        "        time.sleep(seconds)\n\n\n"
        "def upgrade():\n"
        # MySQL commits each DDL statement: the sleep (KILL QUERY ends it) comes first there,
        # so that a stop mid-revision leaves nothing of it
        '    if op.get_bind().dialect.name == "mysql":\n'
        "        pause()\n"
        '    op.create_table("core__slow", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    if op.get_bind().dialect.name != "mysql":\n'
        "        pause()\n\n\n"
        "def downgrade():\n    pass\n"
    )
    declare_head(target, HEAD, SLOW)
    return target


def migrating_slow(event: dict) -> bool:
    return event["event"] == "alembic.log" and f"-> {SLOW}" in event.get("message", "")


def at_old_head(url: str) -> bool:
    return (
        HEAD in version_rows(url)
        and SLOW not in version_rows(url)
        and ("core__slow" not in schema_of(url))
    )


def lock_is_free(url: str) -> bool:
    if url.startswith("sqlite"):
        with open(url.removeprefix("sqlite:///") + ".lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    if backend_of(url) == "mysql":
        from gmg_dbupdate.backends import backend_for
        from gmg_dbupdate.config import parse_url
        from gmg_dbupdate.lock import lock_name

        backend = backend_for(parse_url(url), connect_timeout=5)
        name = backend.lock_name(lock_name(BUNDLE_OBJ))
        fence = backend.lock_name(f"{lock_name(BUNDLE_OBJ)}:fence")
        free = "SELECT IS_FREE_LOCK(:lock) AND IS_FREE_LOCK(:fence)"
        # a closed connection's named locks go when the server has ended its thread, which it
        # does just after the client is gone: a moment's grace, not a wait for a timeout
        deadline = time.monotonic() + 2
        while query(url, free, lock=name, fence=fence)[0][0] != 1:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    return query(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0][0] == 0


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test's own, initialised but not started."""
    cluster = Cluster()
    cluster.init()
    yield cluster
    cluster.stop()


# --- the database comes and goes ----------------------------------------------------------


@pytest.mark.reliability(
    case="database comes up 5 s after the job starts", expected="exit 0, waited, schema current"
)
def test_database_comes_up_late(own_cluster, observe):
    job = Job("dbupdate", "--database-url", own_cluster.admin_url, "--wait-timeout", "30")
    job.wait_for(lambda e: e["event"] == "db.waiting")
    time.sleep(5)
    own_cluster.start_server()
    result = job.finish()
    assert result.code == 0, result
    ready = result.named("db.ready")[0]
    assert ready["waited_s"] >= 5 and ready["attempts"] > 1
    assert ready["attempts"] / ready["waited_s"] <= 10
    assert HEAD in version_rows(own_cluster.admin_url)
    observe(f"exit 0 after waiting {ready['waited_s']} s ({ready['attempts']} attempts)")


def test_current_schema_behind_a_late_database_takes_the_light_path(own_cluster):
    """A pod restarted while the database restarts still skips the migration machinery."""
    own_cluster.start_server()
    url = own_cluster.admin_url
    assert run_gmg("dbupdate", "--database-url", url, "--plugins", "all").code == 0
    own_cluster.stop_server("fast")  # a clean shutdown: this test cluster commits lazily
    job = Job("dbupdate", "--database-url", url, "--plugins", "all", "--wait-timeout", "30")
    job.wait_for(lambda e: e["event"] == "db.waiting")
    time.sleep(1)
    own_cluster.start_server()
    result = job.finish()
    assert result.code == 0, result
    assert result.last.get("fast_path") is True, result.events
    assert result.last["changed"] is False
    names = [e["event"] for e in result.events]
    assert names[0] == "dbupdate.start" and "db.waiting" in names, names
    assert names[-3:] == ["db.ready", "schema.classified", "dbupdate.done"], names
    assert not any(n.startswith("alembic.") or n.startswith("lock.") for n in names), names


@pytest.mark.reliability(
    case="database never comes up (deadline 5 s)", expected="exit 69 within 10% of the deadline"
)
def test_database_never_comes_up(own_cluster, observe):
    result = run_gmg("dbupdate", "--database-url", own_cluster.admin_url, "--wait-timeout", "5")
    assert result.code == 69, result
    span = result.span("dbupdate.start", "dbupdate.failed")
    assert 5 <= span <= 5.5, span
    observe(f"exit 69 after {span:.2f} s")


@pytest.mark.reliability(
    case="database goes down mid-migration", expected="exit 70; rerun converges"
)
def test_database_goes_down_mid_run(own_cluster, tmp_path, observe):
    own_cluster.start_server()
    url = own_cluster.admin_url
    assert run_gmg("dbupdate", "--database-url", url).code == 0
    bundle = slow_bundle(tmp_path, 4)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", url)
    job.wait_for(migrating_slow)
    own_cluster.stop_server("fast")
    result = job.finish()
    assert result.code == 70, result
    assert result.last["revision"] == SLOW
    own_cluster.start_server()
    wait_until_accepting(url)
    assert at_old_head(url)
    rerun = run_gmg("dbupdate", "--migrations", str(bundle), "--database-url", url, env=NO_PAUSE)
    assert rerun.code == 0, rerun
    assert rerun.last["applied"] == [SLOW]
    observe(f"exit 70 naming {SLOW}; old revision kept; rerun exit 0 applied {SLOW}")


@pytest.mark.reliability(
    case="migration connection killed (pg_terminate_backend)",
    expected="exit 70, schema at the old revision, rerun converges",
)
def test_migration_connection_terminated(pg_url, pg_admin, tmp_path, observe):
    import sqlalchemy as sa

    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    bundle = slow_bundle(tmp_path, 20)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", pg_url)
    job.wait_for(migrating_slow)
    database = pg_url.rsplit("/", 1)[1]
    with pg_admin.connect() as c:
        killed = c.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).all()
    assert killed == [(True,)]
    result = job.finish()
    assert result.code == 70, result
    assert at_old_head(pg_url) and lock_is_free(pg_url)
    rerun = run_gmg("dbupdate", "--migrations", str(bundle), "--database-url", pg_url, env=NO_PAUSE)
    assert rerun.code == 0 and rerun.last["applied"] == [SLOW], rerun
    observe("exit 70; old revision kept; lock free; rerun exit 0")


# --- the job is killed or stopped ---------------------------------------------------------


@pytest.mark.reliability(
    case="SIGKILL mid-migration, then a rerun",
    expected="schema never between revisions; rerun converges",
)
@pytest.mark.parametrize("backend", list(URL_FIXTURES))
def test_sigkill_mid_migration_then_rerun(backend, request, tmp_path, observe):
    url = request.getfixturevalue(URL_FIXTURES[backend])
    assert run_gmg("dbupdate", "--database-url", url).code == 0
    bundle = slow_bundle(tmp_path, 3)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", url)
    job.wait_for(migrating_slow)
    job.proc.kill()
    job.proc.wait()
    # PostgreSQL drops the transaction with the session; SQLite rolls its hot journal back
    # when the file is next opened: the Alembic phase is one transaction, no snapshot needed.
    assert at_old_head(url)
    assert not os.path.exists(url.removeprefix("sqlite:///") + ".gmg-snapshot")
    rerun = run_gmg("dbupdate", "--migrations", str(bundle), "--database-url", url, env=NO_PAUSE)
    assert rerun.code == 0, rerun
    assert rerun.last["applied"] == [SLOW]
    assert SLOW in version_rows(url) and "core__slow" in schema_of(url)
    assert not rerun.named("sqlite.restored")
    observe(f"killed; old revision intact, no snapshot; rerun exit 0 applied {SLOW}")


@pytest.mark.reliability(
    case="SIGTERM / SIGINT mid-migration",
    expected="exit 143 / 130 within the 10 s grace, rolled back, lock free",
)
@pytest.mark.parametrize(
    ("backend", "signum"),
    [
        ("postgresql", signal.SIGTERM),
        ("sqlite", signal.SIGTERM),
        ("postgresql", signal.SIGINT),
        ("mysql", signal.SIGTERM),
    ],
    ids=["postgresql-SIGTERM", "sqlite-SIGTERM", "postgresql-SIGINT", "mysql-SIGTERM"],
)
def test_signal_mid_migration(backend, signum, request, tmp_path, observe):
    url = request.getfixturevalue(URL_FIXTURES[backend])
    assert run_gmg("dbupdate", "--database-url", url).code == 0
    bundle = slow_bundle(tmp_path, 30)
    job = Job("dbupdate", "--migrations", str(bundle), "--database-url", url)
    job.wait_for(migrating_slow)
    sent = time.monotonic()
    job.proc.send_signal(signum)
    result = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 128 + signum, result
    assert took < 10, took
    assert result.last["signal"] == signal.Signals(signum).name
    assert result.named("lock.released")
    assert at_old_head(url) and lock_is_free(url)
    observe(f"exit {result.code} {took:.2f} s after the signal; old revision kept; lock free")


@pytest.mark.reliability(case="SIGTERM while waiting for the database", expected="exit 143 at once")
def test_sigterm_during_database_wait(own_cluster, observe):
    job = Job("dbupdate", "--database-url", own_cluster.admin_url, "--wait-timeout", "60")
    job.wait_for(lambda e: e["event"] == "db.waiting")
    sent = time.monotonic()
    job.proc.send_signal(signal.SIGTERM)
    result = job.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 143 and took < 3, (result, took)
    observe(f"exit 143 {took:.2f} s after the signal")


@pytest.mark.reliability(
    case="SIGTERM while waiting for the lock", expected="exit 143 at once, holder untouched"
)
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_sigterm_during_lock_wait(backend, request, tmp_path, observe):
    pg_url = request.getfixturevalue(URL_FIXTURES[backend])
    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    bundle = slow_bundle(tmp_path, 0)
    gate = tmp_path / "holder-gate"  # the holder stays in its slow revision while this exists
    gate.touch()
    holder = Job(
        "dbupdate",
        "--migrations",
        str(bundle),
        "--database-url",
        pg_url,
        env={SLOW_GATE: str(gate)},
    )
    holder.wait_for(migrating_slow)
    waiter = Job("dbupdate", "--migrations", str(bundle), "--database-url", pg_url)
    waiting = waiter.wait_for(lambda e: e["event"] == "lock.waiting")
    named = "application_name" if backend == "postgresql" else "program_name"
    assert waiting["holder"][named].startswith("gmg-dbupdate:"), waiting
    sent = time.monotonic()
    waiter.proc.send_signal(signal.SIGTERM)
    result = waiter.finish(timeout=30)
    took = time.monotonic() - sent
    assert result.code == 143 and took < 3, (result, took)
    assert holder.proc.poll() is None, "the holder was still migrating"
    gate.unlink()
    assert holder.finish().code == 0
    assert SLOW in version_rows(pg_url)
    observe(f"waiter exit 143 {took:.2f} s after the signal; holder finished with exit 0")


@pytest.mark.reliability(
    case="lock holder killed with SIGKILL", expected="the lock frees at once; next runner converges"
)
@pytest.mark.parametrize("backend", list(URL_FIXTURES))
def test_killed_holder_frees_the_lock(backend, request, tmp_path, observe):
    url = request.getfixturevalue(URL_FIXTURES[backend])
    assert run_gmg("dbupdate", "--database-url", url).code == 0
    bundle = slow_bundle(tmp_path, 3)
    holder = Job("dbupdate", "--migrations", str(bundle), "--database-url", url)
    holder.wait_for(migrating_slow)
    holder.proc.kill()
    holder.proc.wait()
    result = run_gmg(
        "dbupdate",
        "--migrations",
        str(bundle),
        "--database-url",
        url,
        "--lock-timeout",
        "10",
        env=NO_PAUSE,
    )
    assert result.code == 0, result
    waited = result.named("lock.acquired")[0]["waited_s"]
    assert waited < 5, waited
    fenced = [e for e in result.named("lock.waiting") if e.get("fence")]
    then = ", then waited on the fence for the killed runner's statement" if fenced else ""
    observe(f"next runner got the lock after {waited} s{then}; applied {result.last['applied']}")


# --- crowds -------------------------------------------------------------------------------


@pytest.mark.reliability(
    case="20 runners at once on a fresh database",
    expected="all exit 0; one bootstrap; nothing twice",
)
def test_twenty_runners_fresh(pg_url, observe):
    results = crowd(20, "--database-url", pg_url, "--plugins", "all")
    codes = [c for c, _ in results]
    assert codes == [0] * 20, [e[-1] for _, e in results]
    boots = Counter(
        e["component"] for _, ev in results for e in ev if e["event"] == "schema.bootstrapped"
    )
    assert boots == Counter({c.name: 1 for c in BUNDLE_OBJ.components})
    observe(f"20 × exit 0; bootstrapped once each: {dict(boots)}")


@pytest.mark.reliability(
    case="20 runners at once on a database needing upgrades",
    expected="all exit 0; each revision applied once",
)
def test_twenty_runners_upgrade(pg_url, observe):
    core = [
        r.revision
        for r in BUNDLE_OBJ.script.walk_revisions()
        if BUNDLE_OBJ.branches.owner[r.revision] == "core"
    ]
    r = run_gmg("alembic", "--database-url", pg_url, "upgrade", core[-1], json_logs=False)
    assert r.code == 0, r
    results = crowd(20, "--database-url", pg_url)
    assert [c for c, _ in results] == [0] * 20, [e[-1] for _, e in results]
    applied = Counter(
        e["revision"] for _, ev in results for e in ev if e["event"] == "migration.applied"
    )
    assert applied == Counter(core[:-1])
    observe(f"20 × exit 0; {len(applied)} revisions, each applied once")


def test_password_never_printed_by_the_fault_cases():
    """run_gmg and Job assert this on every run above; here, the password is really used."""
    assert PASSWORD and len(PASSWORD) > 8
