"""SQLite safety net for the legacy phase, the one phase that is not a single transaction.

The Alembic phase needs no copy: it is one transaction (BEGIN is taken over from pysqlite), and
a run killed inside it leaves a hot journal that SQLite rolls back when the file is next
opened. The legacy runtime commits script by script; before it starts, a consistent copy of the
file is taken (``DB.gmg-snapshot``), put back if the phase fails, deleted if it succeeds.

A copy is never put back over writes made after it was taken. Beside it, ``DB.gmg-snapshot.json``
names the run that took it and records the database as that run last left it (SQLite's file
change counter, size, SHA-256), renewed after each legacy script the run saw committed. A copy
is restored only while the database is still exactly that. Otherwise (the app wrote since, or
the run died between a commit and its record) the database, consistent by SQLite's own journal
at its last committed script, is kept, and the copy is set aside as ``DB.gmg-snapshot.discarded``
with a warning; a rerun continues from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .backends import runner_name
from .errors import MigrationFailed
from .logs import get_logger

_BUSY_MS = 30000


def snapshot_path(database: Path) -> Path:
    return database.with_name(database.name + ".gmg-snapshot")


def _record_path(database: Path) -> Path:
    return database.with_name(database.name + ".gmg-snapshot.json")


def _discarded_path(database: Path) -> Path:
    return database.with_name(database.name + ".gmg-snapshot.discarded")


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even of a file in use."""
    src = sqlite3.connect(source, timeout=_BUSY_MS / 1000)
    dst = sqlite3.connect(target, timeout=_BUSY_MS / 1000)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def fingerprint(database: Path) -> dict:
    """The database's committed content, read under a shared lock so no commit tears it.

    Opening it first rolls back a hot journal and checkpoints a WAL, so the main file alone
    holds every committed transaction.
    """
    connection = sqlite3.connect(database, timeout=_BUSY_MS / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes SHARED
        digest = hashlib.sha256()
        with open(database, "rb") as fh:
            header = fh.read(100)
            digest.update(header)
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return {
        "change_counter": int.from_bytes(header[24:28], "big") if len(header) >= 28 else 0,
        "size": database.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def _write_record(database: Path, record: dict) -> None:
    path = _record_path(database)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record), encoding="utf-8")
    os.replace(partial, path)


def _read_record(database: Path) -> dict | None:
    try:
        record = json.loads(_record_path(database).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "database" in record else None


def _forget(database: Path) -> None:
    for path in (snapshot_path(database), _record_path(database)):
        path.unlink(missing_ok=True)


def _put_back_if_untouched(database: Path, reason: str) -> bool:
    """Restore the snapshot if the database is as the run that took it last left it; else
    set the snapshot aside. True if restored."""
    log = get_logger()
    snap = snapshot_path(database)
    record = _read_record(database)
    now = fingerprint(database)
    if record is None or record["database"] != now:
        aside = _discarded_path(database)
        os.replace(snap, aside)
        _record_path(database).unlink(missing_ok=True)
        log.warning(
            "sqlite.snapshot.discarded",
            snapshot=str(aside),
            database=str(database),
            reason="no record of the database as the run left it"
            if record is None
            else "the database changed after the run that took the snapshot last wrote; "
            "kept as it is (consistent at its last committed script), the snapshot set aside",
            run=record and record.get("run"),
            recorded=record and record.get("database"),
            found=now,
        )
        return False
    try:
        _copy(snap, database)
    except (OSError, sqlite3.Error) as exc:
        # Both files stay: the database is unchanged (the copy is one transaction), so a
        # later run finds it still as recorded and tries again.
        raise MigrationFailed(
            f"cannot restore the SQLite snapshot {snap} over {database}: {exc}; both are kept "
            "and the next run restores it while the database stays unchanged",
            snapshot=str(snap),
        ) from exc
    _forget(database)
    log.warning("sqlite.restored", snapshot=str(snap), reason=reason, run=record.get("run"))
    return True


def restore_leftover(database: Path) -> bool:
    """A snapshot still present means an earlier run died in its legacy phase."""
    if not snapshot_path(database).exists():
        _record_path(database).unlink(missing_ok=True)  # died before the snapshot was complete
        return False
    return _put_back_if_untouched(database, "left by an interrupted run")


@contextlib.contextmanager
def guarded(database: Path) -> Iterator[Callable[[object], None]]:
    """Snapshot ``database`` around the block, which calls the yielded function after each
    commit it makes. Put back if the block fails (and nothing else wrote), dropped if it
    succeeds."""
    log = get_logger()
    snap = snapshot_path(database)
    partial = snap.with_name(snap.name + ".partial")
    record = {
        "run": runner_name(),
        "pid": os.getpid(),
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": fingerprint(database),
    }
    _copy(database, partial)
    _write_record(database, record)
    os.replace(partial, snap)  # only a complete snapshot, with its record, carries the name
    log.info("sqlite.snapshot", snapshot=str(snap), run=record["run"])

    def committed(_event: object = None) -> None:
        _write_record(database, {**record, "database": fingerprint(database)})

    try:
        yield committed
    except BaseException as exc:
        _put_back_if_untouched(database, type(exc).__name__)
        raise
    _forget(database)
