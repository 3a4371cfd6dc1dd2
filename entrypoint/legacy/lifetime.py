"""What every sealed legacy runner needs to live and die with its parent (the engine).

Stdlib only, plus SQLAlchemy 1.4 inside ``attach``; nothing from the main package. The parent
puts these keys in the job it writes on the runner's stdin:
    parent_pid        the engine's pid
    parent_fd         read end of a pipe whose write end only the engine holds: EOF = it died
    application_name  how the runner's sessions are named (PostgreSQL's application_name,
                      MySQL's program_name connection attribute)
    connect_args      further driver connection arguments (psycopg2's keepalives)
    fence             the engine's lock, as data. PostgreSQL: {"lock": [k1, k2], "fence":
                      [f1, f2], "holder_pid", "holder_since": the engine's lock session (pid
                      and backend_start)}. MySQL: {"backend": "mysql", "lock": NAME, "fence":
                      NAME, "holder_id": the lock connection's id, "runner_ids": [...]}; each
                      script's connection takes the named fence lock (the parent has let go of
                      it) and checks IS_USED_LOCK(lock) = holder_id before its commit
A runner calls ``Lifetime(job)`` first, ``attach(engine)`` on its engine, ``enter(connection)``
at the start of each transaction and ``before_commit(connection)`` as its last statement.

The runner stops (its transaction rolled back, the statement in flight cancelled on the server)
on SIGTERM, SIGINT, SIGHUP or SIGQUIT, when the parent dies (PR_SET_PDEATHSIG, and the pipe for
the moment between statements or before a commit), and never commits once the engine's lock
session has ended.
"""

import contextlib
import ctypes
import os
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
_PR_SET_PDEATHSIG = 1
_GRACE_S = 5  # a stopped runner that cannot unwind in this time is ended outright

