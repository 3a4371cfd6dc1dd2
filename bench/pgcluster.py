"""A throwaway PostgreSQL cluster for the benchmarks: initdb + pg_ctl on a free port.

The same recipe as ``tests/pgserver.py`` (password auth over TCP, durability off), kept here so the
benchmarks do not depend on the test helpers' internals, and extended with what the
``db.ready`` scenario needs: stop and restart the same cluster, and start it without waiting.
``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD = "bench-Pw-4711"


def bindir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, label: str = "bench") -> None:
        self.bindir = bindir()
        self.root = Path(tempfile.mkdtemp(prefix=f"gmg-{label}-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    # --- commands ------------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        cmd = list(args)
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres else cmd

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._cmd(*args), check=check, capture_output=True, text=True, timeout=120
        )

    def _start_args(self, wait: bool) -> list[str]:
        return [
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            *(["-w", "-t", "60"] if wait else ["-W"]),
            "start",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        ]

    def init(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        """Start and wait until the postmaster reports ready."""
        self._run(*self._start_args(wait=True))

    def start_nowait(self) -> subprocess.Popen:
        """Launch ``pg_ctl start`` without waiting (the caller watches for readiness)."""
        return subprocess.Popen(
            self._cmd(*self._start_args(wait=False)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def version(self) -> str:
        out = self._run(str(self.bindir / "postgres"), "--version", check=False).stdout
        return out.strip()

    # --- URLs ----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/{database}"
