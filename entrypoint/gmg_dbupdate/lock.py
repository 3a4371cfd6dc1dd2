"""One runner at a time: wait for a backend's lock, hold it, release it on every way out.

The locks themselves are the backends' (``backends/``): a PostgreSQL advisory lock with its
fence, an fcntl lock file beside SQLite. All work on the bare driver, so a runner that finds
the schema behind waits here before loading any of the migration machinery.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends import runner_name
from .backends.base import Fence, Lock
from .errors import LockTimeout
from .logs import get_logger

if TYPE_CHECKING:
    from .bundle import Bundle

_NICE_WHILE_WAITING = 19  # the lowest priority: a waiting runner takes only idle CPU


def lock_name(bundle: Bundle) -> str:
    """The lock's name: one per app and version table (apps sharing a database lock apart)."""
    return f"{bundle.name}:{bundle.version_table}"


def wait_for(lock: Lock, timeout: float) -> float:
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
            f"lock not acquired within {timeout:g}s; held by {describe(who)}", holder=who
        ) from None
    return round(time.monotonic() - started, 3)


def describe(holder: dict) -> str:
    if not holder:
        return "an unknown runner"
    return ", ".join(f"{k}={v}" for k, v in holder.items() if v not in (None, ""))


@dataclass(frozen=True)
class Held:
    fence: Fence | None  # taken by every transaction (None where the lock cannot be lost)
    priority: int  # the CPU priority the run started with

    def restore_priority(self) -> None:
        """Back to the starting priority, for a runner that waited and migrates after all."""
        if os.getpriority(os.PRIO_PROCESS, 0) == self.priority:
            return
        try:
            os.setpriority(os.PRIO_PROCESS, 0, self.priority)
        except OSError:  # an unprivileged process may not (RLIMIT_NICE): say so
            get_logger().warning(
                "lock.priority",
                nice=os.getpriority(os.PRIO_PROCESS, 0),
                reason="waited at a lower CPU priority and cannot raise it back; migrating anyway",
            )


@contextlib.contextmanager
def exclusive(lock: Lock | None, timeout: float) -> Iterator[Held]:
    """Hold ``lock`` for the block, waiting for it at the lowest CPU priority (the holder is
    migrating: let it have the machine); release and close it on every way out.
    ``lock.acquired`` and ``lock.released`` are logged."""
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    if lock is None:  # nobody to race with
        yield Held(None, priority)
        return
    log = get_logger()
    try:
        waited = 0.0
        if not lock.try_acquire():
            with contextlib.suppress(OSError):
                os.nice(_NICE_WHILE_WAITING)
            waited = wait_for(lock, timeout)
        log.info("lock.acquired", waited_s=waited, runner=runner_name())
        try:
            yield Held(lock.fence(), priority)
        finally:
            if lock.release():
                log.info("lock.released")
            else:
                log.error("lock.lost", runner=runner_name())
    finally:
        lock.close()
