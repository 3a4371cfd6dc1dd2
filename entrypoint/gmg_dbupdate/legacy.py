"""The legacy phase: drive the sealed sqlalchemy-migrate runtime as a child process.

The runner (``entrypoint/legacy/runner.py``) runs under its own interpreter and imports nothing
from this package; it reports each applied script as a JSON line that is re-emitted here.
It never outlives this process and never commits without the lock (``legacy/lifetime.py``): it
holds the read end of a pipe only this process writes to, and the lock's fence as data. A stop
signal here is passed on to it, and it gets a moment to roll back before the lock is released.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from . import interrupts
from .backends import runner_name
from .backends.base import Fence
from .config import Settings
from .errors import ConfigError, LockLost, MigrationFailed, StateRefused
from .logs import get_logger, scrub

RUNNER = Path(__file__).resolve().parents[1] / "legacy" / "runner.py"
_ROLLBACK_GRACE_S = 5
DEFAULT_LEGACY_PYTHON = Path(__file__).resolve().parents[2] / ".venv-legacy" / "bin" / "python"


def legacy_python() -> str:
    """The sealed runtime's interpreter: ``GMG_LEGACY_PYTHON`` or the checkout's .venv-legacy."""
    python = os.environ.get("GMG_LEGACY_PYTHON") or str(DEFAULT_LEGACY_PYTHON)
    if not os.access(python, os.X_OK):
        raise ConfigError(
            f"legacy runtime not found: {python} is not executable "
            "(set GMG_LEGACY_PYTHON to the sqlalchemy-migrate virtualenv's python)"
        )
    return python


def run_legacy(
    settings: Settings,
    steps: list[dict],
    fence: Fence | None = None,
    on_applied: Callable[[dict], None] | None = None,
    runner: Path = RUNNER,
    extra: dict | None = None,
) -> list[dict]:
    """Walk legacy histories in a sealed runner (``runner``; ``extra`` joins its job) up to their
    handoff versions; 70 naming the failing script, 65 for a history the runner refuses.

    ``on_applied`` is called after each script the runner reports committed.
    """
    log = get_logger()
    python = legacy_python()
    child_end, parent_end = os.pipe()  # the child reads EOF once this process is gone
    job = {
        **settings.backend.legacy_connection(),  # url, connect_args
        "steps": steps,
        "parent_pid": os.getpid(),
        "parent_fd": child_end,
        "application_name": f"{runner_name()[:56]}:legacy",
        "fence": fence.for_child() if fence else None,
        **(extra or {}),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.Popen(
            [python, "-I", str(runner)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            pass_fds=(child_end,),
        )
    finally:
        os.close(child_end)

    def relay_stderr() -> None:
        for line in proc.stderr:
            if line.strip():
                log.info("legacy.log", message=scrub(line.rstrip()))

    relay = threading.Thread(target=relay_stderr, daemon=True)
    relay.start()
    applied: list[dict] = []
    failure: dict | None = None
    try:
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                log.info("legacy.log", message=scrub(line.rstrip()))
                continue
            name = event.pop("event", "legacy.log")
            if name == "legacy.applied":
                applied.append(event)
                log.info("legacy.applied", **event)
                if on_applied is not None:
                    on_applied(event)
            elif name in ("legacy.failed", "legacy.refused"):
                failure = {"event": name, **event}
            else:
                log.info(name, **event)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: let the runner roll its script back, then insist
            proc.send_signal(interrupts.received() or signal.SIGTERM)
            try:
                proc.wait(timeout=_ROLLBACK_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        os.close(parent_end)
        relay.join(timeout=5)
    if failure is not None and failure["event"] == "legacy.refused":
        hint = f"; {failure['hint']}" if failure.get("hint") else ""
        raise StateRefused(f"database refused: {failure.get('error')}{hint}")
    if code != 0 or failure is not None:
        failure = failure or {}
        if failure.get("lock_lost"):
            raise LockLost(f"legacy runtime: {failure.get('error')}; nothing more committed")
        script = failure.get("script") or failure.get("name") or "?"
        raise MigrationFailed(
            f"legacy script {script} of {failure.get('component', '?')} "
            f"failed: {scrub(str(failure.get('error', f'runner exited {code}')))}",
            component=failure.get("component"),
            version=failure.get("version"),
            script=script,
        )
    return applied
