"""PostgreSQL on psycopg2: advisory lock with a fence, server-side cancel, libpq's errors.

The lock lives in a session of its own, which can end under the runner (a DBA's
``pg_terminate_backend``, a network cut). A ``Fence`` makes that harmless: every transaction
that reads the state or writes takes a second, transaction-level advisory lock first (so it
waits for a runner that lost the lock to finish its transaction), and checks just before COMMIT
that this runner's lock session still holds the lock (so a runner that lost it commits nothing).
"""

from __future__ import annotations

import contextlib
import sys
import zlib
from collections.abc import Callable
from typing import Any

from ..errors import LockLost, LockTimeout
from ..logs import get_logger
from .base import (
    AUTH,
    MISSING_DATABASE,
    OTHER,
    PERMISSION,
    TRANSIENT,
    Backend,
    DdlRules,
    closing_cursor,
    runner_name,
)

_NAMESPACE = zlib.crc32(b"gmg-dbupdate") & 0x7FFFFFFF
_FENCE_NAMESPACE = zlib.crc32(b"gmg-dbupdate:fence") & 0x7FFFFFFF
_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE: lock_timeout expired
_AUTH_CODES = {"28P01", "28000"}
_AUTH_TEXT = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "authentication failed",
    "no password supplied",
    "permission denied",
)
_INSUFFICIENT_PRIVILEGE = "42501"
_MISSING_DB_CODES = {"3D000"}

_HOLDER_SQL = """
    SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr,
           a.backend_start::text, a.state
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = %(k1)s AND l.objid = %(k2)s AND l.objsubid = 2
"""
_HOLDER_KEYS = ("pid", "application_name", "client_addr", "backend_start", "state")
# Held by that very session: its pid, and its start time in case the pid was reused.
_HELD_BY_SQL = """
    SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.granted AND l.pid = %(pid)s
                     AND a.backend_start::text = %(since)s
                     AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                     AND l.classid = %(k1)s AND l.objid = %(k2)s AND l.objsubid = 2)
"""
_COLUMNS_SQL = """
    SELECT a.attname FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = coalesce(%(schema)s, current_schema()) AND c.relname = %(name)s
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
"""
_BLOCKERS_SQL = """
    SELECT a.pid, a.application_name, a.state,
           round(extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start))
                 ::numeric, 3)::float8 AS for_s,
           left(a.query, %(chars)s) AS query
    FROM pg_stat_activity a
    WHERE a.pid = ANY (pg_blocking_pids(%(pid)s))
    ORDER BY a.pid
"""
_BLOCKER_KEYS = ("pid", "application_name", "state", "for_s", "query")
# INVALID indexes (a concurrent build that failed) on the given tables, unless a concurrent
# build or drop is running on that table right now (it holds SHARE UPDATE EXCLUSIVE).
_INVALID_INDEXES_SQL = """
    SELECT n.nspname, c.relname, t.relname
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT i.indisvalid AND t.relname = ANY (%(tables)s)
      AND n.nspname = ANY (current_schemas(false))
      AND NOT EXISTS (SELECT FROM pg_locks l
                      WHERE l.relation = i.indrelid AND l.pid <> pg_backend_pid()
                        AND l.mode = 'ShareUpdateExclusiveLock')
    ORDER BY 1, 2
"""


def connect_args(connect_timeout: float) -> dict:
    """psycopg2 connection arguments of every runner connection, the bare ones included."""
    return {
        "application_name": runner_name(),
        "connect_timeout": max(1, int(connect_timeout)),
        # Keepalives both ways: this runner notices a vanished server, and the server notices a
        # vanished runner within ~25 s instead of the kernel's two hours, ending its session
        # and so freeing the advisory lock it held.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
        "-c tcp_keepalives_count=3",
    }


def advisory_key(name: str) -> tuple[int, int]:
    """Two int4 keys: ours, and one per app (apps sharing a database lock separately)."""
    return _NAMESPACE, zlib.crc32(name.encode()) & 0x7FFFFFFF


