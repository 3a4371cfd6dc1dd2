"""Wait for the database: one tenacity policy, one function deciding what is worth retrying.

Works on any connect callable; the backends say what their drivers' errors mean (SQLAlchemy's
wrapped ones included, through ``.orig``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from . import backends
from .errors import ConfigError, DatabaseUnavailable, DbUpdateError, PermissionDenied
from .logs import get_logger, scrub

T = TypeVar("T")

_ERRORS = {
    backends.AUTH: PermissionDenied,
    backends.PERMISSION: PermissionDenied,
    backends.MISSING_DATABASE: ConfigError,
    backends.OTHER: DbUpdateError,
}


def classify_connect_error(exc: BaseException) -> type[DbUpdateError] | None:
    """``None`` when the error is transient (retry) or not the database's at all; otherwise the
    error class to fail with: bad password or role, permission (77), missing database (64)."""
    kind = backends.error_kind(exc)
    return None if kind in (None, backends.TRANSIENT) else _ERRORS[kind]


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(orig).__name__)


def is_transient(exc: BaseException) -> bool:
    return backends.error_kind(exc) == backends.TRANSIENT


def _refusal(exc: BaseException, deadline_s: float) -> BaseException:
    """What to raise for a connect error that is not (or no longer) worth retrying."""
    if backends.error_kind(exc) is None:
        return exc  # not the database's answer: a bug, reported as a crash
    kind = classify_connect_error(exc)
    if kind is None:
        return DatabaseUnavailable(f"database unreachable after {deadline_s:g}s: {first_line(exc)}")
    return kind(f"cannot connect: {first_line(exc)}")


def wait_for(connect: Callable[[], T], deadline_s: float) -> tuple[T, dict]:
    """Call ``connect`` until it succeeds; 69 at the deadline, 77/64 at once if permanent.

    Returns its result and the ``db.ready`` fields (``attempts``, ``waited_s``).
    """
    log = get_logger()
    started = time.monotonic()
    try:  # most starts find the database up: tenacity is imported only to wait
        return connect(), {"attempts": 1, "waited_s": round(time.monotonic() - started, 3)}
    except Exception as exc:
        if not is_transient(exc):
            raise _refusal(exc, deadline_s) from None
        first = exc

    import tenacity

    last_logged = {"at": -1e9, "error": None}

    def note_wait(attempt: int, exc: BaseException) -> None:
        error = first_line(exc)
        now = time.monotonic()
        if error != last_logged["error"] or now - last_logged["at"] >= 5:
            log.info(
                "db.waiting",
                attempt=attempt,
                error=error,
                waited_s=round(now - started, 3),
                deadline_s=deadline_s,
            )
            last_logged.update(at=now, error=error)

    note_wait(1, first)
    time.sleep(min(0.1, max(0.0, deadline_s - (time.monotonic() - started))))
    # ≤ 10 attempts a second, and never more than ~0.3 s late once the server is up: 0.1 s
    # doubling to 0.2 s, plus up to 0.1 s of jitter (kept once the cap is reached, so runners
    # started together do not stay in step). The last sleep is cut short so that the final
    # attempt falls on the deadline, not after it.
    backoff = tenacity.wait_exponential(multiplier=0.1, max=0.2) + tenacity.wait_random(0, 0.1)

    def until_deadline(state: tenacity.RetryCallState) -> float:
        return min(backoff(state), max(0.0, deadline_s - (time.monotonic() - started)))

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(max(0.0, deadline_s - (time.monotonic() - started))),
        wait=until_deadline,
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=lambda state: note_wait(state.attempt_number + 1, state.outcome.exception()),
        reraise=True,
    )
    try:
        for attempt in policy:
            with attempt:
                result = connect()
    except Exception as exc:
        raise _refusal(exc, deadline_s) from None
    return result, {
        "attempts": attempt.retry_state.attempt_number + 1,
        "waited_s": round(time.monotonic() - started, 3),
    }
