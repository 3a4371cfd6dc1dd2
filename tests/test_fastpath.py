"""The no-op fast path: quick when current, and never "current" when something is pending."""

from __future__ import annotations

import shutil

import pytest

from conftest import BUNDLE, URL_FIXTURES, declare_head, execute, run_gmg, schema_of
from gmg_dbupdate.bundle import Bundle


@pytest.fixture
def bundle_copy(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _fast(result) -> bool:
    return result.last.get("fast_path") is True


def test_shipped_index_is_current():
    bundle = Bundle.load(BUNDLE)
    assert bundle.load_index(), "the bundle's bundle-index.json is stale: run `gmg bundle-index`"
    fresh = Bundle.load(BUNDLE)
    assert fresh.branches == bundle.branches
    assert fresh.table_names() == Bundle.load(BUNDLE).table_names()


def test_noop_takes_the_fast_path_and_says_so(db_url):
    assert run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url).code == 0
    for args in (["dbupdate"], ["dbupdate", "--check"], ["dbcheck", "--wait"]):
        result = run_gmg(*args, "--plugins", "all", "--database-url", db_url)
        assert result.code == 0, result
        assert _fast(result), result
        assert result.last["changed"] is False and result.last["current"] is True
        assert [e["event"] for e in result.events] == [
            "dbupdate.start",
            "db.ready",
            "schema.classified",
            "dbupdate.done",
        ]


def test_newly_enabled_plugin_is_not_current(db_url):
    assert run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url).code == 0
    result = run_gmg("dbupdate", "--plugins", "video", "--database-url", db_url)
    assert result.code == 0 and not _fast(result), result
    assert result.last["bootstrapped"] == ["video"]


def test_edited_script_makes_the_index_stale(bundle_copy, db_url):
    assert run_gmg("dbupdate", "--migrations", str(bundle_copy), "--database-url", db_url).code == 0
    script = next((bundle_copy / "versions" / "core").glob("*initial*"))
    script.write_text(script.read_text() + "\n# edited\n")
    result = run_gmg("dbupdate", "--migrations", str(bundle_copy), "--database-url", db_url)
    assert result.code == 0, result
    assert not _fast(result) and result.last["changed"] is False


def test_new_revision_with_a_regenerated_index_is_pending(bundle_copy, db_url):
    """Even an index that is current for the new bundle must not hide the new revision."""
    run = ("--migrations", str(bundle_copy), "--database-url", db_url)
    assert run_gmg("dbupdate", *run).code == 0
    (head,) = Bundle.load(bundle_copy).branches.heads["core"]
    (bundle_copy / "versions" / "core" / "dddddddddddd_add_tag_colour.py").write_text(
        '"""add tag colour"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "dddddddddddd"\ndown_revision = "{head}"\n'
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n"
        '    with op.batch_alter_table("core__tags") as batch:\n'
        '        batch.add_column(sa.Column("colour", sa.String(10)))\n\n'
        "def downgrade():\n    pass\n"
    )
    declare_head(bundle_copy, head, "dddddddddddd")
    index = run_gmg("bundle-index", "--migrations", str(bundle_copy))
    assert index.code == 0, index
    check = run_gmg("dbupdate", "--check", *run)
    assert check.code == 1 and not _fast(check), check
    result = run_gmg("dbupdate", *run)
    assert result.code == 0, result
    assert result.last["applied"] == ["dddddddddddd"]
    assert "colour" in [c[0] for c in schema_of(db_url)["core__tags"]["columns"]]
    again = run_gmg("dbupdate", *run)
    assert again.code == 0 and _fast(again), again


def test_stray_tables_are_not_waved_through(db_url):
    assert run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url).code == 0
    table = sorted(Bundle.load(BUNDLE).table_names()["archivalook"])[0]
    execute(db_url, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    result = run_gmg("dbupdate", "--plugins", "none", "--database-url", db_url)
    assert result.code == 65, result


def test_database_ahead_is_not_waved_through(db_url):
    assert run_gmg("dbupdate", "--database-url", db_url).code == 0
    execute(db_url, "INSERT INTO alembic_version (version_num) VALUES ('eeeeeeeeeeee')")
    assert run_gmg("dbupdate", "--database-url", db_url).code == 65


def test_the_shipped_bundle_refuses_mysql(mysql_url):
    """MediaGoblin's history runs on PostgreSQL and SQLite (its manifest's ``backends``)."""
    from conftest import REPO

    result = run_gmg(
        "dbupdate", "--migrations", str(REPO / "migrations"), "--database-url", mysql_url
    )
    assert result.code == 64, result
    assert result.last["error"] == (
        "bundle 'mediagoblin' does not support mysql: its history runs on postgresql, sqlite "
        "only (manifest key backends)"
    )
    assert schema_of(mysql_url) == {}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # the shipped bundle's backends
def test_noop_on_the_shipped_bundle_loads_neither_sqlalchemy_nor_alembic(backend, request):
    db_url = request.getfixturevalue(URL_FIXTURES[backend])
    """The shipped bundle reads MediaGoblin's registry table too: from the index's quoted names,
    on the bare driver, like the version table (no SQLAlchemy import on a no-op)."""
    import json
    import os
    import subprocess

    from conftest import GMG, REPO

    args = [GMG, "dbupdate", "--migrations", str(REPO / "migrations"), "--database-url", db_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GMG_"))}
    assert subprocess.run(args, env=env, capture_output=True, timeout=120).returncode == 0
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    noop = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert noop.returncode == 0, noop.stderr
    events = [json.loads(line) for line in noop.stderr.splitlines() if line.startswith("{")]
    assert events[-1]["event"] == "dbupdate.done" and events[-1]["fast_path"] is True, events
    imported = {line.split("|")[-1].strip() for line in noop.stderr.splitlines() if "|" in line}
    assert "gmg_dbupdate.pipeline" in imported and "gmg_dbupdate.converge" not in imported
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "alembic")}
