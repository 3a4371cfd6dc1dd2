"""Sealed legacy runtime: walk sqlalchemy-migrate repositories up to their handoff versions.

Runs under its own interpreter (SQLAlchemy 1.4 + sqlalchemy-migrate) and imports nothing from
the main package. Input: one JSON object on stdin
    {"url": ..., "steps": [{"component": ..., "repository": PATH, "initial": N, "to": N}, ...]}
``pythonpath`` (optional): folders put first on sys.path, so scripts import the bundle's helpers.
A repository not yet under control (one of a component's several, the others walked already)
is put under control at ``initial`` first, as its app did when it first walked it.
Output: one JSON object per line on stdout, the protocol the parent re-emits:
    {"event": "legacy.applied", "repository", "component", "version", "script", "duration_s"}
    {"event": "legacy.failed", "component", "version", "script", "error"}
Anything the libraries print goes to stderr, which the parent logs as ``legacy.log`` lines.
Each script and its version bump run in one transaction (on SQLite too: BEGIN is taken over
from pysqlite), so a failed script leaves the database at the previous version. Exit 0 when
every step reached its target, 70 when a script failed, 64 on bad input, 128 + N when stopped
by signal N or by the parent's death (see ``lifetime.py``; its keys ride in the same job).
"""

import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out
from lifetime import Lifetime, Stopped  # noqa: E402

# The protocol owns the real stdout; stray prints from the libraries go to stderr.
PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
warnings.simplefilter("ignore")  # pkg_resources and SQLAlchemy 2.0-style deprecation noise


def emit(**event):
    PROTOCOL.write(json.dumps(event) + "\n")


def make_engine(url, lifetime):
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, **lifetime.engine_options(url))
    lifetime.attach(engine)
    if engine.dialect.name == "sqlite":
        # pysqlite would commit before each DDL statement: take BEGIN over so a script is atomic.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # table rebuilds would trip them

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    return engine


def one_transaction(connection):
    """An Engine, as sqlalchemy-migrate always handed scripts one, whose every connection is
    ``connection`` itself (a branch of it): whatever the script runs, through the engine,
    ``MetaData(bind=...)``, ``create_column`` (Python-side defaults included) or a
    ``connect()``/``begin()`` of its own, joins the one transaction the runner commits with the
    version bump, or rolls back with it."""
    from sqlalchemy.engine.base import OptionEngine

    class OneTransactionEngine(OptionEngine):
        def connect(self, close_with_result=False):
            return connection.connect()  # a branch: closing it leaves the transaction open

        def raw_connection(self, _connection=None):
            raise RuntimeError("legacy scripts run inside the runner's transaction: no raw DBAPI")

    return OneTransactionEngine(connection.engine, {})


def walk(engine, step, lifetime):
    from migrate.exceptions import DatabaseNotControlledError
    from migrate.versioning.schema import ControlledSchema

    repository, target = step["repository"], int(step["to"])
    try:
        with engine.connect() as probe:
            current = int(ControlledSchema(probe, repository).version)
    except DatabaseNotControlledError:  # one of several repositories, never walked yet
        current = int(step.get("initial", 0))
        with engine.begin() as connection:
            lifetime.enter(connection)
            ControlledSchema.create(one_transaction(connection), repository, current)
            lifetime.before_commit(connection)
    for version in range(current + 1, target + 1):
        started = time.monotonic()
        script = None
        try:
            with engine.begin() as connection:  # the script and its version bump, atomically
                lifetime.enter(connection)
                schema = ControlledSchema(one_transaction(connection), repository)
                changeset = schema.changeset(version)
                for ver, change in changeset:
                    script = getattr(change, "path", None)
                    schema.runchange(ver, change, changeset.step)
                lifetime.before_commit(connection)
        except Exception as exc:  # reported to the parent, which owns the exit code
            stop = exc if isinstance(exc, Stopped) else None
            if stop is None and lifetime.stopped is not None:  # a cancelled statement
                stop = Stopped(*lifetime.stopped)
            emit(
                event="legacy.failed",
                component=step["component"],
                version=version,
                script=script,
                error=str(stop) if stop else f"{type(exc).__name__}: {exc}".splitlines()[0],
                stopped=stop is not None,
                lock_lost=bool(stop and stop.lock_lost),
            )
            return stop.exit_code if stop else 70
        emit(
            event="legacy.applied",
            component=step["component"],
            repository=repository,
            version=version,
            script=script and os.path.basename(script),
            duration_s=round(time.monotonic() - started, 3),
        )
    return 0


def main():
    try:
        job = json.loads(sys.stdin.read())
        url, steps = job["url"], job["steps"]
    except (ValueError, KeyError) as exc:
        emit(event="legacy.failed", error=f"bad input: {exc}")
        return 64
    # the bundle's helper packages (its manifest's pythonpath): -I left PYTHONPATH out
    sys.path[:0] = [p for p in job.get("pythonpath", ()) if p not in sys.path]
    lifetime = Lifetime(job)
    engine = make_engine(url, lifetime)
    try:
        for step in steps:
            if (code := walk(engine, step, lifetime)) != 0:
                return code
    except Stopped as exc:  # between scripts
        emit(event="legacy.failed", error=str(exc), stopped=True, lock_lost=exc.lock_lost)
        return exc.exit_code
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
