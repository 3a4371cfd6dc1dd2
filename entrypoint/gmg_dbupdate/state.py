"""What the process keeps between one event and the next, in one object.

``cli.main`` starts every run with ``reset()``: logging as by default, no secrets, no signal
received, no statement to cancel. A test may call ``reset()`` too. What a process makes once and
keeps for its life (the signal watcher's pipe and thread, structlog once it is loaded) survives a
reset.
"""

from __future__ import annotations

import threading
from typing import Any


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards ``cancellable``: the signal watcher reads it
        self.wakeup_fd: int | None = None  # the signal watcher's pipe, once it runs
        self.structlog_loaded = False  # once loaded, structlog renders every later run
        self.reset()

    def reset(self) -> None:
        self.log_format = "json"
        self.log_level = "info"
        self.secrets: set[str] = set()  # masked as *** wherever they appear
        self.logger: Any = None  # structlog's logger, once rendering is handed to it
        self.log_handler: Any = None  # the stdlib handler routing Alembic's records to it
        self.received: list[int] = []  # stop signals, in order of arrival
        with self.lock:
            self.cancellable: set[Any] = set()  # DB-API connections a stop signal cancels


STATE = State()


def reset() -> None:
    """Forget the last run: its logging choice, secrets, signals and connections."""
    if STATE.log_handler is not None:
        import logging

        logging.getLogger().removeHandler(STATE.log_handler)
    STATE.reset()
