"""Engines for the two supported backends, configured for migrations."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL


def runner_name() -> str:
    """How this runner appears in pg_stat_activity.application_name and in lock files."""
    return f"gmg-dbupdate:{socket.gethostname()}:{os.getpid()}"[:63]


def pg_connect_args(connect_timeout: float) -> dict:
    """psycopg2 connection arguments of every runner connection, the bare ones included."""
    return {
        "application_name": runner_name(),
        "connect_timeout": max(1, int(connect_timeout)),
        # Keepalives both ways: this runner notices a vanished server, and the server notices a
        # vanished runner within ~25 s instead of the kernel's two hours, ending its session
        # and so freeing the advisory lock it held.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
        "-c tcp_keepalives_count=3",
    }


def make_engine(url: str | URL, *, connect_timeout: float = 10) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from .interrupts import refuse_after_signal

    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, poolclass=NullPool)
        _make_sqlite_transactional(engine)
    else:
        engine = create_engine(
            url, poolclass=NullPool, connect_args=pg_connect_args(connect_timeout)
        )
        _drop_orphaned_work(engine)
    event.listen(engine, "before_cursor_execute", refuse_after_signal)
    return engine


def _drop_orphaned_work(engine: Engine) -> None:
    """If this runner dies mid-statement, the server aborts the statement within seconds
    (PostgreSQL ≥ 14) instead of running it, locks held, to completion. And a connection
    that waits idle for a phase to end (the legacy runtime's) is not ended by a DBA's idle
    timeouts."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        if dbapi_connection.server_version >= 140000:
            dbapi_connection.autocommit = True  # a SET inside a transaction could be rolled back
            with dbapi_connection.cursor() as cursor:
                cursor.execute(
                    "SET client_connection_check_interval = 2000; "
                    "SET idle_session_timeout = 0; SET idle_in_transaction_session_timeout = 0"
                )
            dbapi_connection.autocommit = False


def _make_sqlite_transactional(engine: Engine) -> None:
    """pysqlite commits implicitly before DDL; take over BEGIN so DDL is transactional too.

    Foreign keys stay off for the run: batch-mode table copies would trip them.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN")
