"""One runner at a time: a PostgreSQL advisory lock, or an fcntl lock file beside SQLite.

Both work on the bare driver, so the no-op path can take the lock without loading SQLAlchemy:
a runner that finds the schema behind waits here first, and only the one that gets the lock
loads the migration machinery.

The PostgreSQL lock lives in a session of its own, which can end under the runner (a DBA's
``pg_terminate_backend``, a network cut). A ``Fence`` makes that harmless: every transaction
that reads the state or writes takes a second, transaction-level advisory lock first (so it
waits for a runner that lost the lock to finish its transaction), and checks just before COMMIT
that this runner's lock session still holds the lock (so a runner that lost it commits nothing).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .db import runner_name
from .errors import LockLost, LockTimeout, PermissionDenied
from .logs import get_logger

_NAMESPACE = zlib.crc32(b"gmg-dbupdate") & 0x7FFFFFFF
_FENCE_NAMESPACE = zlib.crc32(b"gmg-dbupdate:fence") & 0x7FFFFFFF
_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE: lock_timeout expired
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


def lock_key(bundle_name: str, version_table: str) -> tuple[int, int]:
    """Two int4 keys: ours, and one per app (apps sharing a database lock separately)."""
    return _NAMESPACE, zlib.crc32(f"{bundle_name}:{version_table}".encode()) & 0x7FFFFFFF


class PostgresLock:
    """Session-level advisory lock on a DB-API connection of its own (autocommit), never the
    migration's: ending that session frees the lock even if the unlock cannot run."""

    def __init__(self, connection: Any, key: tuple[int, int]) -> None:
        connection.autocommit = True
        self._connection = connection
        self._key = key
        self._params = {"k1": key[0], "k2": key[1]}
        # The lock session sits idle while the work runs: a DBA's idle timeouts must not end it.
        idle = "SET idle_in_transaction_session_timeout = 0"
        if connection.server_version >= 140000:
            idle += "; SET idle_session_timeout = 0"
        with connection.cursor() as cursor:
            cursor.execute(idle)

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


class Fence:
    """Guards one transaction on a migration connection (a SQLAlchemy ``Connection``) of the
    runner that holds the session lock ``key`` in the session ``holder_pid``, started at
    ``holder_since``."""

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
        taken = connection.exec_driver_sql(
            "SELECT pg_try_advisory_xact_lock(%(f1)s, %(k2)s)", self._fence
        ).scalar()
        if not taken:
            holder = connection.exec_driver_sql(
                _HOLDER_SQL, {"k1": _FENCE_NAMESPACE, "k2": self.key[1]}
            ).first()
            who = dict(zip(_HOLDER_KEYS, holder, strict=True)) if holder else {}
            get_logger().info("lock.waiting", holder=who, fence=True, deadline_s=timeout)
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")
            try:
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(%(f1)s, %(k2)s)", self._fence
                )
            except Exception as exc:
                if getattr(getattr(exc, "orig", None), "pgcode", None) != _LOCK_NOT_AVAILABLE:
                    raise
                raise LockTimeout(
                    f"lock not acquired within {timeout:g}s: a runner that lost the lock is "
                    f"still in its transaction ({_describe(who)})",
                    holder=who,
                ) from None
            connection.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
        self.confirm(connection)

    def confirm(self, connection: Any) -> None:
        """Raise ``LockLost`` unless this runner's lock session still holds the lock."""
        if not connection.exec_driver_sql(_HELD_BY_SQL, self._params).scalar():
            raise LockLost(
                f"lost the lock: its session (pid {self.holder_pid}) ended while this runner "
                "worked; this transaction is rolled back, nothing of it is committed",
                holder_pid=self.holder_pid,
            )


class FileLock:
    """fcntl lock on ``path``; the holder writes who it is into the file for waiters."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only directory or volume: the database cannot change
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise PermissionDenied(
                f"cannot create the lock file {self._path}: {exc.strerror}"
            ) from None

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        me = {"runner": runner_name(), "pid": os.getpid(), "since": since}
        os.pwrite(self._fd, json.dumps(me).encode(), 0)
        return True

    def holder(self) -> dict:
        try:
            return json.loads(self._path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> bool:
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return True  # an flock lasts as long as this process

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def wait_for(lock: PostgresLock | FileLock, timeout: float) -> float:
    """Poll until ``lock`` is ours; 75 at the deadline naming the holder. Returns the wait."""
    import tenacity  # only a runner that has to wait pays for it

    log = get_logger()
    started = time.monotonic()
    seen: dict = {"holder": None, "logged": -1e9, "asked": -1e9}

    def note_wait(state: tenacity.RetryCallState) -> None:
        now = time.monotonic()
        if now - seen["asked"] < 1:  # who holds it: asked once a second, not at every poll
            return
        who = lock.holder()
        seen["asked"] = now
        if who != seen["holder"] or now - seen["logged"] >= 10:
            log.info(
                "lock.waiting", holder=who, waited_s=round(now - started, 3), deadline_s=timeout
            )
            seen.update(holder=who, logged=now)

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(0.1) + tenacity.wait_random(0, 0.1),
        retry=tenacity.retry_if_result(lambda acquired: not acquired),
        before_sleep=note_wait,
    )
    try:
        policy(lock.try_acquire)
    except tenacity.RetryError:
        who = lock.holder()
        raise LockTimeout(
            f"lock not acquired within {timeout:g}s; held by {_describe(who)}", holder=who
        ) from None
    return round(time.monotonic() - started, 3)


def _describe(holder: dict) -> str:
    if not holder:
        return "an unknown runner"
    return ", ".join(f"{k}={v}" for k, v in holder.items() if v not in (None, ""))


@contextlib.contextmanager
def holding(lock: PostgresLock | FileLock, timeout: float, *, waited: float | None = None):
    """Hold ``lock`` for the block: acquire it (unless ``waited`` says that is done), release
    it on every way out. Logs ``lock.acquired`` and ``lock.released``."""
    log = get_logger()
    if waited is None:
        waited = 0.0 if lock.try_acquire() else wait_for(lock, timeout)
    log.info("lock.acquired", waited_s=waited, runner=runner_name())
    try:
        yield
    finally:
        if lock.release():
            log.info("lock.released")
        else:
            log.error("lock.lost", runner=runner_name())


@contextlib.contextmanager
def postgres_lock(engine: Any, key: tuple[int, int], timeout: float) -> Iterator[Fence]:
    """The full path's lock: its own connection from ``engine``, closed afterwards."""
    raw = engine.raw_connection()
    try:
        lock = PostgresLock(raw.driver_connection, key)
        with holding(lock, timeout):
            yield lock.fence()
    finally:
        with contextlib.suppress(Exception):
            raw.close()


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    lock = FileLock(path)
    try:
        with holding(lock, timeout):
            yield None
    finally:
        lock.close()
