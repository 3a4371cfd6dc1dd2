"""The shapes real legacy → Alembic histories have (issue 14), each in a test bundle of its own,
through the ``gmg`` CLI on every backend the ``db_url`` fixture names.

Legacy databases are made by sqlalchemy-migrate itself (the legacy virtualenv's ``migrate``
API in a child process), never by the engine under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from conftest import query, run_gmg, version_rows
from legacy_build import legacy_python

BUNDLES = Path(__file__).resolve().parent / "bundles"
PYDEFAULT = BUNDLES / "pydefault"

# Runs under the legacy interpreter: each step is [repository, initial version, target].
_BUILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from migrate.versioning import api
job = json.load(sys.stdin)
for repository, initial, target in job["steps"]:
    api.version_control(job["url"], repository, version=initial)
    if target > initial:
        api.upgrade(job["url"], repository, version=target)
"""


def build(url: str, steps: list[tuple[Path, int, int]]) -> None:
    """Put repositories under sqlalchemy-migrate control at ``initial`` and walk each, in the
    order given, to ``target`` with sqlalchemy-migrate's own API."""
    proc = subprocess.run(
        [legacy_python(), "-I", "-c", _BUILD],
        input=json.dumps({"url": url, "steps": [[str(r), i, t] for r, i, t in steps]}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def dbupdate(bundle: Path, url: str, *args: str):
    return run_gmg("dbupdate", "--database-url", url, *args, env={"GMG_MIGRATIONS": str(bundle)})


def assert_no_op(bundle: Path, url: str, *args: str) -> None:
    again = dbupdate(bundle, url, *args)
    assert again.code == 0, again
    assert again.last["changed"] is False, again


# --- item 7: legacy scripts get an Engine ---------------------------------------------------


def test_legacy_script_adding_a_column_with_a_python_default_gets_an_engine(db_url):
    build(db_url, [(PYDEFAULT / "legacy", 0, 1)])
    result = dbupdate(PYDEFAULT, db_url)
    assert result.code == 0, result
    assert [e["version"] for e in result.named("legacy.applied")] == [2]
    assert result.last["changed"] is True
    # the rows already there got the Python-side default, as sqlalchemy-migrate fills them
    assert query(db_url, "SELECT body, state, title FROM notes") == [("first", "new", None)]
    assert query(db_url, "SELECT version FROM migrate_version") == [(2,)]
    assert version_rows(db_url) == {"p00000000002"}
    assert_no_op(PYDEFAULT, db_url)


def test_a_failing_legacy_script_rolls_back_what_it_did_through_its_engine(db_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(PYDEFAULT, bundle)
    (bundle / "legacy" / "versions" / "003_half_done.py").write_text(
        "from sqlalchemy import Column, Integer, MetaData, Table\n"
        "from migrate import changeset\n\n\n"
        "def upgrade(migrate_engine):\n"
        "    meta = MetaData(bind=migrate_engine)\n"
        "    notes = Table('notes', meta, autoload=True)\n"
        "    Column('doomed', Integer, default=7).create(notes, populate_default=True)\n"
        "    migrate_engine.execute(notes.update().values(body='changed'))\n"
        "    raise RuntimeError('script 3 gives up')\n",
        encoding="utf-8",
    )
    manifest = bundle / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace('handoff = { 2 = "p00000000001" }', 'handoff = { 3 = "p00000000002" }'),
        encoding="utf-8",
    )
    build(db_url, [(bundle / "legacy", 0, 2)])
    result = dbupdate(bundle, db_url)
    assert result.code == 70, result
    assert "003_half_done.py" in result.last["error"] and "gives up" in result.last["error"]
    assert query(db_url, "SELECT version FROM migrate_version") == [(2,)]
    assert query(db_url, "SELECT * FROM notes") == [(1, "first", "new")]  # no column, no update
