"""Build databases as the pre-Alembic app left them, without the code under test.

A database under sqlalchemy-migrate control is made by sqlalchemy-migrate itself: the legacy
virtualenv's interpreter runs ``migrate.versioning.api`` (``version_control`` at 0, then
``upgrade``) over the bundle's frozen repositories, in a child process. Nothing here imports
or runs the engine (``gmg_dbupdate``), its legacy runner included, so a test built on these
databases checks the engine against an independent picture of the past.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "tests" / "bundles" / "invented"

# Runs under the legacy interpreter (SQLAlchemy 1.4 + sqlalchemy-migrate): one job on stdin.
_BUILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from migrate.versioning import api
job = json.load(sys.stdin)
for repository, version in job["steps"]:
    api.version_control(job["url"], repository, version=0)
    if version:
        api.upgrade(job["url"], repository, version=version)
"""


def legacy_python() -> str:
    """The sqlalchemy-migrate interpreter: ``GMG_LEGACY_PYTHON`` or the checkout's venv."""
    return os.environ.get("GMG_LEGACY_PYTHON") or str(REPO / ".venv-legacy" / "bin" / "python")


def legacy_repositories(bundle: Path = BUNDLE) -> dict[str, Path]:
    """Component -> its sqlalchemy-migrate repository, in manifest order (core first)."""
    manifest = tomllib.loads((bundle / "manifest.toml").read_text(encoding="utf-8"))
    entries = [manifest["core"], *manifest.get("plugins", [])]
    return {e["name"]: bundle / e["legacy"]["repository"] for e in entries if "legacy" in e}


def build_legacy_db(url: str, component_versions: dict[str, int], *, bundle: Path = BUNDLE) -> None:
    """Put a fresh database under sqlalchemy-migrate control, each repository at its version.

    Components are walked in manifest order, so core's tables exist before a plugin's scripts
    refer to them. Version 0 means under control with no script run.
    """
    repositories = legacy_repositories(bundle)
    unknown = set(component_versions) - set(repositories)
    if unknown:
        raise ValueError(f"no legacy repository for {sorted(unknown)}")
    steps = [
        [str(path), component_versions[name]]
        for name, path in repositories.items()
        if name in component_versions
    ]
    proc = subprocess.run(
        [legacy_python(), "-I", "-c", _BUILD],
        input=json.dumps({"url": url, "steps": steps}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"building a legacy database at {component_versions} failed:\n{proc.stderr[-4000:]}"
        )
