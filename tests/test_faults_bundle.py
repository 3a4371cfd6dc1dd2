"""Broken bundles (64), malformed version facts (65) and identifiers from the manifest, through
the CLI. Each case checks the exit code, the final event and the database afterwards; each is a
row of RELIABILITY.md."""

from __future__ import annotations

import shutil

import pytest

from conftest import BUNDLE, backend_of, execute, run_gmg, schema_of, version_rows
from gmg_dbupdate.bundle import Bundle

INVENTED = Bundle.load(BUNDLE)


@pytest.fixture
def bundle_copy(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def dbupdate(bundle, url, *args):
    return run_gmg("dbupdate", "--migrations", str(bundle), "--database-url", url, *args)


def edit_manifest(bundle, old: str, new: str) -> None:
    manifest = bundle / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- broken bundles: 64, before anything is written -----------------------------------------

BROKEN_REVISIONS = {
    "a syntax error": "revision = 'eeeeeeeeeeee'\ndown_revision = None\ndef upgrade(:\n",
    "an import that fails": "import no_such_module_anywhere\nrevision = 'eeeeeeeeeeee'\n",
}


@pytest.mark.reliability(
    case="a revision script that does not import", expected="exit 64 naming the file"
)
@pytest.mark.parametrize("defect", sorted(BROKEN_REVISIONS))
def test_revision_that_does_not_import_exits_64(bundle_copy, db_url, defect):
    script = bundle_copy / "versions" / "image" / "eeeeeeeeeeee_broken.py"
    script.write_text(BROKEN_REVISIONS[defect])
    result = dbupdate(bundle_copy, db_url)
    assert result.code == 64, result
    assert "eeeeeeeeeeee_broken.py" in result.last["error"], result.last
    assert schema_of(db_url) == {}


TOP = 'name = "mediagoblin"\n'
MANIFEST_DEFECTS = {  # defect -> [(old, new)], every occurrence replaced
    "core is a string": [(TOP, TOP + 'core = "core"\n'), ("[core", "[core_off")],
    "plugins is a string": [(TOP, TOP + 'plugins = "image"\n'), ("[[plugins]]", "[[off]]")],
    "plugins is a table": [("[[plugins]]", "[[off]]"), (TOP, TOP + '[plugins]\nname = "image"\n')],
    "versions leaves the bundle": [
        ('versions = ["versions/video"]', 'versions = "../../../../../../../../etc"')
    ],
    "heads is a number": [('heads = ["639c5e971310"]', "heads = 639")],
    "a misspelt key": [('heads = ["639c5e971310"]', 'heads = ["639c5e971310"]\nhaeds = []')],
    "backends names an unknown one": [(TOP, TOP + 'backends = ["sqlite", "oracle"]\n')],
    "backends is empty": [(TOP, TOP + "backends = []\n")],
    "backends is a string": [(TOP, TOP + 'backends = "sqlite"\n')],
}


@pytest.mark.reliability(
    case="a bundle run on a backend its manifest does not list",
    expected="exit 64 naming the supported backends, nothing written",
)
def test_backend_the_manifest_does_not_list_exits_64(bundle_copy, db_url):
    """``backends`` limits a bundle to the databases its history runs on: any other one is
    refused before anything is read or written; a listed one runs."""

    others = sorted({"sqlite", "postgresql", "mysql"} - {backend_of(db_url)})
    manifest = bundle_copy / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace(TOP, TOP + f"backends = {others!r}\n".replace("'", '"')))
    result = dbupdate(bundle_copy, db_url)
    assert result.code == 64, result
    error = result.last["error"]
    assert "\n" not in error and f"does not support {backend_of(db_url)}" in error, error
    assert ", ".join(others) in error, error
    assert schema_of(db_url) == {}
    manifest.write_text(text.replace(TOP, TOP + f'backends = ["{backend_of(db_url)}"]\n'))
    assert dbupdate(bundle_copy, db_url).code == 0


@pytest.mark.reliability(
    case="a manifest of the wrong shape", expected="exit 64 naming the key, nothing written"
)
@pytest.mark.parametrize("defect", sorted(MANIFEST_DEFECTS))
def test_manifest_of_the_wrong_shape_exits_64(bundle_copy, sqlite_url, defect):
    manifest = bundle_copy / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    for old, new in MANIFEST_DEFECTS[defect]:
        assert old in text
        text = text.replace(old, new)
    manifest.write_text(text, encoding="utf-8")
    result = dbupdate(bundle_copy, sqlite_url)
    assert result.code == 64, result
    assert "manifest" in result.last["error"], result.last
    assert schema_of(sqlite_url) == {}


