"""MySQL and MariaDB on the bare PyMySQL driver (pure Python, the same in both runtimes).

URLs: ``mysql+pymysql://`` and ``mariadb+pymysql://``. ``mysql://`` and ``mariadb://`` are taken
to mean the same: PyMySQL is the only MySQL driver this job ships, and SQLAlchemy's default
for them (mysqlclient) would fail at import. Other drivers (``+mysqldb``, ``+mysqlconnector``…)
are not accepted by ``schemes``. ``mariadb`` keeps SQLAlchemy's MariaDB dialect, which refuses
a MySQL server.

Only ``sqlalchemy_url`` and ``configure_engine`` touch SQLAlchemy; the no-op path, the wait and
the lock stay on PyMySQL.

The lock. ``GET_LOCK`` is server-wide (PostgreSQL's advisory locks are per database), so the
lock name carries the database's name: two apps in two databases of one server do not queue
behind each other. Names are cut to MySQL's 64 characters with a hash.

A session-level named lock lives as long as its connection. Two things end that connection
under a runner: a DBA's ``KILL``, and the server's ``wait_timeout`` when the runner vanished
without closing its socket (a node lost: MySQL has no per-session TCP keepalive, unlike
PostgreSQL). The lock connection therefore sets a short ``wait_timeout`` and pings from a
thread of its own, so a runner that vanished frees the lock within ``_LOCK_IDLE_S`` seconds,
and one that lives keeps it however long the work takes.

The fence (mutual exclusion if the lock connection dies mid-run). On MySQL DDL commits
implicitly, so "commit nothing once the lock is lost" cannot hold per statement. Instead:
- every connection that reads the state or writes takes a second named lock, the fence, and
  keeps it until it closes (or ``leave``); a runner that takes over must get the fence too, so
  it waits until the runner that lost the lock is out of its statement;
- before each revision and before each COMMIT, ``confirm`` checks that the main lock is still
  held by this runner's lock connection (``IS_USED_LOCK`` = its connection id; ids are not
  reused until 2^32 connections later) and the fence by this connection; if not, ``LockLost``;
- a runner that holds the main lock but finds the fence held by an idle connection (``Sleep``
  in the process list) of a runner that lost the lock ends that connection (``KILL``): its
  open transaction rolls back, and its runner fails at its next statement. A connection busy
  in a statement is waited for (to the lock deadline).
Residual risk, stated plainly: what runs between the last ``confirm`` and the moment the lock
connection died is applied, DDL included (it committed itself); at worst the rest of one
revision is half-applied and its version row is not written. The runner that takes over then
finds that revision not done and runs it again, which fails on the half-applied schema (exit
70 naming it) rather than silently skipping it. Two runners never run DDL at the same time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import sys
import threading
import time
from typing import Any

from ..errors import ConfigError, LockLost, LockTimeout
from .base import (
    AUTH,
    MISSING_DATABASE,
    OTHER,
    PERMISSION,
    TRANSIENT,
    Backend,
    DdlRules,
    runner_name,
)

# Seconds the server waits for a word from an idle lock connection before ending it (and so
# freeing the lock); the lock connection pings every _LOCK_PING_S.
_LOCK_IDLE_S = 30
_LOCK_PING_S = 5
# An idle migration connection (waiting for the legacy runtime, say) must outlive a long phase.
_WORK_IDLE_S = 86400
_MAX_LOCK_NAME = 64

# MySQL/MariaDB error numbers (server ER_* and client CR_*).
_TRANSIENT = {
    1040,  # ER_CON_COUNT_ERROR: too many connections
    1053,  # ER_SERVER_SHUTDOWN: shutdown in progress
    1152,  # ER_ABORTING_CONNECTION
    1203,  # ER_TOO_MANY_USER_CONNECTIONS (max_user_connections)
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK
    1226,  # ER_USER_LIMIT_REACHED: the account's MAX_USER_CONNECTIONS (or hourly limits)
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    2002,  # CR_CONNECTION_ERROR: unix socket not there (yet)
    2003,  # CR_CONN_HOST_ERROR: refused, timed out, unreachable
    2005,  # CR_UNKNOWN_HOST: DNS (a Service not there yet)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
    2026,  # CR_SSL_CONNECTION_ERROR: TLS required (ssl_*) but not offered (yet), as libpq's
    2055,  # CR_SERVER_LOST_EXTENDED
    3032,  # ER_SERVER_OFFLINE_MODE (MySQL)
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
}
_AUTH = {
    1044,  # ER_DBACCESS_DENIED_ERROR: no access to the database named in the URL
    1045,  # ER_ACCESS_DENIED_ERROR: bad user or password
    1251,  # ER_NOT_SUPPORTED_AUTH_MODE
    1698,  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1820,  # ER_MUST_CHANGE_PASSWORD
    1862,  # ER_MUST_CHANGE_PASSWORD_LOGIN
    2059,  # CR_AUTH_PLUGIN_CANNOT_LOAD
    3118,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
    4151,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
}
_PERMISSION = {
    1036,  # ER_OPEN_AS_READONLY
    1142,  # ER_TABLEACCESS_DENIED_ERROR
    1143,  # ER_COLUMNACCESS_DENIED_ERROR
    1227,  # ER_SPECIFIC_ACCESS_DENIED_ERROR (SUPER, PROCESS, …)
    1290,  # ER_OPTION_PREVENTS_STATEMENT (--read-only)
    1370,  # ER_PROCACCESS_DENIED_ERROR
    1792,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
}
_MISSING_DATABASE = {1049}  # ER_BAD_DB_ERROR
# A lock wait ran out: lock_wait_timeout (metadata locks: DDL) or innodb_lock_wait_timeout (rows)
_LOCK_WAIT_TIMEOUT = 1205
# URL query keys passed on to PyMySQL (the ones an operator has reason to set).
_QUERY_KEYS = {
    "charset": str,
    "unix_socket": str,
    "ssl_ca": str,
    "ssl_cert": str,
    "ssl_key": str,
    "ssl_verify_cert": "bool",
    "ssl_verify_identity": "bool",
    "ssl_disabled": "bool",
}


@functools.cache
def _connection_class() -> type:
    """PyMySQL's ``Connection``, making its "preferred" TLS context once per process.

    With no ``ssl_*`` option PyMySQL tries TLS if the server offers it, unverified, and builds
    a fresh ``ssl.create_default_context()`` for it in every ``Connection()``: loading the CA
    store costs ~25 ms of CPU per connection, more than the rest of a no-op run's work on
    MySQL. The context is the same every time and ``SSLContext`` is safe to share, so it is
    made on the first connection and reused. Explicit ``ssl_*`` options are untouched.
    """
    import pymysql.connections

    class Connection(pymysql.connections.Connection):
        _preferred_tls: Any = None

        def _create_ssl_ctx(self, sslp: Any) -> Any:
            if sslp:
                return super()._create_ssl_ctx(sslp)
            cls = type(self)
            if cls._preferred_tls is None:
                cls._preferred_tls = super()._create_ssl_ctx(sslp)
            return cls._preferred_tls

    return Connection


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"database URL: {key}={value!r} is not a boolean")


class MySQLBackend(Backend):
    name = "mysql"
    label = "MySQL/MariaDB"
    # DDL commits implicitly: each revision commits with its version row (transactions.py)
    transactional_ddl = False

    def __init__(self, url: Any, *, connect_timeout: float, runner: str | None = None) -> None:
        super().__init__(url, connect_timeout=connect_timeout)
        self.runner = runner or runner_name()  # a test names two runners in one process
        self.dialect = url.scheme.split("+", 1)[0]  # "mysql" or "mariadb"
        self.statement_timeout_warned = False  # said once per run, whatever phases ask
        self._options: dict[str, Any] = {"charset": "utf8mb4"}
        for key, value in url.params.items():
            kind = _QUERY_KEYS.get(key)
            if kind is None:
                raise ConfigError(
                    f"database URL: unknown option {key!r} for MySQL "
                    f"(known: {', '.join(sorted(_QUERY_KEYS))})"
                )
            self._options[key] = _flag(key, value) if kind == "bool" else value
        if not url.database:
            raise ConfigError("database URL: MySQL needs a database name (…/DBNAME)")

    # --- connecting ---------------------------------------------------------------------

    def _connect_args(self, *, idle_s: int) -> dict:
        ssl_keys = {k: v for k, v in self._options.items() if k.startswith("ssl_")}
        args = {
            "host": self.url.host or "localhost",
            "port": int(self.url.port or 3306),
            "user": self.url.username or "",
            "password": self.url.password or "",
            "database": self.url.database,
            "charset": self._options["charset"],
            "connect_timeout": max(1.0, float(self.connect_timeout)),
            "program_name": self.runner,  # connection attribute, for a waiter to name us
            "init_command": f"SET SESSION wait_timeout = {int(idle_s)}",
            **ssl_keys,
        }
        if "unix_socket" in self._options:
            args["unix_socket"] = self._options["unix_socket"]
        return args

    def connect(self, *, readonly: bool = False, _idle_s: int = _WORK_IDLE_S):
        """One attempt: a PyMySQL connection, autocommit off, utf8mb4, named ``runner``."""
        conn = _connection_class()(**self._connect_args(idle_s=_idle_s), autocommit=False)
        if readonly:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
        return conn

    def server_version(self, conn: Any) -> str:
        """The server's version string; MariaDB's handshake prefixes it with ``5.5.5-`` (for
        old clients), which is dropped."""
        info = conn.get_server_info()
        return info.removeprefix("5.5.5-") if "MariaDB" in info else info

    # --- errors -------------------------------------------------------------------------

    @classmethod
    def error_kind(cls, exc: BaseException) -> str | None:
        """``None`` if ``exc`` is not PyMySQL's; else ``TRANSIENT`` … ``OTHER``."""
        pymysql = sys.modules.get("pymysql")
        orig = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error
        if pymysql is None or not isinstance(orig, pymysql.err.Error):
            return None
        code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
        if code in _MISSING_DATABASE:
            return MISSING_DATABASE
        if code in _AUTH:
            return AUTH
        if code in _PERMISSION:
            return PERMISSION
        if code in _TRANSIENT:
            return TRANSIENT
        return OTHER

    # --- names and facts ----------------------------------------------------------------

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def table_names(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
        return {row[0] for row in cursor.fetchall()}

    def columns(self, cursor: Any, table: Any) -> set[str] | None:
        """The table's column names, ``None`` if there is no such table (every table has a
        column). A schema is a MySQL database; ``None`` means the connection's."""
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s",
            (table.schema, table.name),
        )
        names = {row[0] for row in cursor.fetchall()}
        return names or None

    # --- lock, fence, cancel ------------------------------------------------------------

    def lock_name(self, name: str) -> str:
        full = f"{name}:{self.url.database}"
        if len(full) <= _MAX_LOCK_NAME:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:16]
        return f"{full[: _MAX_LOCK_NAME - 17]}~{digest}"

    def lock(self, name: str) -> MySQLLock:
        """``GET_LOCK`` on a connection of its own (autocommit, short idle timeout, pinged)."""
        conn = self.connect(_idle_s=_LOCK_IDLE_S)
        conn.autocommit(True)
        return MySQLLock(conn, self.lock_name(name), self.lock_name(f"{name}:fence"))

    def canceller(self, conn: Any):
        """A callable, safe from any thread, that stops ``conn``'s statement in flight
        (``KILL QUERY`` from a fresh connection); True if the server took the order."""
        thread_id = conn.thread_id()
        backend = self

        def cancel() -> bool:
            try:
                killer = backend.connect(_idle_s=60)
            except Exception:
                return False
            try:
                with killer.cursor() as cursor:
                    cursor.execute(f"KILL QUERY {int(thread_id)}")
                return True
            except Exception:
                return False
            finally:
                with contextlib.suppress(Exception):
                    killer.close()

        cancel.on_unwind = True  # PyMySQL reads in Python: see interrupts.cancellable
        return cancel

    # --- SQLAlchemy (full path) and the sealed legacy runtime ---------------------------

    def _query(self) -> dict:
        query = {"charset": self._options["charset"]}
        for key in ("unix_socket", "ssl_ca", "ssl_cert", "ssl_key"):
            if key in self._options:
                query[key] = self._options[key]
        for key in ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled"):
            if key in self._options:
                query[key] = "true" if self._options[key] else "false"
        return query

    def legacy_connection(self) -> dict:
        return {"url": self.legacy_url(), "connect_args": {}}

    def sqlalchemy_url(self, *, dialect: str | None = None):
        from sqlalchemy.engine import URL

        return URL.create(
            f"{dialect or self.dialect}+pymysql",
            username=self.url.username,
            password=self.url.password,
            host=self.url.host or "localhost",
            port=int(self.url.port) if self.url.port else None,
            database=self.url.database,
            query=self._query(),
        )

    def configure_engine(self, engine: Any) -> None:
        """Name the engine's connections, bound their connect time and idle timeout; the
        session's SQL mode strict (ANSI_QUOTES off: Alembic quotes with backticks)."""
        from sqlalchemy import event

        backend = self

        @event.listens_for(engine, "do_connect")
        def _do_connect(_dialect, _record, cargs, cparams) -> Any:
            cparams["program_name"] = backend.runner
            cparams["connect_timeout"] = max(1.0, float(backend.connect_timeout))
            cparams["init_command"] = f"SET SESSION wait_timeout = {_WORK_IDLE_S}"
            return _connection_class()(*cargs, **cparams)

    def ddl_rules(self, settings: Any, fence: Any) -> MySQLDdlRules:
        return MySQLDdlRules(settings, fence, self)

    def legacy_url(self) -> str:
        """The URL for SQLAlchemy 1.4 in the sealed runtime, password included (it travels on
        the child's stdin, never on its command line). Always the ``mysql`` dialect:
        sqlalchemy-migrate 0.13 knows no ``mariadb`` one (``KeyError: 'mariadb'`` at the first
        changeset operation), and SQLAlchemy's ``mysql`` dialect serves MariaDB too."""
        return self.sqlalchemy_url(dialect="mysql").render_as_string(hide_password=False)


