"""The init job, one pipeline over a backend (``backends/``):

announce → connect → read the facts → current? done → lock → read again → converge.

Everything before ``converge`` runs on the bare driver, with the bundle's index standing in for
the revision scripts and models: a run that finds the schema current (most starts) and a runner
that waits for another one never load SQLAlchemy or Alembic. ``--check``, ``dbcheck`` and
``dbverify`` are the same steps, read-only.
"""

from __future__ import annotations

import time

from . import classify
from .config import Settings
from .job import Job
from .lock import exclusive, lock_name
from .logs import get_logger


def run(settings: Settings) -> dict:
    """``gmg dbupdate``: returns the ``dbupdate.done`` fields."""
    job = Job.prepare(settings)
    job.announce()
    with job.session() as connection:
        state = job.read(connection)
        if job.is_current(state):
            return job.current(state)
        lock = job.backend.lock(lock_name(job.bundle))
        with exclusive(lock, settings.lock_timeout) as held:
            job.backend.recover()  # what an interrupted run left (a SQLite snapshot)
            with job.backend.reopened(connection) as again:  # always decided again, locked
                state = job.read(again, held.fence)
            if job.is_current(state):
                return job.current(state)
            job.pending(state)  # logs the state (and disabled plugins); refuses what it must
            held.restore_priority()  # a runner that waited migrates after all
            from .converge import converge

            return {**converge(job, state, held.fence), "duration_s": job.elapsed()}


def check(settings: Settings) -> dict:
    """``gmg dbupdate --check`` and ``gmg dbcheck``: read-only, no lock; what would change."""
    job = Job.prepare(settings)
    job.announce(check=True)
    return {**_look(job), "duration_s": job.elapsed()}


def _look(job: Job, deadline_s: float | None = None) -> dict:
    with job.session(deadline_s) as connection:
        state = job.read(connection)
    todo = job.pending(state)
    if todo:
        return {**classify.outcome(), "current": False, "pending": todo}
    return {**classify.outcome(), "current": True, "pending": [], "fast_path": job.indexed}


def wait_until_current(settings: Settings, interval_s: float = 2.0) -> dict:
    """``gmg dbcheck --wait``: poll read-only until nothing is pending; 69 at the deadline."""
    import tenacity

    from .errors import DatabaseUnavailable

    log = get_logger()
    job = Job.prepare(settings)
    job.announce(wait=True)
    seen: dict = {}

    def note(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        pending = None if outcome.failed else outcome.result()["pending"]
        error = str(outcome.exception()) if outcome.failed else None
        if (pending, error) != (seen.get("pending"), seen.get("error")):
            log.info("dbcheck.waiting", pending=pending, error=error, waited_s=job.elapsed())
            seen.update(pending=pending, error=error)

    def attempt() -> dict:  # each look waits for the server only as long as the deadline allows
        return _look(job, max(1.0, settings.wait_timeout - (time.monotonic() - job.started)))

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(settings.wait_timeout),
        wait=tenacity.wait_fixed(interval_s),
        retry=tenacity.retry_if_result(lambda result: not result["current"])
        | tenacity.retry_if_exception_type(DatabaseUnavailable),
        before_sleep=note,
    )
    try:
        result = policy(attempt)
    except tenacity.RetryError as exc:
        last = exc.last_attempt
        pending = None if last.failed else last.result()["pending"]
        raise DatabaseUnavailable(
            f"schema not current after {settings.wait_timeout:g}s", pending=pending
        ) from None
    return {**result, "duration_s": job.elapsed()}


def verify(settings: Settings) -> dict:
    """``gmg dbverify``: read-only comparison of the live schema with the models."""
    from .verify import diff

    job = Job.prepare(settings)
    get_logger().info("dbverify.start", url=settings.url.render(), plugins=list(job.enabled))
    with job.session():  # waited for the server as every verb does
        pass
    engine = job.backend.engine()
    try:
        with engine.connect() as connection:
            result = diff(connection, job.bundle, job.enabled)
            connection.rollback()
    finally:
        engine.dispose()
    return {**result, "duration_s": job.elapsed()}
