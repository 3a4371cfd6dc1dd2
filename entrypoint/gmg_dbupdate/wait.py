"""Wait for the database: one tenacity policy, one function deciding what is worth retrying.

Works on any connect callable, the bare driver's (no-op path) or an engine's (full path): both
raise the driver's errors, SQLAlchemy's wrapped with the original as ``.orig``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import ConfigError, DatabaseUnavailable, DbUpdateError, PermissionDenied
from .logs import get_logger, scrub

T = TypeVar("T")

# SQLSTATEs and libpq messages that no amount of waiting will fix.
_AUTH_CODES = {"28P01", "28000", "42501"}
_AUTH_TEXT = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "authentication failed",
    "no password supplied",
    "permission denied",
)
_MISSING_DB_CODES = {"3D000"}
_DRIVERS = ("psycopg2", "sqlite3")


def _driver_error(exc: BaseException) -> BaseException | None:
    """The DB-API exception ``exc`` is or wraps, if any (a driver not imported raised none)."""
    orig = getattr(exc, "orig", exc)
    for name in _DRIVERS:
        module = sys.modules.get(name)
        if module is not None and isinstance(orig, module.Error):
            return orig
    return None


def _operational(exc: BaseException) -> bool:
    orig = _driver_error(exc)
    return orig is not None and any(
        isinstance(orig, sys.modules[name].OperationalError)
        for name in _DRIVERS
        if name in sys.modules
    )


def classify_connect_error(exc: BaseException) -> type[DbUpdateError] | None:
    """``None`` when the error is transient (retry); otherwise the error class to fail with.

    Transient: refused, timeout, DNS, ``57P03`` starting up, ``53300`` too many connections,
    shutting down, recovery. Permanent: bad password or role (77), permission (77), missing
    database (64), an unopenable SQLite file (77).
    """
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    message = str(orig).lower()
    if code in _MISSING_DB_CODES or ("database" in message and "does not exist" in message):
        return ConfigError
    if code in _AUTH_CODES or any(marker in message for marker in _AUTH_TEXT):
        return PermissionDenied
    if "role" in message and "does not exist" in message:
        return PermissionDenied
    if "unable to open database file" in message or "readonly database" in message:
        return PermissionDenied
    if _driver_error(exc) is None or _operational(exc):
        return None
    return DbUpdateError


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(orig).__name__)


def is_transient(exc: BaseException) -> bool:
    return _operational(exc) and classify_connect_error(exc) is None


def _refusal(exc: BaseException, deadline_s: float) -> BaseException:
    """What to raise for a connect error that is not (or no longer) worth retrying."""
    if _driver_error(exc) is None:
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


def wait_for_database(engine, deadline_s: float) -> dict:
    """The full path's wait: ``SELECT 1`` through ``engine``; returns the ``db.ready`` fields."""
    from sqlalchemy import text

    def ping() -> tuple:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            return connection.dialect.server_version_info

    version, ready = wait_for(ping, deadline_s)
    return {**ready, "server_version": ".".join(str(p) for p in version or ()) or None}
