"""The init job: wait for the database, lock, classify, bootstrap or upgrade, report."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from . import classify, interrupts, registry, snapshot
from .bootstrap import install
from .bundle import Bundle
from .config import Settings, render_url
from .db import make_engine
from .lock import Fence, file_lock, lock_key, postgres_lock
from .logs import activate, get_logger
from .retired import retire
from .upgrade import upgrade
from .wait import wait_for_database

if TYPE_CHECKING:
    from .fastpath import Light

activate()  # from here on structlog renders every event, Alembic's log records included


def prepare(settings: Settings) -> tuple[Bundle, tuple[str, ...]]:
    """Everything that can be checked without a database: bundle, history, plugin names."""
    bundle = Bundle.load(settings.bundle_dir)
    enabled = bundle.resolve_plugins(settings.plugins, settings.app_plugins)
    bundle.check_handoff()  # also reads and checks the history against the declared heads
    return bundle, enabled


def connect(settings: Settings) -> Engine:
    engine = make_engine(settings.url, connect_timeout=min(10, settings.wait_timeout))
    ready = wait_for_database(engine, settings.wait_timeout)
    get_logger().info("db.ready", **ready)
    return engine


@contextlib.contextmanager
def exclusive(engine: Engine, settings: Settings, bundle: Bundle) -> Iterator[Fence | None]:
    """Hold the lock; yields the fence every transaction takes (PostgreSQL), else None."""
    if settings.backend == "postgresql":
        with postgres_lock(
            engine, lock_key(bundle.name, str(bundle.version_table)), settings.lock_timeout
        ) as fence:
            yield fence
    elif (database := _sqlite_file(settings)) is None:
        yield None  # a private in-memory database has nobody to race with
    else:
        with file_lock(Path(f"{database}.lock"), settings.lock_timeout):
            yield None


def run(settings: Settings, light: Light | None = None) -> dict:
    """``gmg dbupdate``: returns the ``dbupdate.done`` fields.

    ``light``: the light path has already announced the run, connected and taken the lock.
    """
    log = get_logger()
    started = light.started if light else time.monotonic()
    if light is None:
        bundle, enabled = prepare(settings)
    else:  # its index already stands for the history and the models' tables
        bundle, enabled = light.bundle, light.enabled
        bundle.check_handoff()
    if light is None:
        log.info(
            "dbupdate.start",
            url=render_url(settings.url),
            bundle=str(bundle.root),
            plugins=list(enabled),
            wait_timeout_s=settings.wait_timeout,
            lock_timeout_s=settings.lock_timeout,
        )
        engine = connect(settings)
    else:
        engine = make_engine(settings.url, connect_timeout=min(10, settings.wait_timeout))
    try:
        held = contextlib.nullcontext(light.fence) if light else exclusive(engine, settings, bundle)
        with held as fence:
            database = _sqlite_file(settings)
            if database is not None:
                snapshot.restore_leftover(database)
            with (
                engine.connect() as connection,
                interrupts.cancellable(connection.connection.dbapi_connection),
                connection.begin(),
            ):
                _fenced(connection, fence, settings)
                state = classify.inspect_state(connection, bundle)
                log.info("schema.classified", **state.summary())
                classify.refuse_unusable(state, bundle)
            classify.warn_disabled(state, bundle, enabled)
            walked: list[str] = []
            handed_over: list[str] = []
            bootstrapped: list[str] = []
            applied: list[str] = []
            retired: list[str] = []
            if classify.pending(state, bundle, enabled):
                with (
                    engine.connect() as connection,
                    interrupts.cancellable(connection.connection.dbapi_connection),
                ):
                    # The legacy runtime uses its own connection; ours holds no transaction.
                    walked = _walk_legacy(settings, bundle, state, enabled, fence)
                    with connection.begin():  # the Alembic phase: one transaction
                        _fenced(connection, fence, settings)
                        if state.legacy:
                            state, handed_over = _hand_over(connection, bundle, enabled)
                        if state.retired:  # before Alembic reads the version table
                            retired = retire(connection, bundle)
                        bootstrapped, applied = _converge(connection, bundle, state, enabled)
                        if fence is not None:
                            fence.confirm(connection)  # never commit without the lock
    finally:
        engine.dispose()
    return {
        **classify.outcome(applied, walked, handed_over, bootstrapped, retired),
        "duration_s": round(time.monotonic() - started, 3),
    }


def _fenced(connection, fence: Fence | None, settings: Settings) -> None:
    """Wait out a runner that lost the lock, then make sure it is still ours (PostgreSQL)."""
    if fence is not None:
        fence.enter(connection, settings.lock_timeout)


def _sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file, if there is one (not PostgreSQL, not in-memory)."""
    database = settings.url.database
    if settings.backend != "sqlite" or database in (None, "", ":memory:"):
        return None
    return Path(database)


