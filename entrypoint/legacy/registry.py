"""Sealed legacy runtime: walk an app's own migration registry (MediaGoblin's core__migrations).

Runs under the legacy interpreter (SQLAlchemy 1.4 + sqlalchemy-migrate) and imports nothing from
the main package. Input: one JSON object on stdin (or a path to one as the only argument)::

    {"url": "postgresql://...",
     "registry": {"table": "core__migrations", "name_column": "name", "version_column": "version"},
     "steps": [{"component": "core", "name": "__main__", "module": "/abs/legacy/registry/core.py",
                "to": 44}, ...],
     "record": [{"component": "video", "name": "mediagoblin.media_types.video", "version": 3}]}

``module`` is a Python file exposing ``MIGRATIONS`` (number -> function(connection)), ``LOWEST``
(the oldest number a database may be at) and ``TOO_OLD_HINT``; its directory is put on
``sys.path`` so it can import its helpers. ``record`` inserts (or sets) rows for components whose
tables the parent created from the current models. Output, one JSON object per line on stdout:

    {"event": "legacy.applied", "component", "registry_name", "version", "name", "duration_s"}
    {"event": "legacy.recorded", "component", "registry_name", "version"}
    {"event": "legacy.refused", "component", "registry_name", "version", "lowest", "error", "hint"}
    {"event": "legacy.failed", "component", "registry_name", "version", "name", "error"}

Each migration and its row update run in one transaction (SQLite too: BEGIN is taken over from
pysqlite), so a failure leaves the database at the previous number. The child-lifetime keys of
the sealed runtime's shared ``lifetime.py`` (parent_pid, parent_fd, application_name,
connect_args, fence) ride in the same job. Exit 0 when every step reached its
target, 65 when the database's state is refused (no row, below the lowest supported number,
above the module's last), 70 when a migration failed, 128+N when stopped by signal N, 64 on bad
input.
"""

import importlib.util
import json
import os
import re
import sys
import time
import warnings

# The protocol owns the real stdout; stray prints from the libraries go to stderr.
PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
warnings.simplefilter("ignore")

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class Refused(Exception):
    pass


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out
from lifetime import Lifetime, Stopped  # noqa: E402  (parent death, pipe, fence, names)


def emit(**event):
    PROTOCOL.write(json.dumps(event) + "\n")


def make_engine(url, lifetime):
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, **lifetime.engine_options(url))
    lifetime.attach(engine)
    if engine.dialect.name == "sqlite":
        # pysqlite would commit before each DDL statement: take BEGIN over so a step is atomic.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # table rebuilds would trip them

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    return engine


def load_module(path, component):
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(f"gmg_registry_{component}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Registry:
    def __init__(self, spec):
        import sqlalchemy as sa

        names = [spec["table"], spec["name_column"], spec["version_column"]]
        bad = [n for n in names if not isinstance(n, str) or not IDENTIFIER.match(n)]
        if bad:
            raise ValueError(f"not an identifier: {bad!r}")
        schema, _, table = spec["table"].rpartition(".")
        self.table = sa.table(
            table,
            sa.column(spec["name_column"]),
            sa.column(spec["version_column"]),
            schema=schema or None,
        )
        self.name = self.table.c[spec["name_column"]]
        self.version = self.table.c[spec["version_column"]]

    def read(self, conn, name):
        import sqlalchemy as sa

        value = conn.execute(sa.select(self.version).where(self.name == name)).scalar()
        return None if value is None else int(value)

    def move(self, conn, name, before, after):
        moved = conn.execute(
            self.table.update()
            .where(self.name == name, self.version == before)
            .values({self.version.name: after})
        )
        if moved.rowcount != 1:
            raise RuntimeError(f"registry row {name!r} was not at {before} when moving to {after}")

    def record(self, conn, name, version):
        current = self.read(conn, name)
        if current is None:
            conn.execute(
                self.table.insert().values({self.name.name: name, self.version.name: version})
            )
        elif current != version:
            self.move(conn, name, current, version)


def walk(engine, registry, step, lifetime):
    component, name, target = step["component"], step["name"], int(step["to"])
    module = load_module(step["module"], component)
    migrations = module.MIGRATIONS
    lowest = int(getattr(module, "LOWEST", 0))
    with engine.connect() as probe:
        current = registry.read(probe, name)
    base = dict(component=component, registry_name=name)
    if current is None:
        raise Refused(dict(base, version=None, lowest=lowest, error="no registry row"))
    if current < lowest:
        raise Refused(
            dict(
                base,
                version=current,
                lowest=lowest,
                error=f"registry version {current} is older than the lowest supported ({lowest})",
                hint=getattr(module, "TOO_OLD_HINT", ""),
            )
        )
    last = max(migrations) if migrations else lowest
    if current > last or target > last:
        raise Refused(
            dict(
                base,
                version=current,
                lowest=lowest,
                error=f"registry version {max(current, target)} is beyond the last known ({last})",
            )
        )
    for version in range(current + 1, target + 1):
        function = migrations[version]
        started = time.monotonic()
        try:
            with engine.begin() as conn:  # the migration and its row update, atomically
                lifetime.enter(conn)
                function(conn)
                registry.move(conn, name, version - 1, version)
                lifetime.before_commit(conn)
        except Exception as exc:  # reported to the parent, which owns the exit code
            stop = exc if isinstance(exc, Stopped) else None
            if stop is None and lifetime.stopped is not None:  # a cancelled statement
                stop = Stopped(*lifetime.stopped)
            emit(
                event="legacy.failed",
                **base,
                version=version,
                name=function.__name__,
                error=str(stop) if stop else f"{type(exc).__name__}: {exc}".splitlines()[0],
                stopped=stop is not None,
                lock_lost=bool(stop and stop.lock_lost),
            )
            return stop.exit_code if stop else 70
        emit(
            event="legacy.applied",
            **base,
            version=version,
            name=function.__name__,
            duration_s=round(time.monotonic() - started, 3),
        )
    return 0


def main(argv):
    try:
        if len(argv) > 1:
            with open(argv[1], encoding="utf-8") as handle:
                raw = handle.read()
        else:
            raw = sys.stdin.read()
        job = json.loads(raw)
        url, steps = job["url"], job.get("steps", [])
        registry = Registry(job["registry"])
        records = job.get("record", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        emit(event="legacy.failed", error=f"bad input: {exc}")
        return 64
    # the bundle's helper packages (its manifest's pythonpath): -I left PYTHONPATH out
    sys.path[:0] = [p for p in job.get("pythonpath", ()) if p not in sys.path]
    lifetime = Lifetime(job)
    engine = make_engine(url, lifetime)
    try:
        for step in steps:
            if (code := walk(engine, registry, step, lifetime)) != 0:
                return code
        if records:
            with engine.begin() as conn:
                lifetime.enter(conn)
                for rec in records:
                    registry.record(conn, rec["name"], int(rec["version"]))
                lifetime.before_commit(conn)
            for rec in records:
                emit(
                    event="legacy.recorded",
                    component=rec.get("component"),
                    registry_name=rec["name"],
                    version=int(rec["version"]),
                )
    except Refused as refused:
        emit(event="legacy.refused", **refused.args[0])
        return 65
    except Stopped as exc:  # between migrations
        emit(event="legacy.failed", error=str(exc), stopped=True, lock_lost=exc.lock_lost)
        return exc.exit_code
    except Exception as exc:
        emit(event="legacy.failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        return 70
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
