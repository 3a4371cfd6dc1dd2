"""The legacy phase: drive the sealed sqlalchemy-migrate runtime as a child process.

The runner (``entrypoint/legacy/runner.py``) runs under its own interpreter and imports nothing
from this package; it reports each applied script as a JSON line that is re-emitted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

from .bundle import Bundle
from .config import Settings
from .errors import ConfigError, MigrationFailed
from .logs import get_logger, scrub

RUNNER = Path(__file__).resolve().parents[1] / "legacy" / "runner.py"
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


def run_legacy(settings: Settings, bundle: Bundle, steps: list[dict]) -> list[dict]:
    """Upgrade each legacy repository to its handoff version; 70 naming the failing script."""
    log = get_logger()
    python = legacy_python()
    job = {
        "url": settings.url.render_as_string(hide_password=False).replace(
            "postgresql+psycopg2", "postgresql"
        ),
        "steps": steps,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.Popen(
        [python, "-I", str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )

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
            elif name == "legacy.failed":
                failure = event
            else:
                log.info(name, **event)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: let the runner roll its script back, then insist
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        relay.join(timeout=5)
    if code != 0 or failure is not None:
        failure = failure or {}
        raise MigrationFailed(
            f"legacy script {failure.get('script') or '?'} of {failure.get('component', '?')} "
            f"failed: {scrub(failure.get('error', f'runner exited {code}'))}",
            component=failure.get("component"),
            version=failure.get("version"),
            script=failure.get("script"),
        )
    return applied
