"""SQLite safety net: a consistent copy of the file before any change, restored on failure.

A run killed outright (SIGKILL, OOM) leaves the copy behind; the next run restores it first.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from .logs import get_logger


def snapshot_path(database: Path) -> Path:
    return database.with_name(database.name + ".gmg-snapshot")


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even of a file in use."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def restore_leftover(database: Path) -> bool:
    """A snapshot still present means an earlier run died mid-change: put it back."""
    snap = snapshot_path(database)
    if not snap.exists():
        return False
    _copy(snap, database)
    snap.unlink()
    get_logger().warning("sqlite.restored", snapshot=str(snap), reason="left by an interrupted run")
    return True


@contextlib.contextmanager
def guarded(database: Path) -> Iterator[None]:
    """Snapshot ``database``; restore it if the block fails, drop the snapshot if it succeeds."""
    log = get_logger()
    snap = snapshot_path(database)
    partial = snap.with_name(snap.name + ".partial")
    _copy(database, partial)
    os.replace(partial, snap)  # only a complete snapshot ever carries the final name
    log.info("sqlite.snapshot", snapshot=str(snap))
    try:
        yield
    except BaseException as exc:
        _copy(snap, database)
        snap.unlink()
        log.warning("sqlite.restored", snapshot=str(snap), reason=type(exc).__name__)
        raise
    snap.unlink()
