"""The sealed legacy runtime (SQLAlchemy 1.4 + sqlalchemy-migrate + PyMySQL) on MariaDB:
a walk under the engine's lock, a walk refused once the lock is lost, a stop that kills the
statement in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pymysql
import pytest

import mariadbserver
from conftest import REPO
from legacy_build import build_legacy_db, legacy_python, legacy_repositories
from test_mysql_backend import backend_for, kill, parse

RUNNER = REPO / "entrypoint" / "legacy" / "runner.py"


def start_runner(url: str, steps: list[dict], fence: dict | None) -> subprocess.Popen:
    backend = backend_for(url)
    job = {
        "url": backend.legacy_url(),
        "steps": steps,
        "parent_pid": os.getpid(),
        "application_name": "gmg-dbupdate:test:1:legacy",
        "fence": fence,
    }
    proc = subprocess.Popen(
        [legacy_python(), "-I", str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write(json.dumps(job))
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again
    return proc


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, list[dict], str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, [json.loads(line) for line in out.splitlines() if line], err


def versions(url: str) -> dict[str, int]:
    conn = mariadbserver.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT repository_id, version FROM migrate_version")
            return dict(cursor.fetchall())
    finally:
        conn.close()


def invented_steps() -> list[dict]:
    repositories = legacy_repositories()
    return [
        {"component": "core", "repository": str(repositories["core"]), "to": 10},
        {"component": "image", "repository": str(repositories["image"]), "to": 2},
    ]


def test_walk_under_the_engines_lock(mysql_url):
    build_legacy_db(mysql_url, {"core": 0, "image": 0})
    lock = backend_for(mysql_url).lock("gmg-dbupdate:mediagoblin")
    try:
        assert lock.try_acquire()
        code, events, err = finish(
            start_runner(mysql_url, invented_steps(), lock.fence().for_child())
        )
        assert code == 0, err
        assert [e["version"] for e in events if e["event"] == "legacy.applied"] == [
            *range(1, 11),
            1,
            2,
        ]
        assert versions(mysql_url) == {"mediagoblin_core": 10, "mediagoblin_image": 2}
        assert lock.release() is True
    finally:
        lock.close()


def test_walk_refused_once_the_lock_connection_is_gone(mysql_url, mysql_admin_url):
    build_legacy_db(mysql_url, {"core": 0, "image": 0})
    lock = backend_for(mysql_url).lock("gmg-dbupdate:mediagoblin")
    try:
        assert lock.try_acquire()
        fence = lock.fence().for_child()
        admin = mariadbserver.connect(mysql_admin_url)
        kill(admin, lock.connection_id)
        admin.close()
        code, events, _err = finish(start_runner(mysql_url, invented_steps(), fence))
        assert code == 70
        assert events[-1]["event"] == "legacy.failed"
        assert events[-1]["lock_lost"] is True
        assert "lock lost" in events[-1]["error"]
        assert not [e for e in events if e["event"] == "legacy.applied"]
        assert versions(mysql_url) == {"mediagoblin_core": 0, "mediagoblin_image": 0}
    finally:
        lock.close()


def test_walk_refused_while_the_engine_itself_holds_the_fence(mysql_url):
    """The engine must leave the fence on its own connections before it starts the child;
    if it forgot, the child says so at once instead of both waiting for each other."""
    build_legacy_db(mysql_url, {"core": 0, "image": 0})
    backend = backend_for(mysql_url)
    lock, work = backend.lock("gmg-dbupdate:mediagoblin"), backend.connect()
    try:
        assert lock.try_acquire()
        fence = lock.fence()
        fence.enter(work, timeout=5)
        started = time.monotonic()
        code, events, _err = finish(start_runner(mysql_url, invented_steps(), fence.for_child()))
        assert time.monotonic() - started < 30
        assert code == 70
        assert f"own connection {work.thread_id()} still holds the fence" in events[-1]["error"]
        assert versions(mysql_url) == {"mediagoblin_core": 0, "mediagoblin_image": 0}
        fence.leave(work)  # as the engine must: then the walk goes through
        code, events, err = finish(start_runner(mysql_url, invented_steps(), fence.for_child()))
        assert code == 0, err
        assert versions(mysql_url) == {"mediagoblin_core": 10, "mediagoblin_image": 2}
    finally:
        work.close()
        lock.close()


@pytest.fixture
def sleepy_repository(tmp_path) -> Path:
    """A sqlalchemy-migrate repository whose first script waits 30 s on the server."""
    root = tmp_path / "sleepy"
    (root / "versions").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "versions" / "__init__.py").write_text("")
    (root / "migrate.cfg").write_text(
        "[db_settings]\nrepository_id=sleepy\nversion_table=migrate_version\n"
        "required_dbs=[]\nuse_timestamp_numbering=False\n"
    )
    (root / "versions" / "001_sleep.py").write_text(
        "from sqlalchemy import text\n\n\n"
        "def upgrade(migrate_engine):\n"
        "    migrate_engine.execute(text('SELECT SLEEP(30)'))\n\n\n"
        "def downgrade(migrate_engine):\n"
        "    pass\n"
    )
    return root


def test_sigterm_kills_the_statement_in_flight(mysql_url, sleepy_repository):
    subprocess.run(
        [
            legacy_python(),
            "-I",
            "-c",
            "import sys, warnings; warnings.simplefilter('ignore')\n"
            "from migrate.versioning import api\n"
            "api.version_control(sys.argv[1], sys.argv[2], version=0)\n",
            backend_for(mysql_url).legacy_url(),
            str(sleepy_repository),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    steps = [{"component": "sleepy", "repository": str(sleepy_repository), "to": 1}]
    proc = start_runner(mysql_url, steps, None)
    admin = mariadbserver.connect(mysql_url)
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the script's SLEEP runs on the server
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE info LIKE 'SELECT SLEEP(30)%%' AND db = %s",
                    (parse(mysql_url).database,),
                )
                if cursor.fetchall():
                    break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code, events, err = finish(proc, timeout=30)
        # cancelled on the server, so the runner unwinds well before its 5 s grace ends
        assert time.monotonic() - stopped_at < 4, err
        assert code == 128 + signal.SIGTERM
        assert events[-1]["event"] == "legacy.failed" and events[-1]["stopped"] is True
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT id, command, time, state, info FROM information_schema.processlist "
                "WHERE info LIKE 'SELECT SLEEP(30)%%'"
            )
            assert cursor.fetchall() == (), err
        assert versions(mysql_url) == {"sleepy": 0}
    finally:
        admin.close()
        if proc.poll() is None:
            proc.kill()


def test_pymysql_is_what_the_sealed_runtime_uses():
    done = subprocess.run(
        [legacy_python(), "-I", "-c", "import pymysql; print(pymysql.VERSION_STRING)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip().startswith("1.2.")
    assert pymysql.VERSION_STRING.startswith("1.2.")
