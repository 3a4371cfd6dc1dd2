"""A throwaway MariaDB server for the test session (a user with a password, free port).

``mariadb-install-db`` makes a datadir in a temporary directory and ``mariadbd`` serves it on a
free TCP port of 127.0.0.1 and a unix socket beside the datadir. As root, both run with
``--user=root`` (mariadbd refuses to run as root without it); as anyone else, as that user.
Nothing reads stdin, so it runs the same in CI. The performance schema is on, as on MySQL 8,
so a lock holder's program name (a connection attribute) can be read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

USER = "gmg"
PASSWORD = "s3cret-Maria-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if found:
            return found
    raise RuntimeError(f"MariaDB server binaries not found ({', '.join(names)})")


class Server:
    def __init__(self) -> None:
        self.install_db = _binary("mariadb-install-db", "mysql_install_db")
        self.mariadbd = _binary("mariadbd", "mysqld")
        # short: a unix socket path must fit in 108 bytes
        self.root = Path(tempfile.mkdtemp(prefix="gmg-my-"))
        self.data = self.root / "data"
        self.socket = self.root / "sock"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user = "root" if os.geteuid() == 0 else None
        self.startup_s: dict[str, float] = {}

    def _user_args(self) -> list[str]:
        return [f"--user={self.user}"] if self.user else []

    def start(self) -> None:
        started = time.monotonic()
        self.init()
        self.startup_s["install_db"] = round(time.monotonic() - started, 3)
        self.start_server()
        self.startup_s["total"] = round(time.monotonic() - started, 3)

    def init(self) -> None:
        command = [
            self.install_db,
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=normal",  # root@localhost, no password
            "--skip-test-db",
            "--skip-name-resolve",
            *self._user_args(),
        ]
        for attempt in (1, 2):  # one more try: seen failing once under heavy load
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            if done.returncode == 0:
                return
            if attempt == 1:  # shown in pytest's warnings summary
                warnings.warn(
                    "mariadb-install-db failed once, trying again:\n"
                    + (done.stdout + done.stderr)[-2000:],
                    stacklevel=1,
                )
            shutil.rmtree(self.data, ignore_errors=True)
        raise RuntimeError(
            f"mariadb-install-db failed (exit {done.returncode}):\n"
            + (done.stdout + done.stderr)[-3000:]
        )

    def start_server(self, timeout: float = 60) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (the server keeps it)
        self.process = subprocess.Popen(
            [
                self.mariadbd,
                "--no-defaults",
                f"--datadir={self.data}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'pid'}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=64M",
                "--performance-schema=ON",
                "--max-connections=300",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                *self._user_args(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = self._root_connection()
                break
            except Exception:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        "mariadbd exited: " + (self.root / "server.log").read_text()[-2000:]
                    ) from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION")
        conn.close()

    def _root_connection(self):
        import pymysql

        return pymysql.connect(
            unix_socket=str(self.socket), user="root", autocommit=True, connect_timeout=2
        )

    def stop_server(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"mysql+pymysql://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/mysql"


def connect_args(url: str) -> dict:
    """PyMySQL keyword arguments for a ``mysql+pymysql://`` URL (tests' own helper)."""
    parts = urlsplit(url)
    args = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
        # the tests' own look at the test server: plain TCP (PyMySQL would otherwise build a
        # TLS context, ~25 ms of CPU, for every connection; TLS is the engine's business)
        "ssl_disabled": True,
    }
    database = parts.path.lstrip("/")
    if database:
        args["database"] = unquote(database)
    return args


def connect(url: str, **kwargs):
    import pymysql

    return pymysql.connect(**{**connect_args(url), "autocommit": True, **kwargs})


def wait_until_accepting(url: str, timeout: float = 30) -> None:
    import pymysql

    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(url, connect_timeout=2).close()
            return
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":  # python tests/mariadbserver.py: time a start and a stop
    server = Server()
    server.start()
    wait_until_accepting(server.admin_url)
    print("started", server.startup_s, server.admin_url)
    t = time.monotonic()
    server.stop()
    print("stopped in", round(time.monotonic() - t, 3), "s")