_HELD_BY_SQL = (
    "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.pid = %(pid)s "
    "AND a.backend_start::text = %(since)s "
    "AND l.classid = %(k1)s AND l.objid = %(k2)s AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


class Stopped(Exception):
    """Raised in the runner's main thread: the transaction must roll back, nothing commits."""

    def __init__(self, reason, exit_code, lock_lost=False):
        super().__init__(reason)
        self.exit_code = exit_code
        self.lock_lost = lock_lost


class Lifetime:
    def __init__(self, job):
        self.parent_pid = job.get("parent_pid")
        self.application_name = job.get("application_name")
        self.connect_args = dict(job.get("connect_args") or {})
        self.fence = job.get("fence")
        self.stopped = None  # (reason, exit code) once a stop was asked for
        self._connections = set()  # DB-API connections whose statement a stop cancels
        self._lock = threading.Lock()
        self._engine = None
        _die_with_parent()
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        threading.Thread(target=self._watch_signals, args=(read_fd,), daemon=True).start()
        if job.get("parent_fd") is not None:
            fd = int(job["parent_fd"])
            threading.Thread(target=self._watch_parent, args=(fd,), daemon=True).start()
        if self.parent_pid and os.getppid() != self.parent_pid:  # died before prctl
            os.kill(os.getpid(), signal.SIGTERM)

    # --- stopping ---------------------------------------------------------------------------

    def _on_signal(self, signum, _frame):
        if self.stopped is None:
            self.stopped = (f"stopped by {signal.Signals(signum).name}", 128 + signum)
            # PyMySQL reads in Python, so this handler runs at once and abandons its statement
            # on the client side: the server must be told before the runner unwinds and exits
            self._kill_mysql_queries()
            raise Stopped(*self.stopped)

    def _watch_signals(self, fd):
        """A handler runs only between bytecodes: a statement blocked in the driver is
        cancelled from here, on the server (PQcancel; sqlite3's interrupt)."""
        while os.read(fd, 64):
            with self._lock:
                targets = list(self._connections)
            for connection in targets:
                if hasattr(connection, "thread_id"):  # PyMySQL: done by the handler
                    continue
                with contextlib.suppress(Exception):
                    (getattr(connection, "cancel", None) or connection.interrupt)()
            timer = threading.Timer(_GRACE_S, os._exit, args=(self._exit_code(),))
            timer.daemon = True
            timer.start()

    def _kill_mysql_queries(self):
        """KILL QUERY each PyMySQL connection's statement, from a bare connection of its own
        (not the engine's pool: its events take locks this interrupted thread may hold)."""
        targets = [c for c in list(self._connections) if hasattr(c, "thread_id")]
        if not targets or self._engine is None:
            return
        with contextlib.suppress(Exception):
            import pymysql

            cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
            killer = pymysql.connect(*cargs, **{**cparams, "connect_timeout": 5})
            try:
                with killer.cursor() as cursor:
                    for connection in targets:
                        cursor.execute(f"KILL QUERY {int(connection.thread_id())}")
            finally:
                killer.close()

    def _watch_parent(self, fd):
        with contextlib.suppress(OSError):
            while os.read(fd, 64):
                pass
        os.kill(os.getpid(), signal.SIGTERM)  # the same way out as a signal

    def _exit_code(self):
        return self.stopped[1] if self.stopped else 128 + signal.SIGTERM

    def check(self):
        """Between statements and before each commit: is there still a reason to go on?"""
        if self.stopped is not None:
            raise Stopped(*self.stopped)
        if self.parent_pid and os.getppid() != self.parent_pid:
            self.stopped = ("the engine that started this runner is gone", 128 + signal.SIGTERM)
            raise Stopped(*self.stopped)

    # --- the database -----------------------------------------------------------------------

    def engine_options(self, url):
        """``create_engine`` keyword arguments: the session's name and keepalives."""
        if url.startswith("mysql") or url.startswith("mariadb"):
            return {"connect_args": {**self.connect_args, "program_name": self.application_name}}
        if not url.startswith("postgres"):
            return {}
        return {"connect_args": {**self.connect_args, "application_name": self.application_name}}

    def attach(self, engine):
        from sqlalchemy import event

        self._engine = engine  # a MySQL statement is cancelled from a connection of its own
        if engine.dialect.name == "mysql":
            shared = _mysql_connection_class()

            @event.listens_for(engine, "do_connect")
            def _do_connect(_dialect, _record, cargs, cparams):
                return shared(*cargs, **cparams)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            with self._lock:
                self._connections.add(dbapi_connection)
            version = getattr(dbapi_connection, "server_version", 0)  # PyMySQL's is a str
            if isinstance(version, int) and version >= 140000:
                # a runner that vanishes mid-statement has it aborted within 2 s
                autocommit = dbapi_connection.autocommit
                dbapi_connection.autocommit = True
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SET client_connection_check_interval = 2000")
                dbapi_connection.autocommit = autocommit

        @event.listens_for(engine, "close")
        def _close(dbapi_connection, _record):
            with self._lock:
                self._connections.discard(dbapi_connection)

        @event.listens_for(engine, "before_cursor_execute")
        def _before(*_args):
            self.check()

    def enter(self, connection):
        """First statement of a transaction: wait for any runner that lost the engine's lock."""
        if self.fence and self.fence.get("backend") == "mysql":
            self._enter_mysql(connection)
        elif self.fence and connection.dialect.name == "postgresql":
            f1, f2 = self.fence["fence"]
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(%(f1)s, %(f2)s)", {"f1": f1, "f2": f2}
            )
            self._confirm(connection)

    def before_commit(self, connection):
        """Last statement of a transaction: commit only with the parent alive and its lock held."""
        self.check()
        if self.fence and self.fence.get("backend") == "mysql":
            self._confirm_mysql(connection)
        elif self.fence and connection.dialect.name == "postgresql":
            self._confirm(connection)

    def _enter_mysql(self, connection):
        """GET_LOCK on the fence, in one-second slices so that a stop is heard while waiting;
        the connection keeps it until it closes (NullPool: at the end of the script)."""
        while True:
            self.check()
            taken, holder = connection.exec_driver_sql(
                "SELECT GET_LOCK(%(f)s, 1), IS_USED_LOCK(%(f)s)", {"f": self.fence["fence"]}
            ).first()
            if taken == 1:
                break
            if holder in self.fence.get("runner_ids", ()):  # the engine would wait for us
                raise Stopped(
                    f"the engine's own connection {holder} still holds the fence: it must "
                    "let go of it before it starts the legacy runtime",
                    70,
                )
        self._confirm_mysql(connection)

    def _confirm_mysql(self, connection):
        held, fenced = connection.exec_driver_sql(
            "SELECT IS_USED_LOCK(%(l)s), IS_USED_LOCK(%(f)s) = CONNECTION_ID()",
            {"l": self.fence["lock"], "f": self.fence["fence"]},
        ).first()
        if held != self.fence["holder_id"] or not fenced:
            raise Stopped(
                f"the engine's lock connection ({self.fence['holder_id']}) ended: lock lost",
                70,
                lock_lost=True,
            )

    def _confirm(self, connection):
        k1, k2 = self.fence["lock"]
        params = {
            "pid": self.fence["holder_pid"],
            "since": self.fence["holder_since"],
            "k1": k1,
            "k2": k2,
        }
        if not connection.exec_driver_sql(_HELD_BY_SQL, params).scalar():
            raise Stopped(
                f"the engine's lock session (pid {params['pid']}) ended: lock lost",
                70,
                lock_lost=True,
            )


def _die_with_parent():
    """Linux: the kernel sends SIGTERM when the parent dies (the pipe covers the rest)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _mysql_connection_class():
    """PyMySQL's Connection, making its "preferred" TLS context (no ssl_* option: TLS if the
    server offers it, unverified) once per process instead of once per connection, where
    loading the CA store costs ~25 ms of CPU each time. Explicit ssl_* options are untouched."""
    import pymysql.connections

    class Connection(pymysql.connections.Connection):
        _preferred_tls = None

        def _create_ssl_ctx(self, sslp):
            if sslp:
                return super()._create_ssl_ctx(sslp)
            cls = type(self)
            if cls._preferred_tls is None:
                cls._preferred_tls = super()._create_ssl_ctx(sslp)
            return cls._preferred_tls

    return Connection
