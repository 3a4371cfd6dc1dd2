"""One runner at a time: a PostgreSQL advisory lock, or an fcntl lock file beside SQLite."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import tenacity
from sqlalchemy import Engine, text

from .db import runner_name
from .errors import LockTimeout
from .logs import get_logger

_NAMESPACE = zlib.crc32(b"gmg-dbupdate") & 0x7FFFFFFF
_POLL = tenacity.wait_fixed(0.2) + tenacity.wait_random(0, 0.2)
_HOLDER_SQL = text(
    """
    SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr,
           a.backend_start, a.state
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = :k1 AND l.objid = :k2 AND l.objsubid = 2
    """
)


def lock_key(bundle_name: str, version_table: str) -> tuple[int, int]:
    """Two int4 keys: ours, and one per app (apps sharing a database lock separately)."""
    return _NAMESPACE, zlib.crc32(f"{bundle_name}:{version_table}".encode()) & 0x7FFFFFFF


def _poll(try_acquire: Callable[[], bool], holder: Callable[[], dict], timeout: float) -> float:
    """Poll ``try_acquire`` until it succeeds; 75 at the deadline naming the holder."""
    log = get_logger()
    started = time.monotonic()
    seen: dict = {"holder": None, "at": -1e9}

    def note_wait(state: tenacity.RetryCallState) -> None:
        now = time.monotonic()
        who = holder()
        if who != seen["holder"] or now - seen["at"] >= 10:
            log.info(
                "lock.waiting", holder=who, waited_s=round(now - started, 3), deadline_s=timeout
            )
            seen.update(holder=who, at=now)

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=_POLL,
        retry=tenacity.retry_if_result(lambda acquired: not acquired),
        before_sleep=note_wait,
    )
    try:
        policy(try_acquire)
    except tenacity.RetryError:
        who = holder()
        raise LockTimeout(
            f"lock not acquired within {timeout:g}s; held by {_describe(who)}", holder=who
        ) from None
    waited = round(time.monotonic() - started, 3)
    log.info("lock.acquired", waited_s=waited, runner=runner_name())
    return waited


def _describe(holder: dict) -> str:
    if not holder:
        return "an unknown runner"
    return ", ".join(f"{k}={v}" for k, v in holder.items() if v not in (None, ""))


@contextlib.contextmanager
def postgres_lock(engine: Engine, key: tuple[int, int], timeout: float) -> Iterator[None]:
    """Session-level advisory lock on a connection of its own, never the migration's."""
    log = get_logger()
    params = {"k1": key[0], "k2": key[1]}
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:

        def try_acquire() -> bool:
            return bool(
                connection.execute(text("SELECT pg_try_advisory_lock(:k1, :k2)"), params).scalar()
            )

        def holder() -> dict:
            row = connection.execute(_HOLDER_SQL, params).mappings().first()
            if row is None:
                return {}
            return {k: (str(v) if k == "backend_start" else v) for k, v in row.items()}

        _poll(try_acquire, holder, timeout)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                connection.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), params)
            log.info("lock.released")
    finally:
        # Ending the session frees the lock even when the unlock above could not run.
        with contextlib.suppress(Exception):
            connection.close()


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    """fcntl lock on ``path``; the holder writes who it is into the file for waiters."""
    log = get_logger()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:

        def try_acquire() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        def holder() -> dict:
            try:
                return json.loads(Path(path).read_text() or "{}")
            except (OSError, ValueError):
                return {}

        _poll(try_acquire, holder, timeout)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(
                fd,
                json.dumps(
                    {
                        "runner": runner_name(),
                        "pid": os.getpid(),
                        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                ).encode(),
                0,
            )
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            log.info("lock.released")
    finally:
        os.close(fd)
