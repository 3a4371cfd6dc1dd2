"""DDL under live traffic: bounded lock waits, retried; the fence on every commit.

An ``ALTER TABLE`` that waits for its ACCESS EXCLUSIVE lock sits at the head of the table's lock
queue, and every later query on that table waits behind it: the app stalls as long as whatever
blocks the migration (a report, a ``pg_dump``, an idle transaction) holds on. So every
transaction of the Alembic phase runs with ``SET LOCAL lock_timeout`` (``--ddl-lock-timeout``,
2 s): a statement that cannot have its lock by then fails with ``55P03``, its transaction is
rolled back (its locks with it, so the app's queue drains), and the transaction is tried again
after a jittered, growing pause, until ``--lock-timeout`` has passed since it was first refused
(then 75, naming the blockers).

``Guard`` hooks the migration connection's ``begin`` and ``commit`` events, so the rules hold for
every transaction on it, whoever opens or commits it (our units, Alembic's ``autocommit_block``):
at each begin the fence is taken (``Fence.enter``) and the timeouts set; before each COMMIT the
fence is confirmed. Inside an ``autocommit_block`` each statement commits on its own, so the fence
is held as a session-level advisory lock for the block instead (a runner that lost the lock
still waits for it), confirmed when the block starts, and no ``lock_timeout`` is set there: the
statements that need a block (``CREATE INDEX CONCURRENTLY`` and the like) take weak locks and
wait for old transactions without blocking the app, and cutting that wait short would only
leave INVALID indexes behind.

Who blocks: the blocked statement's own lock request is gone once ``55P03`` is raised, so the
blockers are sampled while it waits. ``BlockerWatch`` notes when a statement starts on the
migration connection; once one has run longer than a threshold (a quarter of the DDL lock
timeout, at most 0.5 s) a thread asks ``pg_blocking_pids`` on a connection of its own, every
fifth of that. Short statements cost nothing; only a stalled one is looked at.

What is database-specific (how a unit's waits are bounded, what a refusal looks like, whether a
refused unit may run again, who blocks) is the backend's ``DdlRules``: the above is
PostgreSQL's. On MySQL/MariaDB (``backends/mysql.py``) each unit runs with the session's
``lock_wait_timeout`` (whole seconds) and a refusal is error 1205; as each DDL statement there
commits itself, a refused unit runs again only if none of its statements other than reads
completed in that attempt (``Policy`` counts them); else the refusal fails the run (70,
half-applied) rather than repeating committed DDL on a changed schema.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .backends.base import DdlRules, Fence
from .errors import LockTimeout, MigrationFailed
from .logs import get_logger, scrub

QUERY_CHARS = 200
T = TypeVar("T")
# Statements that change nothing: a unit attempt that ran only these may run again even where
# each DDL statement commits itself.
_READS = ("select", "show", "set", "describe", "desc", "explain")


def _is_read(statement: str) -> bool:
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    return bool(words) and words[0].lower() in _READS


class BlockerWatch:
    """Samples, from a connection of its own, who blocks a statement stalled on the migration
    connection; ``take()`` returns the last sample since ``reset()``."""

    def __init__(self, connection: Any, ddl_lock_timeout: float, rules: DdlRules) -> None:
        from sqlalchemy import event

        self._engine = connection.engine
        self._rules = rules
        self._pid = rules.session_id(connection.connection.dbapi_connection)
        self._threshold = min(0.5, ddl_lock_timeout / 4)
        self._period = max(0.01, self._threshold / 5)
        self._inflight: float | None = None
        self._sample: list[dict] = []
        self._raw: Any = None
        self._stop = threading.Event()
        self._listeners = (  # handle_error may only be set on the engine
            (connection, "before_cursor_execute", self._started),
            (connection, "after_cursor_execute", self._ended),
            (connection.engine, "handle_error", self._ended),
        )
        for target, name, fn in self._listeners:
            event.listen(target, name, fn)
        self._thread = threading.Thread(target=self._watch, name="ddl-blockers", daemon=True)
        self._thread.start()

    def _started(self, *_args: Any) -> None:
        self._inflight = time.monotonic()

    def _ended(self, *_args: Any) -> None:
        self._inflight = None

    def reset(self) -> None:
        self._sample = []

    def take(self) -> list[dict]:
        return list(self._sample)

    def _watch(self) -> None:
        while not self._stop.wait(self._period):
            since = self._inflight
            if since is None or time.monotonic() - since < self._threshold:
                continue
            with contextlib.suppress(Exception):  # a sample is a courtesy, never a failure
                rows = self._query()
                if rows and self._inflight == since:
                    self._sample = rows

    def _query(self) -> list[dict]:
        if self._raw is None:
            self._raw = self._rules.watch_connection(self._engine)
        return self._rules.blockers(self._raw.driver_connection, self._pid, QUERY_CHARS)

    def close(self) -> None:
        from sqlalchemy import event

        self._stop.set()
        self._thread.join(timeout=2)
        for target, name, fn in self._listeners:
            with contextlib.suppress(Exception):
                event.remove(target, name, fn)
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()


class Guard:
    """The rules every transaction on the migration connection follows (see the module doc)."""

    def __init__(
        self, connection: Any, fence: Fence, settings: Any, rules: DdlRules | None
    ) -> None:
        self.connection = connection
        self.fence = fence
        self.settings = settings
        self.rules = rules  # bounded lock waits (the backend's), None for fenced only
        self._in_block = False
        self._listeners = (
            ("begin", self._on_begin),
            ("commit", self._on_commit),
            ("rollback", self._on_rollback),
        )

    def __enter__(self) -> Guard:
        from sqlalchemy import event

        for name, fn in self._listeners:
            event.listen(self.connection, name, fn)
        return self

    def __exit__(self, *_exc: Any) -> None:
        from sqlalchemy import event

        for name, fn in self._listeners:
            event.remove(self.connection, name, fn)

    @staticmethod
    def _autocommit(connection: Any) -> bool:
        return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"

    def _on_begin(self, connection: Any) -> None:
        rules = self.rules
        if rules is not None and rules.blocks_hold_fence and self._autocommit(connection):
            rules.enter_block(connection)
            self._in_block = True
            self.fence.confirm(connection.connection.driver_connection)
            rules.block_entered(connection)
            return
        self.fence.enter(connection.connection.driver_connection, self.settings.lock_timeout)
        if rules is not None:
            rules.begin(connection)

    def _on_commit(self, connection: Any) -> None:
        if self._in_block:
            self._leave_block(connection)
            return
        self.fence.confirm(connection.connection.driver_connection)  # never without the lock
        if self.rules is not None:
            self.rules.end(connection)

    def _on_rollback(self, connection: Any) -> None:
        if self._in_block:
            self._leave_block(connection)
        elif self.rules is not None:
            self.rules.end(connection)

    def _leave_block(self, connection: Any) -> None:
        self._in_block = False
        self.rules.leave_block(connection)


@contextlib.contextmanager
def autocommit(connection: Any) -> Iterator[None]:
    """Run the block outside a transaction (as Alembic's ``autocommit_block`` does)."""
    level = connection.get_isolation_level()
    connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with connection.begin():
            yield
    finally:
        connection.execution_options(isolation_level=level)


class Policy:
    """Runs units of work, each in one transaction, retried while their DDL is refused its
    locks. One per Alembic phase; ``close()`` it."""

    def __init__(
        self,
        connection: Any,
        fence: Fence | None,
        settings: Any,
        tables: set[str],
        *,
        rules: DdlRules | None,
    ) -> None:
        """``fence``: every transaction is fenced; ``rules`` (the backend's, with a fence): and
        its DDL lock waits bounded and retried (a backend whose waiting DDL stalls the app's
        queries)."""
        from sqlalchemy import event

        self.connection = connection
        self.settings = settings
        self.tables = sorted(tables)
        self._rules = rules if fence else None
        self._guard = Guard(connection, fence, settings, self._rules).__enter__() if fence else None
        self._watch = (
            BlockerWatch(connection, settings.ddl_lock_timeout, self._rules)
            if self._rules is not None
            else None
        )
        self._wrote = False  # a statement other than a read completed in this transaction
        if self._watch is not None:
            event.listen(connection, "after_cursor_execute", self._executed)
            event.listen(connection, "commit", self._committed)

    def _executed(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self._wrote and not _is_read(statement):
            self._wrote = True

    def _committed(self, _conn: Any) -> None:
        # what committed is done: a refusal after it concerns only what follows (a unit may
        # hold several transactions, e.g. Alembic's one per revision where DDL commits itself)
        self._wrote = False

    def close(self) -> None:
        if self._watch is not None:
            from sqlalchemy import event

            with contextlib.suppress(Exception):
                event.remove(self.connection, "after_cursor_execute", self._executed)
                event.remove(self.connection, "commit", self._committed)
            self._watch.close()
        if self._guard is not None:
            self._guard.__exit__(None, None, None)

    def unit(self, label: str, work: Callable[[Any], T]) -> T:
        """``work(connection)`` in one transaction, committed; retried while its DDL is refused
        its locks (PostgreSQL ``55P03``; MySQL 1205 while nothing of it has committed)."""
        if self._watch is None:  # no lock queue to protect (SQLite: one writer at a time)
            return self._once(work)
        import tenacity

        log = get_logger()
        seen: dict[str, Any] = {"first": None, "blockers": [], "attempts": 0}
        deadline = self.settings.lock_timeout
        rules = self._rules
        ddl = rules.lock_wait_s  # --ddl-lock-timeout, as the server applies it

        def attempt() -> T:
            seen["attempts"] += 1
            self._watch.reset()
            self._wrote = False
            return self._once(work, sweep=True)

        def out_of_time(state: tenacity.RetryCallState) -> bool:
            now = time.monotonic()
            if seen["first"] is None:
                seen["first"] = now
            seen["blockers"] = self._watch.take()
            return now + (state.upcoming_sleep or 0) - seen["first"] >= deadline

        def blocked(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception()
            log.warning(
                "ddl.blocked",
                unit=label,
                revision=getattr(exc, "context", {}).get("revision"),
                attempt=state.attempt_number,
                blockers=seen["blockers"],
                statement=_statement(exc),
                ddl_lock_timeout_s=self.settings.ddl_lock_timeout,
                retry_in_s=round(state.upcoming_sleep, 3),
                blocked_for_s=round(time.monotonic() - seen["first"], 3),
                deadline_s=deadline,
            )

        policy = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda exc: rules.retryable(exc, self._wrote)),
            # Pause at least as long as one refused attempt held the app up, growing: the app
            # gets the table most of the time while the blocker lasts.
            wait=tenacity.wait_exponential_jitter(initial=ddl, max=max(10.0, ddl), jitter=ddl / 2),
            stop=out_of_time,
            before_sleep=blocked,
            reraise=False,
        )
        try:
            return policy(attempt)
        except tenacity.RetryError as exc:
            who = seen["blockers"]
            named = "; ".join(
                ", ".join(f"{k}={b[k]}" for k in ("pid", "application_name", "state", "for_s"))
                for b in who
            )
            raise LockTimeout(
                f"{label}: DDL refused its locks for {deadline:g}s (--lock-timeout), "
                f"{seen['attempts']} attempt(s) of {ddl:g}s each; "
                f"blocked by {named or 'sessions that ended before they could be named'}",
                unit=label,
                blockers=who,
                revision=getattr(exc.last_attempt.exception(), "context", {}).get("revision"),
            ) from None
        except Exception as exc:
            if rules.refused(exc):  # refused, but not retryable: part of it committed itself
                raise _refused_too_late(exc) from exc
            raise

    def _once(self, work: Callable[[Any], T], *, sweep: bool = False) -> T:
        connection = self.connection
        try:
            if sweep:
                self._sweep_invalid_indexes()
            result = work(connection)
            connection.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                connection.rollback()
            raise
        return result

    def _sweep_invalid_indexes(self) -> None:
        """Drop INVALID indexes a failed concurrent build left on the bundle's tables: the
        revision that builds them has not been recorded, so it runs again and rebuilds them.
        The look is the first statement of the unit's transaction; the drop (rare) needs its
        own autocommit block, after which the unit's transaction begins afresh."""
        connection = self.connection
        found = self._rules.invalid_indexes(connection, self.tables)
        if not found:
            return
        connection.rollback()
        quote = connection.dialect.identifier_preparer.quote
        with autocommit(connection):
            for schema, index, table in found:
                connection.exec_driver_sql(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {quote(schema)}.{quote(index)}"
                )
                get_logger().warning(
                    "ddl.invalid_index_dropped",
                    index=index,
                    table=table,
                    schema=schema,
                    reason="left INVALID by a concurrent build that failed; "
                    "the revision that builds it runs again",
                )


def _refused_too_late(exc: Exception) -> MigrationFailed:
    """A statement refused its lock after an earlier one of the same attempt committed itself
    (DDL outside a transaction): running the unit again would repeat that one on a changed
    schema, so the refusal is a failure."""
    note = (
        "; refused its lock after part of the revision had committed itself (each DDL "
        "statement commits on its own): not retried"
    )
    context = dict(getattr(exc, "context", {}))
    return MigrationFailed(f"{exc}{note}", **context, lock_refused=True)


def _statement(exc: BaseException | None) -> str | None:
    """The refused statement, first characters only, masked."""
    while exc is not None:
        text = getattr(exc, "statement", None)
        if text:
            return scrub(" ".join(str(text).split())[:QUERY_CHARS])
        exc = exc.__cause__ or exc.__context__
    return None
