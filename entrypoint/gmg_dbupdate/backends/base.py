"""What a backend does on its bare DB-API driver, so that the pipeline never asks which one.

A run connects (``connect``; the wait policy lives in ``wait.py``), reads its version facts
(``table_names``, ``columns``, ``quote``), takes the lock (``lock``) and guards its transactions
with the lock's fence, cancels the statement in flight on a signal (``canceller``), protects
what is not transactional (``guard_legacy``, ``recover``) and says what its driver's errors mean
(``error_kind``). Only ``engine`` (the migrations themselves) imports SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from ..dburl import DbUrl
    from ..manifest import TableName

# What a driver error means to the run (``error_kind``).
TRANSIENT = "transient"  # the server is not there yet: wait and retry
AUTH = "auth"  # wrong credentials: 77, never retried
PERMISSION = "permission"  # connected, but not allowed to read or change something: 77
MISSING_DATABASE = "missing_database"  # the URL names a database that does not exist: 64
OTHER = "other"  # any other error of the database: not retried


def runner_name() -> str:
    """How this runner names itself to the database (application name) and in lock files."""
    return f"gmg-dbupdate:{socket.gethostname()}:{os.getpid()}"[:63]


class Fence(Protocol):
    """Guards one writing transaction of the runner holding the lock (see postgresql.py)."""

    def enter(self, connection: Any, timeout: float) -> None: ...

    def confirm(self, connection: Any) -> None: ...

    def leave(self, connection: Any) -> None: ...

    def for_child(self) -> dict: ...


class Lock(Protocol):
    def try_acquire(self) -> bool: ...

    def holder(self) -> dict: ...

    def release(self) -> bool: ...

    def fence(self) -> Fence | None: ...

    def close(self) -> None: ...


class Backend:
    """One database kind. Subclasses set ``name`` and implement the bare-driver methods."""

    name: ClassVar[str]
    # the database's name in messages to an operator
    label: ClassVar[str] = ""
    # Alembic's batch mode (copy and move) for the ALTERs the database cannot do in place
    batch_alter: ClassVar[bool] = False
    # DDL inside a transaction rolls back with it (else each revision commits on its own)
    transactional_ddl: ClassVar[bool] = True

    def __init__(self, url: DbUrl, *, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout

    # --- the bare driver -------------------------------------------------------------------

    def connect(self) -> Any:
        """One attempt at a DB-API connection (``wait.wait_for`` retries)."""
        raise NotImplementedError

    def server_version(self, connection: Any) -> str | None:
        raise NotImplementedError

    @classmethod
    def error_kind(cls, exc: BaseException) -> str | None:
        """``TRANSIENT`` … ``OTHER`` for this driver's errors; None for anything else."""
        raise NotImplementedError

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def qualified(self, table: TableName) -> str:
        name = self.quote(table.name)
        return name if table.schema is None else f"{self.quote(table.schema)}.{name}"

    def table_names(self, cursor: Any) -> set[str]:
        """The tables of the default schema."""
        raise NotImplementedError

    def columns(self, cursor: Any, table: TableName) -> set[str] | None:
        """The column names of ``table``; None if there is no such table."""
        raise NotImplementedError

    def reopened(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        """The connection to read the state with again once the lock is held: this one, or a
        new one where the first could not see what another runner made meanwhile."""
        return contextlib.nullcontext(connection)

    def end_read(self, connection: Any) -> None:
        """Leave no transaction open after a read."""
        connection.rollback()

    # --- one runner at a time ------------------------------------------------------------

    def lock(self, name: str) -> Lock | None:
        """The run's lock, named per app; None where nobody can race (a private database)."""
        raise NotImplementedError

    def canceller(self, connection: Any) -> Callable[[], None] | None:
        """A thread-safe way to stop the statement ``connection`` is running."""
        return None

    # --- what is not transactional ---------------------------------------------------------

    def leftover(self) -> bool:
        """True if an interrupted run left something ``recover`` must deal with."""
        return False

    def recover(self) -> None:
        """Under the lock, before reading: repair what an interrupted run left."""

    def guard_legacy(self) -> contextlib.AbstractContextManager[Callable[[object], None]]:
        """Around the legacy phase (which commits script by script); yields the function to
        call after each commit."""
        return contextlib.nullcontext(lambda _event=None: None)

    # --- the sealed legacy runtime and SQLAlchemy -----------------------------------------

    def legacy_connection(self) -> dict:
        """``url`` (SQLAlchemy 1.4 syntax, password included) and ``connect_args``."""
        return {"url": self.url.render(hide_password=False), "connect_args": {}}

    def engine(self) -> Any:
        """A SQLAlchemy engine for the migrations (NullPool), set up for this database."""
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        from ..interrupts import refuse_after_signal

        engine = create_engine(
            self.sqlalchemy_url(), poolclass=NullPool, connect_args=self.engine_connect_args()
        )
        self.configure_engine(engine)
        event.listen(engine, "before_cursor_execute", refuse_after_signal)
        return engine

    def sqlalchemy_url(self) -> Any:
        return self.url.sqlalchemy()

    def engine_connect_args(self) -> dict:
        return {}

    def configure_engine(self, engine: Any) -> None:
        """Dialect-specific session set-up (listeners on ``engine``)."""

    # --- DDL under live traffic (ddl.py) --------------------------------------------------

    def ddl_rules(self, settings: Any, fence: Fence) -> DdlRules | None:
        """How the Alembic phase's units bound their lock waits on this database (a DDL
        waiting for its lock stalls every later query on the table: bound and retry it);
        None where a waiting DDL stalls nobody (SQLite: one writer at a time)."""
        return None


class DdlRules:
    """One backend's part of ``ddl.Policy``: bound a unit's lock waits, tell a refused lock
    from other errors, say whether a refused unit may run again, name who blocks it. One per
    migration connection (it may remember that session's settings)."""

    # Inside an autocommit block the fence is held as a session lock and no lock wait is
    # bounded (PostgreSQL's ``CREATE INDEX CONCURRENTLY``); else a block is fenced and bounded
    # like any unit.
    blocks_hold_fence: ClassVar[bool] = False

    def __init__(self, settings: Any, fence: Fence) -> None:
        self.settings = settings
        self.fence = fence

    @property
    def lock_wait_s(self) -> float:
        """How long one statement really waits for a lock (the server may round it)."""
        return self.settings.ddl_lock_timeout

    def begin(self, connection: Any) -> None:
        """At the start of a unit's transaction, once fenced: bound its lock waits."""

    def end(self, connection: Any) -> None:
        """At its COMMIT or ROLLBACK: undo what ``begin`` set beyond the transaction."""

    def enter_block(self, connection: Any) -> None:
        """An autocommit block starts (only if ``blocks_hold_fence``)."""

    def block_entered(self, connection: Any) -> None:
        """The block's fence is held and confirmed (only if ``blocks_hold_fence``)."""

    def leave_block(self, connection: Any) -> None:
        """An autocommit block ends (only if ``blocks_hold_fence``)."""

    def refused(self, exc: BaseException) -> bool:
        """``exc`` (or an error in its cause chain) says a statement was refused its lock."""
        raise NotImplementedError

    def retryable(self, exc: BaseException, wrote: bool) -> bool:
        """May the refused unit run again? ``wrote``: a statement other than a read completed
        in this attempt (where DDL commits itself, the attempt is then half-applied)."""
        return self.refused(exc)

    def session_id(self, dbapi_connection: Any) -> int:
        """The server's id of the migration connection's session (to find its blockers)."""
        raise NotImplementedError

    def watch_connection(self, engine: Any) -> Any:
        """A pool connection of its own, in autocommit, for sampling blockers."""
        raise NotImplementedError

    def blockers(self, driver_connection: Any, session_id: int, chars: int) -> list[dict]:
        """Who blocks the statement ``session_id`` is waiting in: ``pid``,
        ``application_name``, ``state``, ``for_s``, ``query`` (``chars`` characters)."""
        raise NotImplementedError

    def invalid_indexes(self, connection: Any, tables: list[str]) -> list[tuple]:
        """(schema, index, table) left INVALID by a failed concurrent build on ``tables``."""
        return []


@contextlib.contextmanager
def closing_cursor(connection: Any) -> Iterator[Any]:
    cursor = connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
