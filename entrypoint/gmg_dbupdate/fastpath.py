"""The light path: what most starts need, without SQLAlchemy, Alembic or structlog.

The bundle's index (verified against every file of the bundle by its fingerprint) stands in for
the revision scripts and models, the bare driver reads the version rows, and the same
``classify.decide`` as the full path judges them. A run that finds the schema current ends here.

On PostgreSQL, ``gmg dbupdate`` goes further: a runner that finds the schema behind takes (or
waits for) the lock on its bare connection, reads again, and only then loads the full path,
handing it the lock it holds. Of many replicas started at once, only the one that migrates pays
for the migration machinery; the others wait cheaply, at a lower CPU priority so that the one
doing the work gets the machine, and then find the schema current.

Anything unusual or doubtful (no index, a URL this module does not read, a read that fails)
goes to the full path, which decides and reports properly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from . import classify
from .bundle import Bundle
from .config import SECRET_PARAMS, Settings
from .db import pg_connect_args, runner_name
from .errors import Interrupted
from .facts import VersionFacts, checked
from .logs import add_secret, get_logger, scrub
from .snapshot import snapshot_path

_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")
_NICE_WHILE_WAITING = 19  # the lowest priority: a waiting runner takes only idle CPU


class Light:
    """A run on the light path: the bundle's index and a bare driver connection."""

    def __init__(self, settings: Settings, bundle: Bundle, enabled: tuple[str, ...], target):
        self.settings = settings
        self.bundle = bundle
        self.enabled = enabled
        self.backend, self._target = target
        self.started = time.monotonic()
        self._connection = None
        self.fence = None  # set once this run holds the lock (PostgreSQL)

    @classmethod
    def open(cls, settings: Settings) -> Light | None:
        """None if this run needs the full path from the start (nothing is logged then)."""
        try:
            bundle = Bundle.load(settings.bundle_dir)
            if not bundle.load_index():
                return None
            enabled = bundle.resolve_plugins(settings.plugins, settings.app_plugins)
            target = _target(settings)
        except Interrupted:
            raise
        except Exception:  # the full path reports errors properly
            return None
        return None if target is None else cls(settings, bundle, enabled, target)

    def __enter__(self) -> Light:
        return self

    def __exit__(self, *_exc) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()  # ends the session: frees a lock it still holds
            self._connection = None

    # --- the steps ----------------------------------------------------------------------

    def announce(self) -> None:
        get_logger().info(
            "dbupdate.start",
            url=scrub(self.settings.url_text),
            bundle=str(self.bundle.root),
            plugins=list(self.enabled),
            wait_timeout_s=self.settings.wait_timeout,
            lock_timeout_s=self.settings.lock_timeout,
        )

    def connect(self) -> dict:
        """Open the bare PostgreSQL connection, waiting for the server; ``db.ready`` fields."""
        from .wait import wait_for

        self._connection, ready = wait_for(self._pg_connect, self.settings.wait_timeout)
        v = self._connection.server_version  # 150020 → 15.20; 90624 → 9.6.24
        version = (
            f"{v // 10000}.{v % 10000}"
            if v >= 100000
            else f"{v // 10000}.{v // 100 % 100}.{v % 100}"
        )
        return {**ready, "server_version": version}

    def _pg_connect(self):
        import psycopg2

        return psycopg2.connect(**self._target)

    def read(self) -> classify.DbState | None:
        """What the database holds, or None if the bare read could not tell."""
        try:
            if self.backend == "sqlite":
                facts = _read_sqlite(self._target, self.bundle)
            else:
                facts = _read_pg(self._connection, self.bundle)
        except Interrupted:
            raise
        except Exception:
            if self._connection is not None:  # leave no failed transaction behind
                with contextlib.suppress(Exception):
                    self._connection.rollback()
            return None
        return None if facts is None else classify.decide(self.bundle, facts)

    def is_current(self, state: classify.DbState | None) -> bool:
        if state is None or state.kind != classify.ALEMBIC:
            return False
        if classify.pending(state, self.bundle, self.enabled):
            return False
        # A run killed mid-way on SQLite leaves a snapshot that the full path must restore.
        return self.backend != "sqlite" or not snapshot_path(self._target).exists()

    def finish(self, state: classify.DbState) -> dict:
        """Report a current schema: ``schema.classified`` and the ``dbupdate.done`` fields."""
        get_logger().info("schema.classified", **state.summary())
        classify.warn_disabled(state, self.bundle, self.enabled)
        return {
            **classify.outcome(),
            "current": True,
            "pending": [],
            "fast_path": True,
            "duration_s": round(time.monotonic() - self.started, 3),
        }

    def lock(self):
        from .lock import PostgresLock, lock_key

        return PostgresLock(
            self._connection, lock_key(self.bundle.name, str(self.bundle.version_table))
        )


def run(settings: Settings) -> dict | None:
    """``gmg dbupdate`` on the light path; None if the full path must do the whole run."""
    light = Light.open(settings)
    if light is None:
        return None
    if light.backend != "postgresql":  # SQLite: a look at the file, then the full path
        return _one_look(light)
    from .lock import holding, wait_for

    log = get_logger()
    with light:
        light.announce()
        log.info("db.ready", **light.connect())
        state = light.read()
        if light.is_current(state):
            return light.finish(state)
        lock = light.lock()
        waited = None
        priority = os.getpriority(os.PRIO_PROCESS, 0)
        if not lock.try_acquire():
            with contextlib.suppress(OSError):
                os.nice(_NICE_WHILE_WAITING)  # the holder is migrating: let it have the CPU
            waited = wait_for(lock, settings.lock_timeout)
        with holding(lock, settings.lock_timeout, waited=waited or 0.0):
            state = light.read()  # classification is always re-done under the lock
            if light.is_current(state):
                return light.finish(state)
            _restore_priority(priority)  # this runner migrates after all (the holder failed)
            light.fence = lock.fence()
            from .pipeline import run as full_run

            settings.check_url()
            return full_run(settings, light=light)


