"""Stop signals (TERM, INT, HUP, QUIT): stop at once, cancel the statement in flight, unwind.

Python runs signal handlers only between bytecodes, so a handler cannot stop a statement that
is blocked inside libpq. A watcher thread learns of the signal through the wakeup fd and cancels
the registered PostgreSQL statement; the main thread then unwinds (rolling back, releasing the
lock) and the process exits 128 + signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .errors import Interrupted

# Every signal that asks a process to stop: each exits 128 + N after the same cleanup.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
_received: list[int] = []
_cancellable: set[Any] = set()
_lock = threading.Lock()


def received() -> int | None:
    """The first signal received, if any."""
    return _received[0] if _received else None


def _handler(signum: int, _frame: Any) -> None:
    first = not _received
    _received.append(signum)
    if first:  # later signals must not break the cleanup the first one started
        raise Interrupted(signum, signal.Signals(signum).name)


def settle() -> None:
    """From here on (reporting, exiting) a signal is recorded but no longer interrupts."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda n, _f: _received.append(n))


def _watch(fd: int) -> None:
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        with _lock:
            targets = list(_cancellable)
        for cancel in targets:
            with contextlib.suppress(Exception):
                cancel()


def install() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _handler)
    threading.Thread(target=_watch, args=(read_fd,), name="signal-watch", daemon=True).start()


def refuse_after_signal(*_args: Any) -> None:
    """Before each statement: a signal raised inside code that swallows exceptions (a logging
    handler, say) must not let the run go on to its next statement."""
    if _received:
        signum = _received[0]
        raise Interrupted(signum, signal.Signals(signum).name)


@contextlib.contextmanager
def cancellable(cancel: Callable[[], None] | None) -> Iterator[None]:
    """While inside, a signal calls ``cancel`` (a backend's: stop the statement in flight)."""
    if cancel is None:
        yield
        return
    with _lock:
        _cancellable.add(cancel)
    try:
        yield
    finally:
        with _lock:
            _cancellable.discard(cancel)