class PostgresBackend(Backend):
    name = "postgresql"

    def _params(self) -> dict:
        url = self.url
        params = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "dbname": url.database,
            **url.params,
            **connect_args(self.connect_timeout),
        }
        return {k: v for k, v in params.items() if v is not None}

    def connect(self) -> Any:
        import psycopg2

        connection = psycopg2.connect(**self._params())
        try:
            _settle(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def server_version(self, connection: Any) -> str:
        v = connection.server_version  # 150020 → 15.20; 90624 → 9.6.24
        if v >= 100000:
            return f"{v // 10000}.{v % 10000}"
        return f"{v // 10000}.{v // 100 % 100}.{v % 100}"

    @classmethod
    def error_kind(cls, exc: BaseException) -> str | None:
        psycopg2 = sys.modules.get("psycopg2")
        if psycopg2 is None or not isinstance(exc, psycopg2.Error):
            return None
        code = getattr(exc, "pgcode", None)
        message = str(exc).lower()
        if code in _MISSING_DB_CODES or ("database" in message and "does not exist" in message):
            return MISSING_DATABASE
        if code in _AUTH_CODES or ("role" in message and "does not exist" in message):
            return AUTH
        if code == _INSUFFICIENT_PRIVILEGE:
            return PERMISSION
        if any(marker in message for marker in _AUTH_TEXT):
            return AUTH
        if isinstance(exc, psycopg2.OperationalError):
            return TRANSIENT
        return OTHER

    def table_names(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        )
        return {r[0] for r in cursor.fetchall()}

    def columns(self, cursor: Any, table) -> set[str] | None:
        cursor.execute(_COLUMNS_SQL, {"schema": table.schema, "name": table.name})
        names = {r[0] for r in cursor.fetchall()}
        return names or None

    def end_read(self, connection: Any) -> None:
        if not connection.autocommit:
            connection.rollback()

    def lock(self, name: str) -> PostgresLock:
        return PostgresLock(self.connect(), advisory_key(name))

    def canceller(self, connection: Any) -> Callable[[], None] | None:
        return connection.cancel  # PQcancel: safe from any thread

    def legacy_connection(self) -> dict:
        args = connect_args(self.connect_timeout)
        del args["application_name"]  # the runtime names itself …:legacy
        url = self.url.render(hide_password=False).replace("postgresql+psycopg2", "postgresql")
        return {"url": url, "connect_args": args}

    def engine_connect_args(self) -> dict:
        return connect_args(self.connect_timeout)

    def configure_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "connect", lambda dbapi_connection, _record: _settle(dbapi_connection))

    def ddl_rules(self, settings: Any, fence: Any) -> PostgresDdlRules:
        return PostgresDdlRules(settings, fence)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE of ``exc`` or of the first error in its cause chain that has one."""
    seen = 0
    while exc is not None and seen < 10:
        code = getattr(getattr(exc, "orig", None), "pgcode", None) or getattr(exc, "pgcode", None)
        if code:
            return code
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class PostgresDdlRules(DdlRules):
    """``SET LOCAL lock_timeout`` (and ``statement_timeout``) in every unit's transaction; a
    refusal is ``55P03``, always retryable (the transaction rolls back, DDL included);
    blockers from ``pg_blocking_pids``. An autocommit block holds the fence as a session
    advisory lock and bounds no lock wait (see ddl.py)."""

    blocks_hold_fence = True

    def begin(self, connection: Any) -> None:
        connection.exec_driver_sql(
            f"SET LOCAL lock_timeout = {_ms(self.settings.ddl_lock_timeout)}"
        )
        if self.settings.statement_timeout is not None:
            connection.exec_driver_sql(
                f"SET LOCAL statement_timeout = {_ms(self.settings.statement_timeout)}"
            )

    def enter_block(self, connection: Any) -> None:
        """An autocommit block: hold the fence for its duration, as a session lock."""
        f1, k2 = self.fence.for_child()["fence"]
        params = {"f1": f1, "k2": k2}
        taken = connection.exec_driver_sql(
            "SELECT pg_try_advisory_lock(%(f1)s, %(k2)s)", params
        ).scalar()
        if not taken:
            connection.exec_driver_sql(f"SET lock_timeout = {_ms(self.settings.lock_timeout)}")
            try:
                connection.exec_driver_sql("SELECT pg_advisory_lock(%(f1)s, %(k2)s)", params)
            finally:
                connection.exec_driver_sql("RESET lock_timeout")

    def block_entered(self, connection: Any) -> None:
        if self.settings.statement_timeout is not None:
            connection.exec_driver_sql(
                f"SET statement_timeout = {_ms(self.settings.statement_timeout)}"
            )

    def leave_block(self, connection: Any) -> None:
        f1, k2 = self.fence.for_child()["fence"]
        with contextlib.suppress(Exception):  # a dead session has released it anyway
            connection.exec_driver_sql("RESET statement_timeout")
            connection.exec_driver_sql(
                "SELECT pg_advisory_unlock(%(f1)s, %(k2)s)", {"f1": f1, "k2": k2}
            )

    def refused(self, exc: BaseException) -> bool:
        return _sqlstate(exc) == _LOCK_NOT_AVAILABLE

    def session_id(self, dbapi_connection: Any) -> int:
        return dbapi_connection.get_backend_pid()

    def watch_connection(self, engine: Any) -> Any:
        raw = engine.raw_connection()
        raw.driver_connection.autocommit = True
        return raw

    def blockers(self, driver_connection: Any, session_id: int, chars: int) -> list[dict]:
        from ..logs import scrub

        with driver_connection.cursor() as cursor:
            cursor.execute(_BLOCKERS_SQL, {"pid": session_id, "chars": chars})
            rows = cursor.fetchall()
        masked = [[scrub(v) if isinstance(v, str) else v for v in row] for row in rows]
        return [dict(zip(_BLOCKER_KEYS, row, strict=True)) for row in masked]

    def invalid_indexes(self, connection: Any, tables: list[str]) -> list[tuple]:
        return connection.exec_driver_sql(_INVALID_INDEXES_SQL, {"tables": tables}).all()


def _settle(connection: Any) -> None:
    """Every runner session: not ended by a DBA's idle timeouts while it waits (for the lock,
    for a phase to end), and, if this runner dies mid-statement, the server aborts the statement
    within seconds (PostgreSQL ≥ 14) instead of running it, locks held, to completion."""
    settings = "SET idle_in_transaction_session_timeout = 0"
    if connection.server_version >= 140000:
        settings += "; SET idle_session_timeout = 0; SET client_connection_check_interval = 2000"
    autocommit = connection.autocommit
    connection.autocommit = True  # a SET inside a transaction could be rolled back
    with connection.cursor() as cursor:
        cursor.execute(settings)
    connection.autocommit = autocommit


class PostgresLock:
    """Session-level advisory lock on a DB-API connection of its own (autocommit), never the
    migration's: ending that session frees the lock even if the unlock cannot run."""

    def __init__(self, connection: Any, key: tuple[int, int]) -> None:
        connection.autocommit = True
        self._connection = connection
        self._key = key
        self._params = {"k1": key[0], "k2": key[1]}

    def _one(self, sql: str) -> tuple | None:
        with self._connection.cursor() as cursor:
            cursor.execute(sql, self._params)
            return cursor.fetchone()

    def try_acquire(self) -> bool:
        return bool(self._one("SELECT pg_try_advisory_lock(%(k1)s, %(k2)s)")[0])

    def holder(self) -> dict:
        row = self._one(_HOLDER_SQL)
        return dict(zip(_HOLDER_KEYS, row, strict=True)) if row else {}

    def release(self) -> bool:
        """False if the lock was no longer held (its session ended)."""
        try:
            return bool(self._one("SELECT pg_advisory_unlock(%(k1)s, %(k2)s)")[0])
        except Exception:
            return False

    def fence(self) -> Fence:
        pid, since = self._one(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        return Fence(self._key, pid, since)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()  # ends the session: frees a lock it still holds


class Fence:
    """Guards one transaction on a migration connection (DB-API) of the runner that holds the
    session lock ``key`` in the session ``holder_pid``, started at ``holder_since``."""

    def __init__(self, key: tuple[int, int], holder_pid: int, holder_since: str) -> None:
        self.key = key
        self.holder_pid = holder_pid
        self.holder_since = holder_since
        self._params = {"k1": key[0], "k2": key[1], "pid": holder_pid, "since": holder_since}
        self._fence = {"f1": _FENCE_NAMESPACE, "k2": key[1]}

    def for_child(self) -> dict:
        """The same guard, as data for the legacy runtime (which imports nothing from here)."""
        return {
            "lock": list(self.key),
            "fence": [_FENCE_NAMESPACE, self.key[1]],
            "holder_pid": self.holder_pid,
            "holder_since": self.holder_since,
        }

    def enter(self, connection: Any, timeout: float) -> None:
        """Take the fence for this transaction, waiting (to ``timeout``) for a runner that lost
        the lock to end its transaction; then make sure the lock is still ours."""
        from ..lock import describe

        with closing_cursor(connection) as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%(f1)s, %(k2)s)", self._fence)
            if cursor.fetchone()[0]:
                return self.confirm(connection)
            cursor.execute(_HOLDER_SQL, {"k1": _FENCE_NAMESPACE, "k2": self.key[1]})
            holder = cursor.fetchone()
            who = dict(zip(_HOLDER_KEYS, holder, strict=True)) if holder else {}
            get_logger().info("lock.waiting", holder=who, fence=True, deadline_s=timeout)
            cursor.execute(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")
            try:
                cursor.execute("SELECT pg_advisory_xact_lock(%(f1)s, %(k2)s)", self._fence)
            except Exception as exc:
                if getattr(exc, "pgcode", None) != _LOCK_NOT_AVAILABLE:
                    raise
                raise LockTimeout(
                    f"lock not acquired within {timeout:g}s: a runner that lost the lock is "
                    f"still in its transaction ({describe(who)})",
                    holder=who,
                ) from None
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
        self.confirm(connection)

    def leave(self, connection: Any) -> None:
        """Nothing to do: the fence is a transaction lock, gone with the transaction."""

    def confirm(self, connection: Any) -> None:
        """Raise ``LockLost`` unless this runner's lock session still holds the lock."""
        with closing_cursor(connection) as cursor:
            cursor.execute(_HELD_BY_SQL, self._params)
            held = cursor.fetchone()[0]
        if not held:
            raise LockLost(
                f"lost the lock: its session (pid {self.holder_pid}) ended while this runner "
                "worked; this transaction is rolled back, nothing of it is committed",
                holder_pid=self.holder_pid,
            )