def _restore_priority(priority: int) -> None:
    """Back to the priority the run started with, where the system allows raising it."""
    if os.getpriority(os.PRIO_PROCESS, 0) == priority:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, priority)
    except OSError:  # an unprivileged process may not (RLIMIT_NICE): say so
        get_logger().warning(
            "lock.priority",
            nice=os.getpriority(os.PRIO_PROCESS, 0),
            reason="waited at a lower CPU priority and cannot raise it back; migrating anyway",
        )


def try_current(settings: Settings) -> dict | None:
    """``dbupdate.done`` fields if the schema is provably current after one look, else None.

    For ``--check``, ``dbcheck`` and SQLite: one connection attempt and no lock; the start
    events are logged only when the answer is yes (otherwise the full path logs its own).
    """
    light = Light.open(settings)
    return None if light is None else _one_look(light)


def _one_look(light: Light) -> dict | None:
    with light:
        try:
            if light.backend == "postgresql":
                light._connection = light._pg_connect()
                light._connection.set_session(readonly=True)
        except Interrupted:
            raise
        except Exception:
            return None
        state = light.read()
        if not light.is_current(state):
            return None
        log = get_logger()
        log.info(
            "dbupdate.start",
            url=scrub(light.settings.url_text),
            plugins=list(light.enabled),
        )
        log.info("db.ready", attempts=1, fast_path=True)
        return light.finish(state)


def _target(settings: Settings) -> tuple[str, object] | None:
    """("postgresql", psycopg2 connect arguments) or ("sqlite", path); None: not read here."""
    text = settings.url_text.strip()
    if text.startswith("sqlite:"):
        if "?" in text or "%" in text or not text.startswith("sqlite:///"):
            return None
        path = text.removeprefix("sqlite:///")
        return ("sqlite", Path(path)) if path and path != ":memory:" else None
    parts = urlsplit(text)
    if parts.netloc.count("@") > 1:  # read differently by urlsplit and SQLAlchemy: full path
        return None
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in _PG_SCHEMES or not database or "/" in database:
        return None
    password = settings.password_override
    if password is None and parts.password is not None:
        password = unquote(parts.password)
    add_secret(password)
    query = dict(parse_qsl(parts.query))
    for key in SECRET_PARAMS:
        add_secret(query.get(key))
    params = {
        "host": parts.hostname,
        "port": parts.port,
        "user": unquote(parts.username) if parts.username else None,
        "password": password,
        "dbname": database,
        **query,
        **pg_connect_args(min(10, settings.wait_timeout)),
    }
    params["application_name"] = runner_name()
    return "postgresql", {k: v for k, v in params.items() if v is not None}


def _read_pg(connection, bundle: Bundle) -> VersionFacts | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        )
        facts = _facts(cursor, {r[0] for r in cursor.fetchall()}, bundle, "postgresql")
    if not connection.autocommit:
        connection.rollback()
    return facts


def _read_sqlite(path: Path, bundle: Bundle) -> VersionFacts | None:
    import sqlite3
    from urllib.parse import quote

    if not path.is_file():
        return None
    connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        cursor = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' "
            "ESCAPE '~'"
        )
        return _facts(connection.cursor(), {r[0] for r in cursor.fetchall()}, bundle, "sqlite")
    finally:
        connection.close()


def _facts(cursor, tables: set[str], bundle: Bundle, dialect: str) -> VersionFacts | None:
    """The version rows, read with the identifiers as the dialect quotes them (index)."""
    if any(t.schema for t in (bundle.version_table, bundle.legacy_version_table)):
        return None  # a schema-qualified version table: the full path reads it
    quoted = bundle.quoted[dialect]
    rows: list[str] = []
    legacy: list = []
    if bundle.version_table.name in tables:
        cursor.execute(f"SELECT version_num FROM {quoted['version_table']}")
        rows = [r[0] for r in cursor.fetchall()]
    if bundle.legacy_version_table.name in tables and bundle.legacy_components:
        cursor.execute(f"SELECT repository_id, version FROM {quoted['legacy_version_table']}")
        legacy = [tuple(r) for r in cursor.fetchall()]
    registry_rows: list = []
    spec = bundle.manifest.legacy_registry
    if spec is not None and spec.table.name in tables:  # MediaGoblin's core__migrations
        if spec.table.schema or "registry_table" not in quoted:
            return None  # schema-qualified, or an index written before the registry: full path
        cursor.execute(
            f"SELECT {quoted['registry_name_column']}, {quoted['registry_version_column']} "
            f"FROM {quoted['registry_table']}"
        )
        registry_rows = [tuple(r) for r in cursor.fetchall()]
        if any(not isinstance(n, str) or type(v) is not int for n, v in registry_rows):
            return None  # malformed: the full path refuses it with its message
    facts = checked(bundle.manifest, frozenset(tables), rows, legacy)
    return dataclasses.replace(facts, registry=tuple(registry_rows))
