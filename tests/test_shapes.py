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

import pytest

from conftest import across_backends, backend_of, execute, query, run_gmg, version_rows
from legacy_build import legacy_python

BUNDLES = Path(__file__).resolve().parent / "bundles"
PYDEFAULT = BUNDLES / "pydefault"

# Runs under the legacy interpreter: each step is [repository, initial version, target].
_BUILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from migrate.versioning import api
job = json.load(sys.stdin)
sys.path[:0] = job["pythonpath"]  # the app's own packages, importable as they were for it
for repository, initial, target in job["steps"]:
    api.version_control(job["url"], repository, version=initial)
    if target > initial:
        api.upgrade(job["url"], repository, version=target)
"""


def build(url: str, steps: list[tuple[Path, int, int]], pythonpath: tuple[Path, ...] = ()) -> None:
    """Put repositories under sqlalchemy-migrate control at ``initial`` and walk each, in the
    order given, to ``target`` with sqlalchemy-migrate's own API."""
    job = {
        "url": url,
        "steps": [[str(r), i, t] for r, i, t in steps],
        "pythonpath": [str(p) for p in pythonpath],
    }
    proc = subprocess.run(
        [legacy_python(), "-I", "-c", _BUILD],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def dbupdate(bundle: Path, url: str, *args: str):
    return run_gmg("dbupdate", "--database-url", url, *args, env={"GMG_MIGRATIONS": str(bundle)})


def assert_no_op(bundle: Path, url: str, *args: str) -> None:
    """A second run changes nothing; on a bundle whose index is current it ends on the light
    path (the index carries what judging the legacy rows of every repository needs)."""
    again = dbupdate(bundle, url, *args)
    assert again.code == 0, again
    assert again.last["changed"] is False, again
    if (bundle / "bundle-index.json").exists():
        assert again.last.get("fast_path") is True, again


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
    if backend_of(db_url) == "mysql":  # its ADD COLUMN committed itself; its UPDATEs did not
        assert result.last["half_applied"] is True and "half-applied" in result.last["error"]
        assert query(db_url, "SELECT * FROM notes") == [(1, "first", "new", None)]
    else:
        assert query(db_url, "SELECT * FROM notes") == [(1, "first", "new")]  # no column, no update


# --- items 1-4: the split bundle (expand / data / contract) ----------------------------------

SPLIT = BUNDLES / "split"
SPLIT_REPOS = [SPLIT / "legacy" / f"{r}_repo" for r in ("expand", "data", "contract")]
SPLIT_LIB = (SPLIT / "lib",)
SPLIT_HEADS = {"5c0000000002"}  # depends on the expand head, which it stands for too
SPLIT_REVISIONS = ["5a0000000000", "5e0000000001", "5e0000000002", "5c0000000001", "5c0000000002"]


def assert_split_current(url: str) -> None:
    """At both heads, the models' schema exactly (dbverify), a second run changes nothing."""
    assert version_rows(url) == SPLIT_HEADS
    verified = run_gmg("dbverify", "--database-url", url, env={"GMG_MIGRATIONS": str(SPLIT)})
    assert verified.code == 0, verified
    assert verified.last["equal"] is True and verified.last["compared"] == 2
    assert_no_op(SPLIT, url)


def test_split_fresh_database_is_built_by_its_migrations(db_url):
    result = dbupdate(SPLIT, db_url)
    assert result.code == 0, result
    assert result.last["bootstrapped"] == ["core"]
    (boot,) = result.named("schema.bootstrapped")
    assert boot["source"] == "migrations" and boot["applied"][0] == "5a0000000000"
    assert set(boot["applied"]) == set(SPLIT_REVISIONS)
    assert [e["revision"] for e in result.named("migration.applied")] == boot["applied"]
    assert_split_current(db_url)


def test_split_fresh_database_from_the_models_equals_the_one_from_its_migrations(db_url, tmp_path):
    by_models = copy_split(tmp_path, 'bootstrap = "migrations"', 'bootstrap = "models"')
    result = dbupdate(by_models, db_url)
    assert result.code == 0, result
    (boot,) = result.named("schema.bootstrapped")
    assert boot["source"] == "models" and not result.named("migration.applied")
    assert_split_current(db_url)


@pytest.mark.parametrize(
    ("versions", "db_url"),
    across_backends(
        [
            (72, 72, 72),  # under control, nothing run: every script of every repository
            (73, 73, 73),
            (74, 73, 73),  # mixed: expand ran ahead, the others did not
            (74, 74, 73),
            (74, 74, 74),  # every repository at its handoff: stamped, no legacy script
        ],
        ids=lambda v: "-".join(map(str, v)),
    ),
    indirect=["db_url"],
)
def test_split_legacy_states_converge(versions, db_url):
    build(db_url, [(r, 72, v) for r, v in zip(SPLIT_REPOS, versions, strict=True)], SPLIT_LIB)
    seeded = versions[0] >= 73
    if seeded and versions[1] < 74:  # rows from before the data migration: owner set or not
        execute(db_url, "INSERT INTO projects (name, owner) VALUES ('a', 'bob'), ('b', NULL)")
    elif seeded:  # the app writes the domain itself once the data migration ran
        execute(db_url, "INSERT INTO projects (name, domain) VALUES ('a', 'bob'), ('b', 'default')")
    result = dbupdate(SPLIT, db_url)
    assert result.code == 0, result
    classified = result.named("schema.classified")[0]
    assert classified["legacy_versions"] == {"core": list(versions)}
    walked = [(Path(e["repository"]).name, e["version"]) for e in result.named("legacy.applied")]
    expected = [
        (r.name, v)
        for r, start in zip(SPLIT_REPOS, versions, strict=True)
        for v in range(start + 1, 75)
    ]
    assert walked == expected  # expand, then data, then contract; each from where it stood
    assert result.last["legacy_applied"] == [f"core:{r}:{v}" for r, v in expected]
    (handoff,) = result.named("legacy.handoff")
    assert handoff["revision"] == "5a0000000000" and handoff["legacy_version"] == [74, 74, 74]
    assert query(db_url, "SELECT version FROM migrate_version") == [(74,)] * 3
    if seeded:
        assert sorted(query(db_url, "SELECT name, domain FROM projects")) == [
            ("a", "bob"),
            ("b", "default"),
        ]
    assert_split_current(db_url)


def test_split_repository_never_put_under_control_starts_at_its_initial_version(db_url):
    build(db_url, [(SPLIT_REPOS[0], 72, 74)], SPLIT_LIB)  # only expand was ever walked
    result = dbupdate(SPLIT, db_url)
    assert result.code == 0, result
    assert result.named("schema.classified")[0]["legacy_versions"] == {"core": [74, 72, 72]}
    assert sorted(query(db_url, "SELECT repository_id, version FROM migrate_version")) == [
        ("split_contract", 74),
        ("split_data", 74),
        ("split_expand", 74),
    ]
    assert_split_current(db_url)


@pytest.mark.parametrize(("start", "db_url"), across_backends(SPLIT_REVISIONS), indirect=["db_url"])
def test_split_every_alembic_revision_converges(start, db_url):
    built = run_gmg(
        "alembic",
        "upgrade",
        start,
        env={"GMG_MIGRATIONS": str(SPLIT), "DATABASE_URL": db_url},
        json_logs=False,
    )
    assert built.code == 0, built
    result = dbupdate(SPLIT, db_url)
    assert result.code == 0, result
    applied = result.last["applied"]
    # every head reached, each revision after what it depends on
    assert set(applied) | set(_below(start)) == set(SPLIT_REVISIONS)
    for later, earlier in [("5c0000000001", "5e0000000001"), ("5c0000000002", "5e0000000002")]:
        if later in applied and earlier in applied:
            assert applied.index(earlier) < applied.index(later)
    assert_split_current(db_url)


def _below(revision: str) -> set[str]:
    """What standing at ``revision`` implies (its down revisions and depends_on)."""
    requires = {
        "5a0000000000": [],
        "5e0000000001": ["5a0000000000"],
        "5e0000000002": ["5e0000000001"],
        "5c0000000001": ["5a0000000000", "5e0000000001"],
        "5c0000000002": ["5c0000000001", "5e0000000002"],
    }
    seen, todo = set(), [revision]
    while todo:
        r = todo.pop()
        if r not in seen:
            seen.add(r)
            todo.extend(requires[r])
    return seen


def test_split_check_reports_the_legacy_walk_of_every_repository(db_url):
    build(db_url, [(r, 72, v) for r, v in zip(SPLIT_REPOS, (74, 73, 73), strict=True)], SPLIT_LIB)
    result = run_gmg(
        "dbupdate", "--check", "--database-url", db_url, env={"GMG_MIGRATIONS": str(SPLIT)}
    )
    assert result.code == 1, result
    (todo,) = result.last["pending"]
    assert todo["action"] == "legacy" and todo["from"] == [74, 73, 73] and todo["to"] == [74] * 3


def copy_split(tmp_path: Path, old: str, new: str) -> Path:
    bundle = tmp_path / "split"
    shutil.copytree(SPLIT, bundle, ignore=shutil.ignore_patterns("bundle-index.json"))
    manifest = bundle / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    return bundle


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "initial_version = 72\n",
            "initial_version = 71\n",
            "legacy map of 'core' (split_expand) has a gap: scripts 72..74",
        ),
        (
            'handoff = { 74 = "5a0000000000" }\n\n[[core.legacy]]\nrepository = "legacy/data_repo"',
            'handoff = { 74 = "5e0000000001" }\n\n[[core.legacy]]\nrepository = "legacy/data_repo"',
            "legacy repositories of 'core' hand over at different revisions",
        ),
        ("initial_version = 72\n", "initial_version = 72\nspeed = 1\n", "unknown key(s) ['speed']"),
        ("initial_version = 72\n", "initial_version = 75\n", "initial_version of 'core' (75)"),
        (
            'pythonpath = ["lib"]',
            'pythonpath = ["../lib"]',
            "manifest.pythonpath = '../lib' leaves",
        ),
        (
            'models = "splitapp.models:Base"',
            'models = "splitapp.models:Nothing"',
            "bundle models splitapp.models:Nothing failed to import: AttributeError",
        ),
        (
            'models = "splitapp.models:Base"',
            'models = "splitapp.naming:NAME_LENGTH"',
            "neither a MetaData nor a declarative base (a int)",
        ),
        ('bootstrap = "migrations"', 'bootstrap = "scripts"', "bootstrap = 'scripts': one of"),
        (
            '  "versions/r2/contract",\n',
            "",
            "subfolders that versions does not list are not read: versions/r2/contract",
        ),
    ],
    ids=[
        "gap-below-initial",
        "handoffs-differ",
        "unknown-key",
        "initial-beyond-handoff",
        "pythonpath-outside",
        "models-attribute-missing",
        "models-not-metadata",
        "bootstrap-unknown",
        "folder-not-listed",
    ],
)
def test_split_manifest_defects_exit_64(old, new, message, tmp_path, sqlite_url):
    bundle = copy_split(tmp_path, old, new)
    result = dbupdate(bundle, sqlite_url)
    assert result.code == 64, result
    assert message in result.last["error"], result.last["error"]


