"""Wait for the database: one tenacity policy, one function deciding what is worth retrying."""

from __future__ import annotations

import time

import tenacity
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from .errors import ConfigError, DatabaseUnavailable, DbUpdateError, PermissionDenied
from .logs import get_logger, scrub

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
    if isinstance(exc, OperationalError) or not isinstance(exc, DBAPIError):
        return None
    return DbUpdateError


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(orig).__name__)


def wait_for_database(engine: Engine, deadline_s: float) -> dict:
    """Block until ``SELECT 1`` succeeds; raise 69 at the deadline, 77/64 at once if permanent."""
    log = get_logger()
    started = time.monotonic()
    last_logged = {"at": -1e9, "error": None}

    def ping() -> str:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            return connection.dialect.server_version_info

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, OperationalError) and classify_connect_error(exc) is None

    def note_wait(state: tenacity.RetryCallState) -> None:
        error = _first_line(state.outcome.exception())
        now = time.monotonic()
        if error != last_logged["error"] or now - last_logged["at"] >= 5:
            log.info(
                "db.waiting",
                attempt=state.attempt_number,
                error=error,
                waited_s=round(now - started, 3),
                deadline_s=deadline_s,
            )
            last_logged.update(at=now, error=error)

    # ≤ 10 attempts a second, and never more than ~0.5 s late once the server is up; the last
    # sleep is cut short so that the final attempt falls on the deadline, not after it.
    backoff = tenacity.wait_exponential_jitter(initial=0.1, max=0.4, jitter=0.1)

    def until_deadline(state: tenacity.RetryCallState) -> float:
        return min(backoff(state), max(0.0, deadline_s - (time.monotonic() - started)))

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(deadline_s),
        wait=until_deadline,
        retry=tenacity.retry_if_exception(transient),
        before_sleep=note_wait,
        reraise=True,
    )
    try:
        for attempt in policy:
            with attempt:
                version = ping()
    except OperationalError as exc:
        kind = classify_connect_error(exc)
        if kind is None:
            raise DatabaseUnavailable(
                f"database unreachable after {deadline_s:g}s: {_first_line(exc)}"
            ) from None
        raise kind(f"cannot connect: {_first_line(exc)}") from None
    except DBAPIError as exc:
        kind = classify_connect_error(exc) or DbUpdateError
        raise kind(f"cannot connect: {_first_line(exc)}") from None
    attempts = attempt.retry_state.attempt_number
    return {
        "attempts": attempts,
        "waited_s": round(time.monotonic() - started, 3),
        "server_version": ".".join(str(p) for p in version or ()) or None,
    }