class MySQLLock:
    """A named lock (``GET_LOCK``) held by a connection of its own."""

    def __init__(self, conn: Any, name: str, fence_name: str) -> None:
        self._conn = conn
        self.name = name
        self.fence_name = fence_name
        self.connection_id = conn.thread_id()
        self._io = threading.Lock()  # PyMySQL connections are not thread-safe
        self._held = False
        self._stop = threading.Event()
        self._pinger: threading.Thread | None = None

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        with self._io, self._conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchone()

    def try_acquire(self) -> bool:
        if self._held:  # GET_LOCK is re-entrant per session: do not count twice
            return True
        self._held = self._one("SELECT GET_LOCK(%s, 0)", (self.name,))[0] == 1
        if self._held and self._pinger is None:
            self._pinger = threading.Thread(target=self._ping, daemon=True, name="mysql-lock")
            self._pinger.start()
        return self._held

    def _ping(self) -> None:
        """Keep the short-idle lock connection alive while this runner lives."""
        while not self._stop.wait(_LOCK_PING_S):
            try:
                with self._io:
                    self._conn.ping(reconnect=False)
            except Exception:
                return  # the connection is gone: the fence's confirm will say so

    def holder(self) -> dict:
        """Who holds the lock: its connection id, program name (when the server keeps
        connection attributes: performance_schema on), client address, user, idle time."""
        row = self._one("SELECT IS_USED_LOCK(%s)", (self.name,))
        if not row or row[0] is None:
            return {}
        with self._io, self._conn.cursor() as cursor:
            return _describe_connection(cursor, int(row[0]))

    def release(self) -> bool:
        """False if the lock was no longer this connection's (it ended, or was killed)."""
        self._stop.set()
        was_held, self._held = self._held, False
        try:
            row = self._one("SELECT RELEASE_LOCK(%s)", (self.name,))
        except Exception:
            return False
        return was_held and bool(row and row[0] == 1)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception), self._io:
            self._conn.close()

    def fence(self) -> MySQLFence:
        return MySQLFence(self.name, self.fence_name, self.connection_id)


