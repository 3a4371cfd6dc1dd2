"""The MySQL/MariaDB backend on the bare PyMySQL driver, against a real MariaDB server."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pymysql
import pytest

import mariadbserver
from conftest import run_gmg
from gmg_dbupdate import config
from gmg_dbupdate.backends.mysql import MySQLBackend
from gmg_dbupdate.errors import ConfigError, LockLost, LockTimeout
from gmg_dbupdate.manifest import TableName
from legacy_build import legacy_python


def parse(url: str):
    return config.parse_url(url)


def backend_for(url: str, runner: str = "gmg-dbupdate:test:1", **changes) -> MySQLBackend:
    return MySQLBackend(replace(parse(url), **changes), runner=runner, connect_timeout=5)


def scalar(conn, sql: str, args: tuple = ()):
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()[0]


@pytest.fixture
def admin(mysql_admin_url):
    conn = mariadbserver.connect(mysql_admin_url)
    yield conn
    conn.close()


def kill(admin, connection_id: int) -> None:
    """End a connection as a DBA would, and wait until the server has (KILL only marks it)."""
    with admin.cursor() as cursor:
        cursor.execute(f"KILL {int(connection_id)}")
    deadline = time.monotonic() + 10
    while scalar(
        admin, "SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s", (connection_id,)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def performance_schema_on(conn) -> bool:
    return scalar(conn, "SELECT @@performance_schema") == 1


def test_connect_is_named_utf8mb4_and_not_autocommit(mysql_url, admin):
    backend = backend_for(mysql_url, runner="gmg-dbupdate:host-a:42")
    conn = backend.connect()
    try:
        assert conn.get_autocommit() is False
        assert scalar(conn, "SELECT @@character_set_client") == "utf8mb4"
        assert scalar(conn, "SELECT DATABASE()") == parse(mysql_url).database
        assert scalar(conn, "SELECT @@session.wait_timeout") == 86400
        assert backend.server_version(conn) == scalar(conn, "SELECT VERSION()")
        if performance_schema_on(admin):
            name = scalar(
                admin,
                "SELECT attr_value FROM performance_schema.session_connect_attrs "
                "WHERE processlist_id = %s AND attr_name = 'program_name'",
                (conn.thread_id(),),
            )
            assert name == "gmg-dbupdate:host-a:42"
    finally:
        conn.close()


def test_readonly_connection_refuses_writes_as_permission(mysql_url):
    backend = backend_for(mysql_url)
    setup = backend.connect()
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INT PRIMARY KEY)")
    setup.close()
    conn = backend.connect(readonly=True)
    try:
        with pytest.raises(pymysql.err.Error) as caught, conn.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")
        assert caught.value.args[0] == 1792
        assert backend.error_kind(caught.value) == "permission"
    finally:
        conn.close()


def test_wrong_password_is_auth_and_not_echoed(mysql_url):
    backend = backend_for(mysql_url, password="not-the-Password-9")
    with pytest.raises(pymysql.err.Error) as caught:
        backend.connect()
    assert caught.value.args[0] == 1045
    assert backend.error_kind(caught.value) == "auth"
    assert "not-the-Password-9" not in str(caught.value)


def test_unknown_database_is_missing_database(mysql_url):
    backend = backend_for(mysql_url, database=f"nope_{uuid.uuid4().hex[:8]}")
    with pytest.raises(pymysql.err.Error) as caught:
        backend.connect()
    assert caught.value.args[0] == 1049
    assert backend.error_kind(caught.value) == "missing_database"


def test_closed_port_is_transient(mysql_url):
    backend = backend_for(mysql_url, host="127.0.0.1", port=mariadbserver.free_port())
    started = time.monotonic()
    with pytest.raises(pymysql.err.Error) as caught:
        backend.connect()
    assert time.monotonic() - started < 5
    assert caught.value.args[0] == 2003
    assert backend.error_kind(caught.value) == "transient"
    unresolvable = backend_for(mysql_url, host="no-such-host.invalid")  # a Service not there yet
    with pytest.raises(pymysql.err.Error) as caught:
        unresolvable.connect()
    assert caught.value.args[0] == 2003
    assert unresolvable.error_kind(caught.value) == "transient"


def test_tls_required_but_not_offered_is_retried_as_on_postgresql(mysql_url):
    """``ssl_verify_cert=true`` against a server without TLS: retried until the wait deadline
    (69, the server's answer in the error), as libpq's "server does not support SSL"."""
    url = f"{mysql_url}?ssl_verify_cert=true&ssl_ca=/etc/ssl/certs/ca-certificates.crt"
    result = run_gmg("dbupdate", "--database-url", url, "--wait-timeout", "1")
    assert result.code == 69, result
    assert "SSL is required" in result.last["error"], result


def test_other_errors_and_foreign_exceptions(mysql_url):
    backend = backend_for(mysql_url)
    conn = backend.connect()
    try:
        with pytest.raises(pymysql.err.Error) as caught, conn.cursor() as cursor:
            cursor.execute("SELEC 1")
        assert backend.error_kind(caught.value) == "other"
    finally:
        conn.close()
    assert backend.error_kind(ValueError("x")) is None
    assert backend.error_kind(OSError("refused")) is None


def test_url_checks_and_aliases(mysql_url):
    with pytest.raises(ConfigError, match="unknown option 'sslmode'"):
        backend_for(mysql_url, query=(("sslmode", "require"),))
    with pytest.raises(ConfigError, match="unsupported driver 'mysqldb'"):
        parse(mysql_url.replace("mysql+pymysql", "mysql+mysqldb", 1))
    with pytest.raises(ConfigError, match="needs a database name"):
        backend_for(mysql_url, database=None)
    alias = backend_for(mysql_url, scheme="mysql")
    assert alias.sqlalchemy_url().drivername == "mysql+pymysql"
    assert backend_for(mysql_url, scheme="mariadb").sqlalchemy_url().drivername == (
        "mariadb+pymysql"
    )
    assert alias.sqlalchemy_url().query["charset"] == "utf8mb4"
    # sqlalchemy-migrate has no "mariadb" dialect: the sealed runtime always gets "mysql"
    legacy = backend_for(mysql_url, scheme="mariadb+pymysql").legacy_url()
    assert legacy.startswith("mysql+pymysql://") and "charset=utf8mb4" in legacy


def test_quote_table_names_and_columns(mysql_url):
    backend = backend_for(mysql_url)
    conn = backend.connect()
    odd = "we`ird name"
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {backend.quote(odd)} (id INT, {backend.quote('a`b')} INT)"
            )
            cursor.execute("CREATE TABLE plain (x INT)")
            assert backend.table_names(cursor) == {odd, "plain"}
            assert backend.columns(cursor, TableName(odd)) == {"id", "a`b"}
            assert backend.columns(cursor, TableName("plain", parse(mysql_url).database)) == {"x"}
            assert backend.columns(cursor, TableName("absent")) is None
            assert backend.columns(cursor, TableName("plain", "mysql")) is None
    finally:
        conn.close()
    assert backend.quote("a`b") == "`a``b`"


def test_lock_excludes_names_its_holder_and_releases(mysql_url, admin):
    a = backend_for(mysql_url, runner="gmg-dbupdate:host-a:1")
    b = backend_for(mysql_url, runner="gmg-dbupdate:host-b:2")
    lock_a, lock_b = a.lock("gmg-dbupdate:mediagoblin"), b.lock("gmg-dbupdate:mediagoblin")
    try:
        assert lock_a.try_acquire() is True
        assert lock_a.try_acquire() is True  # again: still one hold, not two
        assert lock_b.try_acquire() is False
        holder = lock_b.holder()
        assert holder["connection_id"] == lock_a.connection_id
        assert holder["user"] == parse(mysql_url).username
        assert holder["client_addr"].startswith("127.0.0.1:")
        assert holder["command"] == "Sleep"
        if performance_schema_on(admin):
            assert holder["program_name"] == "gmg-dbupdate:host-a:1"
        assert lock_a.release() is True
        assert lock_b.holder() == {}
        assert lock_b.try_acquire() is True
        assert lock_a.release() is False  # not held any more
        assert lock_b.holder()["connection_id"] == lock_b.connection_id
        assert lock_b.release() is True
    finally:
        lock_a.close()
        lock_b.close()


def test_lock_is_per_database_and_its_connection_idles_briefly(mysql_url, admin):
    other = f"t_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{other}`")
    try:
        here = backend_for(mysql_url).lock("gmg-dbupdate:" + "x" * 80)
        there = backend_for(mysql_url, database=other).lock("gmg-dbupdate:" + "x" * 80)
        try:
            assert len(here.name) <= 64 and here.name != there.name
            assert here.try_acquire() and there.try_acquire()
            # a vanished runner frees the lock within seconds, a live one pings
            assert here._one("SELECT @@session.wait_timeout")[0] == 30
        finally:
            here.close()
            there.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{other}`")


def test_fence_detects_a_killed_lock_connection_and_the_successor_evicts_idle_work(
    mysql_url, admin
):
    a = backend_for(mysql_url, runner="gmg-dbupdate:host-a:1")
    b = backend_for(mysql_url, runner="gmg-dbupdate:host-b:2")
    lock_a, lock_b = a.lock("gmg"), b.lock("gmg")
    work_a, work_b = a.connect(), b.connect()
    try:
        assert lock_a.try_acquire()
        fence_a = lock_a.fence()
        fence_a.enter(work_a, timeout=5)
        fence_a.enter(work_a, timeout=5)  # again on the same connection: no second hold
        fence_a.confirm(work_a)
        assert fence_a.for_child() == {
            "backend": "mysql",
            "lock": lock_a.name,
            "fence": lock_a.fence_name,
            "holder_id": lock_a.connection_id,
            "runner_ids": [work_a.thread_id()],
        }
        with work_a.cursor() as cursor:
            cursor.execute("CREATE TABLE t (id INT PRIMARY KEY)")
            cursor.execute("INSERT INTO t VALUES (1)")  # uncommitted when the lock goes

        kill(admin, lock_a.connection_id)  # a DBA ends runner A's lock connection
        with pytest.raises(LockLost, match="lost the lock"):
            fence_a.confirm(work_a)

        deadline = time.monotonic() + 5
        while not lock_b.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        fence_b = lock_b.fence()
        fence_b.enter(work_b, timeout=5)  # A's work connection idles with the fence: ended
        fence_b.confirm(work_b)
        with pytest.raises(pymysql.err.OperationalError) as gone, work_a.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert a.error_kind(gone.value) == "transient"
        # A's uncommitted row was rolled back with its connection
        assert scalar(work_b, "SELECT COUNT(*) FROM t") == 0
        assert lock_a.release() is False
        assert lock_b.release() is True
    finally:
        for closeable in (lock_a, lock_b, work_a, work_b):
            closeable.close()


@pytest.mark.slow  # waits out server-side timers: the whole suite runs it
def test_fence_waits_for_a_busy_statement_of_the_runner_that_lost_the_lock(mysql_url, admin):
    a, b = backend_for(mysql_url), backend_for(mysql_url)
    lock_a, lock_b = a.lock("gmg"), b.lock("gmg")
    work_a, work_b = a.connect(), b.connect()
    try:
        assert lock_a.try_acquire()
        fence_a = lock_a.fence()
        fence_a.enter(work_a, timeout=5)
        busy = threading.Thread(target=scalar, args=(work_a, "SELECT SLEEP(4)"))
        busy.start()
        time.sleep(0.3)
        kill(admin, lock_a.connection_id)
        deadline = time.monotonic() + 5
        while not lock_b.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        fence_b = lock_b.fence()
        with pytest.raises(LockTimeout, match="still in a statement"):
            fence_b.enter(work_b, timeout=1)
        started = time.monotonic()
        fence_b.enter(work_b, timeout=10)  # waits for A's statement, then A's connection idles
        assert time.monotonic() - started < 8
        busy.join()
    finally:
        for closeable in (lock_a, lock_b, work_a, work_b):
            closeable.close()


def test_kill_query_cancels_a_statement_in_flight(mysql_url):
    backend = backend_for(mysql_url)
    conn = backend.connect()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = scalar(conn, "SELECT SLEEP(30)")
        except pymysql.err.Error as exc:
            outcome["error"] = exc.args[0]

    cancel = backend.canceller(conn)
    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    time.sleep(0.5)
    assert cancel() is True
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert outcome == {"error": 1317}  # ER_QUERY_INTERRUPTED; the connection lives on
    assert scalar(conn, "SELECT 2") == 2
    conn.close()


def test_sqlalchemy_engine_is_named_and_legacy_runtime_connects(mysql_url, admin):
    import sqlalchemy as sa

    backend = backend_for(mysql_url, runner="gmg-dbupdate:host-a:7")
    engine = sa.create_engine(backend.sqlalchemy_url(), poolclass=sa.pool.NullPool)
    backend.configure_engine(engine)
    try:
        with engine.connect() as c:
            assert c.exec_driver_sql("SELECT @@session.wait_timeout").scalar() == 86400
            thread_id = c.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            if performance_schema_on(admin):
                name = scalar(
                    admin,
                    "SELECT attr_value FROM performance_schema.session_connect_attrs "
                    "WHERE processlist_id = %s AND attr_name = 'program_name'",
                    (thread_id,),
                )
                assert name == "gmg-dbupdate:host-a:7"
    finally:
        engine.dispose()
    script = (
        "import sys, sqlalchemy as sa\n"
        "e = sa.create_engine(sys.stdin.read())\n"
        "with e.connect() as c:\n"
        "    db = c.exec_driver_sql('SELECT DATABASE()').scalar()\n"
        "    print(sa.__version__, c.dialect.name, db)\n"
    )
    done = subprocess.run(
        [legacy_python(), "-I", "-c", script],
        input=backend.legacy_url(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1.4.54", "mysql", parse(mysql_url).database]


def test_preferred_tls_context_is_made_once_per_process(mysql_url):
    """Without ssl_* options PyMySQL builds a TLS context per connection (~25 ms of CPU for
    the CA store); the backend's connections, bare or SQLAlchemy's, share one."""
    import sqlalchemy as sa

    from gmg_dbupdate.backends.mysql import _connection_class

    backend = backend_for(mysql_url)
    first, second = backend.connect(), backend.connect()
    engine = sa.create_engine(backend.sqlalchemy_url(), poolclass=sa.pool.NullPool)
    backend.configure_engine(engine)
    try:
        with engine.connect() as c:
            third = c.connection.dbapi_connection
            assert c.exec_driver_sql("SELECT 1").scalar() == 1
            assert third.ctx is first.ctx is second.ctx is not None
    finally:
        engine.dispose()
        first.close()
        second.close()
    # explicit TLS options still get a context of their own, made as PyMySQL makes it
    ca = "/etc/ssl/certs/ca-certificates.crt"
    explicit = _connection_class()(
        host="127.0.0.1", ssl_ca=ca, ssl_verify_cert=True, defer_connect=True
    )
    assert explicit.ctx is not first.ctx and explicit.ctx.verify_mode.name == "CERT_REQUIRED"


def test_too_many_connections_is_transient(mysql_url, admin):
    user = f"u{uuid.uuid4().hex[:10]}"
    database = parse(mysql_url).database
    with admin.cursor() as cursor:
        cursor.execute(
            f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw-{user}' WITH MAX_USER_CONNECTIONS 1"
        )
        cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%%'")
    try:
        backend = backend_for(mysql_url, username=user, password=f"pw-{user}")
        first = backend.connect()
        try:
            with pytest.raises(pymysql.err.Error) as caught:
                backend.connect()
            assert caught.value.args[0] == 1226  # the account's limit (1203: the server's)
            assert backend.error_kind(caught.value) == "transient"
        finally:
            first.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER '{user}'@'%%'")


_HOLD_AND_PING = """
import sys, time
import gmg_dbupdate.backends.mysql as m
from test_mysql_backend import backend_for
m._LOCK_IDLE_S, m._LOCK_PING_S = 3, 1
lock = backend_for(sys.argv[1], runner="gmg-dbupdate:vanishing:1").lock("gmg")
assert lock.try_acquire()
print(lock.connection_id, flush=True)
time.sleep(120)
"""


@pytest.mark.slow  # waits out server-side timers: the whole suite runs it
def test_a_live_holder_keeps_the_lock_and_a_frozen_one_loses_it(mysql_url):
    """The lock connection idles out after a few seconds unless its runner pings: a runner
    that lives keeps the lock, one that vanished without closing its socket frees it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_PING, mysql_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    waiter = backend_for(mysql_url).lock("gmg")
    try:
        connection_id = int(holder.stdout.readline())
        time.sleep(5)  # longer than the holder's 3 s idle timeout: its pings keep it
        assert waiter.holder()["connection_id"] == connection_id
        assert waiter.try_acquire() is False
        holder.send_signal(signal.SIGSTOP)  # a lost node: socket open, nothing sent
        stopped = time.monotonic()
        while not waiter.try_acquire():
            assert time.monotonic() - stopped < 10
            time.sleep(0.2)
        assert time.monotonic() - stopped > 1
    finally:
        waiter.close()
        holder.kill()
        holder.wait()


def test_holder_seen_by_another_user_without_the_process_privilege(mysql_url, admin):
    """Without PROCESS, the process list shows a user only its own connections: a waiter
    running as another user learns the holder's connection id and no more."""
    user = f"u{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw-{user}'")
        cursor.execute(f"GRANT ALL ON `{parse(mysql_url).database}`.* TO '{user}'@'%%'")
    holder = backend_for(mysql_url).lock("gmg")
    waiter = backend_for(mysql_url, username=user, password=f"pw-{user}").lock("gmg")
    try:
        assert holder.try_acquire() and not waiter.try_acquire()
        assert waiter.holder() == {"connection_id": holder.connection_id}
    finally:
        holder.close()
        waiter.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER '{user}'@'%%'")