def _walk_legacy(settings: Settings, bundle: Bundle, state, enabled, fence) -> list[str]:
    """Run the legacy scripts of core and enabled plugins up to their handoff versions."""
    steps, registry_steps = [], []
    for name, version in state.legacy.items():
        repo = registry.legacy_side(bundle, name)
        if (name == bundle.core.name or name in enabled) and version < repo.target(version):
            if bundle.component(name).legacy is None:
                registry_steps.append(registry.step(name, repo, version))
            else:
                steps.extend(repo.steps(name, version))  # one per repository, in order
    if not steps and not registry_steps:
        return []
    from .legacy import run_legacy
    from .registry import RUNNER as REGISTRY_RUNNER

    # SQLite: the only phase that commits more than once is covered by a snapshot.
    database = _sqlite_file(settings)
    done: list[dict] = []
    with snapshot.guarded(database) if database else contextlib.nullcontext(None) as committed:
        if registry_steps:
            extra = registry.job(bundle.manifest, registry_steps)
            done += run_legacy(settings, [], fence, committed, REGISTRY_RUNNER, extra)
        if steps:
            extra = {"pythonpath": [str(p) for p in bundle.manifest.pythonpath]}
            done += run_legacy(settings, steps, fence, on_applied=committed, extra=extra)
    several = {c.name for c in bundle.legacy_components if len(c.legacy.repositories) > 1}
    return [  # "core:9"; "core:expand_repo:74" for a component of several repositories
        ":".join([e["component"], *([Path(e["repository"]).name] * (e["component"] in several))])
        + f":{e['version']}"
        for e in done
    ]


def _hand_over(connection, bundle: Bundle, enabled) -> tuple[classify.DbState, list[str]]:
    """Stamp the Alembic revision each legacy component's handoff version equals."""
    from alembic import command

    log = get_logger()
    state = classify.inspect_state(connection, bundle)  # re-read: the legacy phase moved it
    classify.refuse_unusable(state, bundle)
    stamps, names = [], []
    for name, version in state.legacy.items():
        if name == bundle.core.name or name in enabled:
            revision = registry.legacy_side(bundle, name).handoff[version]
            stamps.append(revision)
            names.append(name)
            log.info("legacy.handoff", component=name, legacy_version=version, revision=revision)
    # A revision another stamp depends on is implied by it (Alembic refuses the overlap).
    implied = {r for other in stamps for r in bundle.branches.applied([other]) if r != other}
    stamps = [r for r in stamps if r not in implied]
    if stamps:
        command.stamp(bundle.alembic_config(connection=connection), stamps)
    return classify.inspect_state(connection, bundle), names