def _describe_connection(cursor: Any, connection_id: int) -> dict:
    who: dict[str, Any] = {"connection_id": connection_id}
    cursor.execute(
        "SELECT user, host, command, time, state FROM information_schema.processlist WHERE id = %s",
        (connection_id,),
    )
    row = cursor.fetchone()
    if row:  # without the PROCESS privilege, only connections of the same user are listed
        who.update(user=row[0], client_addr=row[1], command=row[2], idle_s=row[3])
        if row[4]:
            who["state"] = row[4]
    with contextlib.suppress(Exception):  # performance_schema off, or not readable
        cursor.execute(
            "SELECT attr_name, attr_value FROM performance_schema.session_connect_attrs "
            "WHERE processlist_id = %s AND attr_name IN ('program_name', '_pid')",
            (connection_id,),
        )
        attrs = dict(cursor.fetchall())
        if attrs.get("program_name"):
            who["program_name"] = attrs["program_name"]
        if attrs.get("_pid"):
            who["client_pid"] = attrs["_pid"]
    return who


class MySQLFence:
    """Guards the work of this runner's connections while its lock connection
    (``holder_id``) holds ``lock``: see the module's docstring."""

    def __init__(
        self, lock: str, fence: str, holder_id: int, runner_ids: tuple[int, ...] = ()
    ) -> None:
        self.lock = lock
        self.fence = fence
        self.holder_id = holder_id
        # this runner's own connections that entered the fence: never evicted (a parent's
        # connection that forgot to leave before its child enters is a bug, not a lost runner)
        self._runner_ids = set(runner_ids)

    def for_child(self) -> dict:
        """The same guard, as data for the legacy runtime. The parent must ``leave`` the
        fence on its own connections before the child ``enter``s it."""
        return {
            "backend": "mysql",
            "lock": self.lock,
            "fence": self.fence,
            "holder_id": self.holder_id,
            "runner_ids": sorted(self._runner_ids),
        }

    @staticmethod
    def _one(conn: Any, sql: str, args: tuple = ()) -> tuple:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchone()

    def enter(self, conn: Any, timeout: float) -> None:
        """Take the fence on ``conn`` (a PyMySQL connection) unless it has it, waiting up to
        ``timeout`` for a runner that lost the lock (its idle connections are ended, a
        statement in flight is waited for); then ``confirm``."""
        deadline = time.monotonic() + timeout
        logged = False
        while True:
            mine, holder = self._one(
                conn,
                "SELECT IS_USED_LOCK(%s) = CONNECTION_ID(), IS_USED_LOCK(%s)",
                (self.fence, self.fence),
            )
            if mine:  # GET_LOCK is re-entrant: a second hold would need a second release
                break
            if holder is None:
                if self._one(conn, "SELECT GET_LOCK(%s, 0)", (self.fence,))[0] == 1:
                    break
                continue  # taken in between: look again
            self.confirm_lock(conn)  # only the lock's holder may push another runner out
            who = self._evict_if_idle(conn, int(holder))
            if not logged:
                from ..logs import get_logger

                get_logger().info("lock.waiting", holder=who, fence=True, deadline_s=timeout)
                logged = True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"lock not acquired within {timeout:g}s: a runner that lost the lock is "
                    f"still in a statement (connection {holder})",
                    holder=who,
                )
            (taken,) = self._one(conn, "SELECT GET_LOCK(%s, %s)", (self.fence, min(1.0, remaining)))
            if taken == 1:
                break
        self._runner_ids.add(conn.thread_id())
        self.confirm(conn)

    def _evict_if_idle(self, conn: Any, holder: int) -> dict:
        with conn.cursor() as cursor:
            who = _describe_connection(cursor, holder)
            if holder in self._runner_ids:
                raise RuntimeError(
                    f"fence held by this runner's own connection {holder}: leave() it first"
                )
            if who.get("command") == "Sleep":
                with contextlib.suppress(Exception):  # not ours to kill: wait instead
                    cursor.execute(f"KILL CONNECTION {holder}")
                    who["evicted"] = True
        return who

    def confirm_lock(self, conn: Any) -> None:
        (held,) = self._one(conn, "SELECT IS_USED_LOCK(%s)", (self.lock,))
        if held != self.holder_id:
            raise LockLost(
                f"lost the lock: its connection ({self.holder_id}) ended while this runner "
                "worked; nothing more is committed (DDL already run stays: MySQL commits it)",
                holder_id=self.holder_id,
            )

    def confirm(self, conn: Any) -> None:
        """Raise ``LockLost`` unless the lock is still this runner's and ``conn`` holds the
        fence. Call before each revision and just before each COMMIT."""
        held, fenced = self._one(
            conn,
            "SELECT IS_USED_LOCK(%s), IS_USED_LOCK(%s) = CONNECTION_ID()",
            (self.lock, self.fence),
        )
        if held != self.holder_id or not fenced:
            raise LockLost(
                f"lost the lock: its connection ({self.holder_id}) ended while this runner "
                "worked; nothing more is committed (DDL already run stays: MySQL commits it)",
                holder_id=self.holder_id,
            )

    def leave(self, conn: Any) -> None:
        """Give the fence up on ``conn`` (before a child takes it, or at the end)."""
        with contextlib.suppress(Exception):
            self._one(conn, "SELECT RELEASE_LOCK(%s)", (self.fence,))