@pytest.mark.reliability(
    case="an identifier in the manifest that is not one (6)",
    expected="exit 64 on every run, nothing written",
)
@pytest.mark.parametrize("table", ['alembic"version', "v; DROP TABLE x", "a.b.c", ""])
def test_identifier_that_is_not_one_exits_64(bundle_copy, db_url, table):
    edit_manifest(bundle_copy, 'version_table = "alembic_version"', f"version_table = {table!r}")
    for _ in range(2):
        result = dbupdate(bundle_copy, db_url)
        assert result.code == 64, result
        assert "not a plain SQL identifier" in result.last["error"]
    assert schema_of(db_url) == {}


@pytest.mark.reliability(
    case="a version table named by a reserved word or in mixed case (6)",
    expected="exit 0 on every run, the light path included",
)
@pytest.mark.parametrize("table", ["order", "Alembic_Version"])
def test_unusual_identifiers_are_quoted_on_both_paths(bundle_copy, db_url, table):
    edit_manifest(bundle_copy, 'version_table = "alembic_version"', f'version_table = "{table}"')
    assert run_gmg("bundle-index", "--migrations", str(bundle_copy)).code == 0
    first = dbupdate(bundle_copy, db_url)
    assert first.code == 0, first
    again = dbupdate(bundle_copy, db_url)
    assert again.code == 0 and again.last["changed"] is False, again
    assert again.last.get("fast_path") is True, again  # the light path read the table
    assert table in schema_of(db_url)
    expected = {h for c in ("core", "image", "video") for h in INVENTED.branches.heads[c]}
    assert version_rows(db_url, f'"{table}"') == expected


# --- database states: 65, nothing changed ---------------------------------------------------


def _assert_refused(result, *words: str) -> None:
    assert result.code == 65, result
    assert result.last["event"] == "dbupdate.failed"
    for word in words:
        assert word in result.last["error"], result.last


@pytest.mark.reliability(case="a NULL version_num", expected="exit 65, nothing changed")
def test_null_version_num_exits_65(db_url):
    execute(db_url, "CREATE TABLE alembic_version (version_num VARCHAR(32))")
    execute(db_url, "INSERT INTO alembic_version VALUES (NULL)")
    before = schema_of(db_url)
    result = run_gmg("dbupdate", "--database-url", db_url)
    _assert_refused(result, "malformed version_num")
    assert schema_of(db_url) == before


@pytest.mark.reliability(case="a version table of the wrong shape", expected="exit 65")
def test_version_table_of_the_wrong_shape_exits_65(db_url):
    execute(
        db_url,
        "CREATE TABLE alembic_version (id INTEGER)",
        "INSERT INTO alembic_version VALUES (1)",
    )
    result = run_gmg("dbupdate", "--database-url", db_url)
    _assert_refused(result, "wrong shape", "version_num")
    check = run_gmg("dbupdate", "--check", "--database-url", db_url)
    assert check.code == 65, check


@pytest.mark.reliability(case="a non-numeric legacy version", expected="exit 65, nothing changed")
def test_non_numeric_legacy_version_exits_65(db_url):
    execute(
        db_url,
        "CREATE TABLE migrate_version (repository_id VARCHAR(250) PRIMARY KEY, "
        "repository_path TEXT, version VARCHAR(20))",
        f"INSERT INTO migrate_version VALUES ('{INVENTED.core.legacy.repository_id}', 'x', 'abc')",
    )
    before = schema_of(db_url)
    result = run_gmg("dbupdate", "--database-url", db_url)
    _assert_refused(result, "malformed row", "'abc'")
    assert schema_of(db_url) == before


@pytest.mark.reliability(
    case="version rows whose tables are missing", expected="exit 65 naming the tables"
)
def test_version_rows_without_their_tables_exit_65(db_url):
    assert run_gmg("dbupdate", "--database-url", db_url).code == 0
    table = sorted(INVENTED.table_names()["image"])[0]
    cascade = " CASCADE" if db_url.startswith("postgresql") else ""
    execute(db_url, f"DROP TABLE {table}{cascade}")
    result = run_gmg("dbupdate", "--database-url", db_url)
    _assert_refused(result, table, "missing")
    assert run_gmg("dbupdate", "--check", "--database-url", db_url).code == 65
