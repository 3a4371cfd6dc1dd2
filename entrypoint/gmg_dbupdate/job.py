"""One run of a verb: its settings, the bundle, the enabled plugins and the backend, and the
steps every verb shares on the bare driver (announce, connect, read, judge)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import classify, interrupts
from .bundle import Bundle
from .config import Settings
from .logs import get_logger
from .wait import wait_for


def _refuse_unsupported_backend(bundle: Bundle, settings: Settings) -> None:
    """A bundle whose manifest lists its ``backends`` runs on those only (64, one line)."""
    supported = bundle.manifest.backends
    name = settings.url.backend
    if supported is not None and name not in supported:
        from .errors import BundleError

        raise BundleError(
            f"bundle {bundle.manifest.name!r} does not support {name}: its history runs on "
            f"{', '.join(supported)} only (manifest key backends)"
        )


@dataclass
class Job:
    """One run: its settings, the bundle, the enabled plugins and the backend."""

    settings: Settings
    bundle: Bundle
    enabled: tuple[str, ...]
    indexed: bool  # a current index stood in for the scripts and models
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def prepare(cls, settings: Settings) -> Job:
        """Everything that can be checked without a database: bundle, history, plugin names."""
        started = time.monotonic()
        bundle = Bundle.load(settings.bundle_dir)
        indexed = bundle.load_index()  # a current index stands in for the scripts and models
        enabled = bundle.resolve_plugins(settings.plugins, settings.app_plugins)
        bundle.check_handoff()  # also checks the history against the declared heads
        settings.backend  # noqa: B018 - an unsupported URL is refused before anything is logged
        _refuse_unsupported_backend(bundle, settings)
        return cls(settings, bundle, enabled, indexed, started)

    @property
    def backend(self):
        return self.settings.backend

    def announce(self, event: str = "dbupdate.start", **fields: Any) -> None:
        get_logger().info(
            event,
            url=self.settings.url.render(),
            bundle=str(self.bundle.root),
            plugins=list(self.enabled),
            wait_timeout_s=self.settings.wait_timeout,
            lock_timeout_s=self.settings.lock_timeout,
            **fields,
        )

    @contextlib.contextmanager
    def session(self, deadline_s: float | None = None) -> Iterator[Any]:
        """A bare connection, waited for (``db.ready``); a signal cancels its statement."""
        deadline_s = self.settings.wait_timeout if deadline_s is None else deadline_s
        connection, ready = wait_for(self.backend.connect, deadline_s)
        try:
            get_logger().info(
                "db.ready", **ready, server_version=self.backend.server_version(connection)
            )
            with interrupts.cancellable(self.backend.canceller(connection)):
                yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def read(self, connection: Any, fence=None) -> classify.DbState:
        """The state, in a transaction of its own (fenced: after a runner that lost the lock)."""
        try:
            if fence is not None:
                fence.enter(connection, self.settings.lock_timeout)
            return classify.inspect_state(self.backend, connection, self.bundle)
        finally:
            if fence is not None:
                fence.leave(connection)  # before converge's connections take it
            self.backend.end_read(connection)

    def pending(self, state: classify.DbState) -> list[dict]:
        get_logger().info("schema.classified", **state.summary())
        classify.refuse_unusable(state, self.bundle)
        classify.warn_disabled(state, self.bundle, self.enabled)
        return classify.pending(state, self.bundle, self.enabled)

    def is_current(self, state: classify.DbState) -> bool:
        """At every head and nothing left by an interrupted run (a SQLite snapshot)."""
        return (
            state.kind == classify.ALEMBIC
            and not classify.pending(state, self.bundle, self.enabled)
            and not self.backend.leftover()
        )

    def current(self, state: classify.DbState) -> dict:
        """Report a current schema: ``schema.classified`` and the ``dbupdate.done`` fields."""
        self.pending(state)
        return {
            **classify.outcome(),
            "current": True,
            "pending": [],
            "fast_path": self.indexed,  # nothing loaded but the bare driver and the index
            "duration_s": self.elapsed(),
        }

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)