# --- DDL under live traffic (ddl.py) ---------------------------------------------------------

# The sessions holding a granted metadata lock on an object our session waits for a lock on
# (performance_schema.metadata_locks: MySQL 5.7+/8 by default, MariaDB 10.5+ with the
# ``wait/lock/metadata/sql/mdl`` instrument enabled).
_MDL_BLOCKERS_SQL = """
    SELECT DISTINCT g_t.processlist_id
    FROM performance_schema.metadata_locks w
    JOIN performance_schema.threads w_t ON w_t.thread_id = w.owner_thread_id
    JOIN performance_schema.metadata_locks g
      ON g.object_type = w.object_type AND g.object_schema <=> w.object_schema
     AND g.object_name <=> w.object_name AND g.lock_status = 'GRANTED'
     AND g.owner_thread_id <> w.owner_thread_id
    JOIN performance_schema.threads g_t ON g_t.thread_id = g.owner_thread_id
    WHERE w_t.processlist_id = %s AND w.lock_status = 'PENDING'
      AND g_t.processlist_id IS NOT NULL
"""
# Less precise: every other session with an open InnoDB transaction.
_TRX_BLOCKERS_SQL = """
    SELECT x.trx_mysql_thread_id FROM information_schema.innodb_trx x
    WHERE x.trx_mysql_thread_id <> CONNECTION_ID()
"""
_DESCRIBE_SQL = """
    SELECT p.id, p.user, p.host, p.command, p.state,
           ROUND(COALESCE(TIMESTAMPDIFF(MICROSECOND, x.trx_started, NOW(6)) / 1e6, p.time), 3),
           LEFT(COALESCE(p.info, x.trx_query), %s), x.trx_mysql_thread_id IS NOT NULL
    FROM information_schema.processlist p
    LEFT JOIN information_schema.innodb_trx x ON x.trx_mysql_thread_id = p.id
    WHERE p.id IN ({ids})
    ORDER BY p.id
"""