def _converge(connection, bundle: Bundle, state, enabled) -> tuple[list[str], list[str]]:
    if state.kind == classify.FRESH:
        components = [bundle.core, *(bundle.plugins[n] for n in enabled)]
        install(connection, bundle, components, enabled)
        return [c.name for c in components], []

    behind = [
        name
        for name in [bundle.core.name, *enabled]
        if state.installed(name) and not bundle.branches.at_heads(name, state.versions[name])
    ]
    applied = upgrade(connection, bundle, behind) if behind else []
    missing = [
        bundle.plugins[n] for n in enabled if not state.installed(n) and n not in state.legacy
    ]
    if missing:
        install(connection, bundle, missing, enabled)
        registry.record_installed(connection, bundle.manifest, missing)
    return [c.name for c in missing], applied


def check(settings: Settings) -> dict:
    """``gmg dbupdate --check``: read-only, no lock; what would change."""
    started = time.monotonic()
    bundle, enabled = prepare(settings)
    get_logger().info(
        "dbupdate.start", url=render_url(settings.url), check=True, plugins=list(enabled)
    )
    return {**_pending(settings, bundle, enabled), "duration_s": _since(started)}


def _pending(settings: Settings, bundle: Bundle, enabled: tuple[str, ...]) -> dict:
    database = _sqlite_file(settings)
    if database is not None and not database.exists():
        state = classify.DbState(kind=classify.FRESH)  # opening it would create it
    else:
        engine = connect(settings)
        try:
            with engine.connect() as connection:
                state = classify.inspect_state(connection, bundle)
                connection.rollback()
        finally:
            engine.dispose()
    get_logger().info("schema.classified", **state.summary())
    classify.refuse_unusable(state, bundle)
    todo = classify.pending(state, bundle, enabled)
    return {**classify.outcome(), "current": not todo, "pending": todo}


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def verify(settings: Settings) -> dict:
    """``gmg dbverify``: read-only comparison of the live schema with the models."""
    from .verify import diff

    log = get_logger()
    started = time.monotonic()
    bundle, enabled = prepare(settings)
    log.info("dbverify.start", url=render_url(settings.url), plugins=list(enabled))
    engine = connect(settings)
    try:
        with engine.connect() as connection:
            result = diff(connection, bundle, enabled)
            connection.rollback()
    finally:
        engine.dispose()
    return {**result, "duration_s": _since(started)}


def wait_until_current(settings: Settings, interval_s: float = 2.0) -> dict:
    """``gmg dbcheck --wait``: poll read-only until nothing is pending; 69 at the deadline."""
    import tenacity

    from .errors import DatabaseUnavailable

    log = get_logger()
    started = time.monotonic()
    seen: dict = {}

    def not_current(result: dict) -> bool:
        return not result["current"]

    def note(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        pending = None if outcome.failed else outcome.result()["pending"]
        error = str(outcome.exception()) if outcome.failed else None
        if (pending, error) != (seen.get("pending"), seen.get("error")):
            log.info(
                "dbcheck.waiting",
                pending=pending,
                error=error,
                waited_s=round(time.monotonic() - started, 3),
            )
            seen.update(pending=pending, error=error)

    bundle, enabled = prepare(settings)
    log.info("dbupdate.start", url=render_url(settings.url), wait=True, plugins=list(enabled))

    def attempt() -> dict:
        remaining = max(1.0, settings.wait_timeout - (time.monotonic() - started))
        return _pending(replace(settings, wait_timeout=remaining), bundle, enabled)

    policy = tenacity.Retrying(
        stop=tenacity.stop_after_delay(settings.wait_timeout),
        wait=tenacity.wait_fixed(interval_s),
        retry=tenacity.retry_if_result(not_current)
        | tenacity.retry_if_exception_type(DatabaseUnavailable),
        before_sleep=note,
    )
    try:
        result = policy(attempt)
    except tenacity.RetryError as exc:
        last = exc.last_attempt
        pending = None if last.failed else last.result()["pending"]
        raise DatabaseUnavailable(
            f"schema not current after {settings.wait_timeout:g}s",
            pending=pending,
        ) from None
    return {**result, "duration_s": _since(started)}
