"""SQLite on the standard library's sqlite3: a file lock beside the database, a snapshot around
the legacy phase, and BEGIN taken over from pysqlite so that DDL is transactional."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import PermissionDenied
from .base import OTHER, PERMISSION, TRANSIENT, Backend, runner_name

_PERMISSION_TEXT = ("unable to open database file", "readonly database")


class SqliteBackend(Backend):
    name = "sqlite"
    batch_alter = True  # SQLite cannot ALTER most things in place: copy and move

    @property
    def file(self) -> Path | None:
        """The database file; None for a private in-memory database."""
        database = self.url.database
        return None if database in (None, "", ":memory:") else Path(database)

    def connect(self) -> Any:
        """The file, never created here: one that does not exist yet reads as an empty database.

        ``mode=rw`` opens a write-protected file read-only, and lets SQLite roll back the hot
        journal a killed run left before anything is read.
        """
        if self.file is None or not self.file.is_file():
            return sqlite3.connect(":memory:")
        return sqlite3.connect(f"file:{quote(str(self.file))}?mode=rw", uri=True, timeout=30)

    def server_version(self, connection: Any) -> str:
        return sqlite3.sqlite_version

    @classmethod
    def error_kind(cls, exc: BaseException) -> str | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        message = str(exc).lower()
        if any(marker in message for marker in _PERMISSION_TEXT):
            return PERMISSION
        return TRANSIENT if isinstance(exc, sqlite3.OperationalError) else OTHER

    def table_names(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' "
            "ESCAPE '~'"
        )
        return {r[0] for r in cursor.fetchall()}

    def columns(self, cursor: Any, table) -> set[str] | None:
        prefix = "" if table.schema is None else f"{self.quote(table.schema)}."
        cursor.execute(f"PRAGMA {prefix}table_info({self.quote(table.name)})")
        names = {r[1] for r in cursor.fetchall()}
        return names or None

    def reopened(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        return contextlib.closing(self.connect())  # the file may exist only since the first look

    def lock(self, name: str) -> FileLock | None:
        if self.file is None:
            return None  # a private in-memory database has nobody to race with
        return FileLock(Path(f"{self.file}.lock"))

    def canceller(self, connection: Any) -> Callable[[], None] | None:
        return connection.interrupt  # safe from any thread

    # --- the legacy phase's snapshot ----------------------------------------------------

    def leftover(self) -> bool:
        from ..snapshot import snapshot_path

        return self.file is not None and snapshot_path(self.file).exists()

    def recover(self) -> None:
        if self.file is not None:
            from ..snapshot import restore_leftover

            restore_leftover(self.file)

    def guard_legacy(self) -> contextlib.AbstractContextManager[Callable[[object], None]]:
        if self.file is None:
            return super().guard_legacy()
        from ..snapshot import guarded

        return guarded(self.file)

    # --- SQLAlchemy ----------------------------------------------------------------------

    def configure_engine(self, engine: Any) -> None:
        """pysqlite commits implicitly before DDL; take over BEGIN so DDL is transactional too.

        Foreign keys stay off for the run: batch-mode table copies would trip them.
        """
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            connection.exec_driver_sql("BEGIN")


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

    def fence(self) -> None:
        return None  # the flock cannot be lost while this process lives

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