# --- item 1: a base named by a branch label ---------------------------------------------------


@pytest.mark.parametrize("label, code", [("notes", 0), ("elsewhere", 64)])
def test_base_may_name_the_label_its_first_revision_declares(label, code, tmp_path, sqlite_url):
    bundle = tmp_path / "pydefault"
    shutil.copytree(PYDEFAULT, bundle, ignore=shutil.ignore_patterns("bundle-index.json"))
    first = bundle / "versions" / "p00000000001_notes.py"
    first.write_text(
        first.read_text(encoding="utf-8").replace(
            "branch_labels = None", 'branch_labels = ("notes",)'
        ),
        encoding="utf-8",
    )
    manifest = bundle / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            'heads = ["p00000000002"]', f'heads = ["p00000000002"]\nbase = ["{label}"]'
        ),
        encoding="utf-8",
    )
    result = dbupdate(bundle, sqlite_url)
    assert result.code == code, result
    if code == 64:
        assert (
            "declares base ['elsewhere'], but its first revisions are ['p00000000001']"
            in (result.last["error"])
        )
    else:
        assert version_rows(sqlite_url) == {"p00000000002"}


# --- item 8: dbverify names unnamed constraints ---------------------------------------------


def test_dbverify_names_an_unnamed_foreign_key_by_its_table_and_columns(db_url):
    assert dbupdate(SPLIT, db_url).code == 0
    execute(  # tags again, without its (unnamed) foreign key
        db_url,
        "DROP TABLE tags",
        "CREATE TABLE tags (id INTEGER NOT NULL PRIMARY KEY, project_id INTEGER NOT NULL, "
        "name VARCHAR(32) NOT NULL)",
        "CREATE INDEX ix_tags_name ON tags (name)",
    )
    result = run_gmg("dbverify", "--database-url", db_url, env={"GMG_MIGRATIONS": str(SPLIT)})
    assert result.code == 65, result
    assert "missing foreign key on tags (project_id) -> projects (id)" in result.stdout, result
    assert "None" not in result.stdout


@pytest.mark.parametrize(
    "version, message",
    [
        (75, "holds revisions core legacy version (74, 75, 74) unknown here"),
        (71, "older than the lowest this release upgrades from ((72, 72, 72))"),
    ],
    ids=["ahead", "below-initial"],
)
def test_split_one_repository_out_of_range_is_refused(version, message, db_url):
    build(db_url, [(r, 72, 74) for r in SPLIT_REPOS], SPLIT_LIB)
    execute(
        db_url, f"UPDATE migrate_version SET version = {version} WHERE repository_id = 'split_data'"
    )
    result = dbupdate(SPLIT, db_url)
    assert result.code == 65, result
    assert message in result.last["error"], result.last["error"]
    assert query(
        db_url, "SELECT version FROM migrate_version WHERE repository_id = 'split_data'"
    ) == [(version,)]