def _error_code(exc: BaseException | None) -> int | None:
    """The MySQL error number of ``exc`` or of the first PyMySQL error in its cause chain."""
    pymysql = sys.modules.get("pymysql")
    seen = 0
    while exc is not None and pymysql is not None and seen < 10:
        orig = getattr(exc, "orig", exc)
        if isinstance(orig, pymysql.err.Error) and orig.args and isinstance(orig.args[0], int):
            return orig.args[0]
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class MySQLDdlRules(DdlRules):
    """Each unit runs with the session's ``lock_wait_timeout`` = ``--ddl-lock-timeout``
    (whole seconds, rounded up) and, on MariaDB, ``max_statement_time`` =
    ``--statement-timeout``; both are put back to the session's own values at the unit's
    COMMIT or ROLLBACK, so the fence's waits outside the units are not bounded by them. A
    refusal is error 1205 (a metadata lock or an InnoDB row lock); the unit may run again only
    if none of its statements other than reads completed: each DDL statement commits itself,
    and running it again on the changed schema would fail or do it twice."""

    def __init__(self, settings: Any, fence: Any, backend: MySQLBackend) -> None:
        super().__init__(settings, fence)
        self._backend = backend
        self._saved: dict[str, Any] | None = None  # the session's own values
        self._set = False
        self._performance_schema: bool | None = None

    @property
    def lock_wait_s(self) -> float:
        return max(1, math.ceil(self.settings.ddl_lock_timeout))  # whole seconds

    def _settings(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {"lock_wait_timeout": int(self.lock_wait_s)}
        if self.settings.statement_timeout is not None and "max_statement_time" in self._saved:
            wanted["max_statement_time"] = round(self.settings.statement_timeout, 3)
        return wanted

    def begin(self, connection: Any) -> None:
        if self._saved is None:
            mariadb = "MariaDB" in connection.connection.driver_connection.get_server_info()
            names = ["lock_wait_timeout"] + (["max_statement_time"] if mariadb else [])
            row = connection.exec_driver_sql(
                "SELECT " + ", ".join(f"@@SESSION.{n}" for n in names)
            ).one()
            self._saved = dict(zip(names, row, strict=True))
            if self.settings.statement_timeout is not None and not mariadb:
                self._warn_statement_timeout()
        assignments = ", ".join(f"SESSION {k} = {v}" for k, v in self._settings().items())
        connection.exec_driver_sql(f"SET {assignments}")
        self._set = True

    def _warn_statement_timeout(self) -> None:
        backend = self._backend
        if backend.statement_timeout_warned:
            return
        backend.statement_timeout_warned = True
        from ..logs import get_logger

        get_logger().warning(
            "ddl.statement_timeout_not_applied",
            statement_timeout_s=self.settings.statement_timeout,
            reason="MySQL bounds only SELECT statements (max_execution_time), not DDL; "
            "--statement-timeout applies on MariaDB (max_statement_time) and PostgreSQL",
        )

    def end(self, connection: Any) -> None:
        if not self._set:
            return
        self._set = False
        wanted = self._settings()
        assignments = ", ".join(f"SESSION {k} = {self._saved[k]}" for k in wanted)
        with contextlib.suppress(Exception):  # a dead session has no settings to restore
            connection.exec_driver_sql(f"SET {assignments}")

    def refused(self, exc: BaseException) -> bool:
        return _error_code(exc) == _LOCK_WAIT_TIMEOUT

    def retryable(self, exc: BaseException, wrote: bool) -> bool:
        return not wrote and self.refused(exc)

    def session_id(self, dbapi_connection: Any) -> int:
        return dbapi_connection.thread_id()

    def watch_connection(self, engine: Any) -> Any:
        raw = engine.raw_connection()
        raw.driver_connection.autocommit(True)
        return raw

    def _ours(self, session_id: int) -> set[int]:
        """This runner's own sessions: the migration's, the lock's, the fence's."""
        mine = {session_id}
        with contextlib.suppress(Exception):
            child = self.fence.for_child()
            mine.add(int(child["holder_id"]))
            mine.update(int(i) for i in child["runner_ids"])
        return mine

    def _tracks_metadata_locks(self, cursor: Any) -> bool:
        """performance_schema is on and instruments metadata locks (asked once)."""
        if self._performance_schema is None:
            self._performance_schema = False
            cursor.execute("SELECT @@performance_schema")
            if cursor.fetchone()[0]:
                with contextlib.suppress(Exception):  # not readable: the other way
                    cursor.execute(
                        "SELECT enabled FROM performance_schema.setup_instruments "
                        "WHERE name = 'wait/lock/metadata/sql/mdl'"
                    )
                    row = cursor.fetchone()
                    self._performance_schema = bool(row and row[0] == "YES")
        return self._performance_schema

    def blockers(self, driver_connection: Any, session_id: int, chars: int) -> list[dict]:
        with driver_connection.cursor() as cursor:
            if self._tracks_metadata_locks(cursor):
                source = "metadata_locks"
                cursor.execute(_MDL_BLOCKERS_SQL, (session_id,))
            else:  # less precise: every other session in a transaction
                source = "innodb_trx"
                cursor.execute(_TRX_BLOCKERS_SQL)
            ids = [int(r[0]) for r in cursor.fetchall()]
            ids = sorted(set(ids) - self._ours(session_id))
            if not ids:
                return []
            cursor.execute(_DESCRIBE_SQL.format(ids=", ".join(map(str, ids))), (chars,))
            rows = cursor.fetchall()
            names: dict[int, str] = {}
            with contextlib.suppress(Exception):  # performance_schema off: user@host
                cursor.execute(
                    "SELECT processlist_id, attr_value "
                    "FROM performance_schema.session_connect_attrs "
                    f"WHERE attr_name = 'program_name' AND processlist_id IN "
                    f"({', '.join(map(str, ids))})"
                )
                names = {int(i): v for i, v in cursor.fetchall() if v}
        return [_blocker(row, names, source) for row in rows]


def _blocker(row: tuple, names: dict[int, str], source: str) -> dict:
    from ..logs import scrub

    pid, user, host, command, state, for_s, query, in_trx = row
    what = state or command or ""
    if in_trx:
        what = f"{what} (in transaction)".strip()
    return {
        "pid": int(pid),
        "application_name": names.get(int(pid)) or f"{user}@{host}",
        "state": what,
        "for_s": float(for_s) if for_s is not None else None,
        "query": scrub(query) if isinstance(query, str) else query,
        "source": source,
    }
