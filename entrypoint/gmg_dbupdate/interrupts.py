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
from .state import STATE

# Every signal that asks a process to stop: each exits 128 + N after the same cleanup.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def received() -> int | None:
    """The first signal received, if any."""
    return STATE.received[0] if STATE.received else None


def _interrupt(signum: int, _frame: Any) -> None:
    first = not STATE.received
    STATE.received.append(signum)
    if first:  # later signals must not break the cleanup the first one started
        raise Interrupted(signum, signal.Signals(signum).name)


def _record(signum: int, _frame: Any) -> None:
    STATE.received.append(signum)


def settle() -> None:
    """From here on (reporting, exiting) a signal is recorded but no longer interrupts."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _record)


def _watch(fd: int) -> None:
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        with STATE.lock:
            targets = list(STATE.cancellable)
        for cancel in targets:
            with contextlib.suppress(Exception):
                cancel()  # a backend's: safe from any thread


def _wakeup_fd() -> int:
    """The write end of the watcher's pipe: one pipe and one thread for the process's life."""
    if STATE.wakeup_fd is None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        threading.Thread(target=_watch, args=(read_fd,), name="signal-watch", daemon=True).start()
        STATE.wakeup_fd = write_fd
    return STATE.wakeup_fd


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Inside the block a stop signal interrupts the run; the handlers found are put back after.

    Only the main thread may handle signals: elsewhere (a test calling ``main()`` from a
    thread) the block runs without.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(_wakeup_fd(), warn_on_full_buffer=False)
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, _interrupt)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(previous_fd)


def refuse_after_signal(*_args: Any) -> None:
    """Before each statement: a signal raised inside code that swallows exceptions (a logging
    handler, say) must not let the run go on to its next statement."""
    if STATE.received:
        signum = STATE.received[0]
        raise Interrupted(signum, signal.Signals(signum).name)


@contextlib.contextmanager
def cancellable(cancel: Callable[[], object] | None) -> Iterator[None]:
    """While inside, a signal calls ``cancel`` (a backend's: stop the statement in flight)."""
    if cancel is None:
        yield
        return
    with STATE.lock:
        STATE.cancellable.add(cancel)
    try:
        yield
    except Interrupted:
        # A driver that reads in Python (PyMySQL) is interrupted in this thread at once, maybe
        # before the watcher thread has cancelled: cancel here too, before the connection is
        # closed (closing it does not stop the server's statement, which would run on).
        if getattr(cancel, "on_unwind", False):
            with contextlib.suppress(Exception):
                cancel()
        raise
    finally:
        with STATE.lock:
            STATE.cancellable.discard(cancel)
