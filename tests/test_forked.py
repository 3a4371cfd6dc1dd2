"""A history shaped like MediaGoblin's real one, through the CLI on both backends.

``tests/bundles/forked``: core is unlabelled and forks into two heads (one labelled
``subtitles_plugin``), each plugin is one revision rooted on core's root, and a removed
plugin's revision is retired. The engine must carry it as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import (
    backend_of,
    drop_database,
    execute,
    new_database,
    query,
    run_gmg,
    schema_of,
    slow_except,
    version_rows,
)

FORKED = Path(__file__).resolve().parent / "bundles" / "forked"
CORE_HEADS = {"c0000000000a", "c0000000000b"}
IMAGE, VIDEO, ROOT, RETIRED = "a00000000001", "b00000000001", "c00000000001", "d00000000001"


def gmg(*args: str, url: str, bundle: Path = FORKED, **kwargs):
    return run_gmg(*args, "--migrations", str(bundle), "--database-url", url, **kwargs)


def alembic(url: str, *args: str) -> None:
    result = run_gmg(
        "alembic", "--migrations", str(FORKED), "--database-url", url, *args, json_logs=False
    )
    assert result.code == 0, result


@pytest.fixture
def twin_url(db_url, request, tmp_path):
    """A second empty database on the backend of ``db_url``: the fresh install to compare with."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'twin.db'}"
        return
    url = new_database(request, backend_of(db_url), "twin")
    yield url
    drop_database(request, url)


def test_fresh_install_stamps_every_declared_head(db_url):
    result = gmg("dbupdate", url=db_url)
    assert result.code == 0, result
    assert result.last["event"] == "dbupdate.done" and result.last["changed"] is True
    assert version_rows(db_url) == CORE_HEADS | {IMAGE}
    assert set(schema_of(db_url)) == {
        "alembic_version",
        "core__users",
        "core__media",
        "core__privileges",
        "core__subtitles",
        "image__data",
    }
    assert query(db_url, "SELECT name FROM core__privileges ORDER BY id") == [
        ("admin",),
        ("active",),
    ]
    assert gmg("dbverify", url=db_url).code == 0
    again = gmg("dbupdate", url=db_url)
    assert again.code == 0 and again.last["changed"] is False, again
    check = gmg("dbupdate", "--check", url=db_url)
    assert check.code == 0 and check.last["current"] is True, check


@pytest.mark.parametrize(
    "revision", slow_except([ROOT, "c00000000002", "c0000000000a", "c0000000000b"], -1)
)
def test_each_core_revision_upgrades_to_both_heads(db_url, twin_url, revision):
    """From every core revision (one head reached, or none): both heads, image installed."""
    alembic(db_url, "upgrade", revision)
    check = gmg("dbupdate", "--check", url=db_url)
    assert check.code == 1, check
    result = gmg("dbupdate", url=db_url)
    assert result.code == 0, result
    assert result.last["bootstrapped"] == ["image"]
    assert set(result.last["applied"]) <= CORE_HEADS | {"c00000000002"}
    assert version_rows(db_url) == CORE_HEADS | {IMAGE}
    assert gmg("dbupdate", url=twin_url).code == 0
    assert schema_of(db_url) == schema_of(twin_url)
    assert gmg("dbverify", url=db_url).code == 0
    # the root revision seeded the privileges once; bootstrap laid none on top
    assert query(db_url, "SELECT count(*) FROM core__privileges") == [(2,)]


def test_late_plugin_is_created_from_models_and_stamped(db_url):
    assert gmg("dbupdate", "--plugins", "none", url=db_url).code == 0
    assert version_rows(db_url) == CORE_HEADS
    result = gmg("dbupdate", "--plugins", "image,video", url=db_url)
    assert result.code == 0, result
    assert result.last["bootstrapped"] == ["image", "video"] and result.last["applied"] == []
    assert version_rows(db_url) == CORE_HEADS | {IMAGE, VIDEO}
    assert {"image__data", "video__data"} <= set(schema_of(db_url))
    assert gmg("dbverify", "--plugins", "all", url=db_url).code == 0


def test_disabled_plugin_with_a_stamped_row_is_left_alone(db_url):
    """video's row stays resolvable (its folder is always a version location) and untouched."""
    alembic(db_url, "upgrade", VIDEO)  # core at its root, video installed
    result = gmg("dbupdate", "--plugins", "none", url=db_url)
    assert result.code == 0, result
    warned = result.named("plugin.disabled")
    assert [w["plugin"] for w in warned] == ["video"] and warned[0]["versions"] == [VIDEO]
    assert version_rows(db_url) == CORE_HEADS | {VIDEO}
    assert gmg("dbupdate", "--plugins", "none", "--check", url=db_url).code == 0


@pytest.mark.parametrize("shape", ["beside core", "alone"])
def test_retired_revision_is_removed_and_its_tables_kept(db_url, shape):
    if shape == "beside core":  # a database whose persona plugin was installed, now removed
        assert gmg("dbupdate", url=db_url).code == 0
        execute(db_url, f"INSERT INTO alembic_version VALUES ('{RETIRED}')")
    else:  # the retired row is the only one that stands for core's root
        alembic(db_url, "upgrade", ROOT)
        execute(db_url, f"UPDATE alembic_version SET version_num = '{RETIRED}'")
    execute(db_url, "CREATE TABLE persona__emails (id INTEGER PRIMARY KEY, email VARCHAR(50))")
    execute(db_url, "INSERT INTO persona__emails VALUES (1, 'a@example.org')")

    check = gmg("dbupdate", "--check", url=db_url)
    assert check.code == 1, check
    assert {"component": "persona", "action": "retire", "revision": RETIRED} in (
        check.last["pending"]
    )
    result = gmg("dbupdate", url=db_url)
    assert result.code == 0, result
    assert result.last["changed"] is True and result.last["retired"] == [RETIRED]
    (retired,) = result.named("revision.retired")
    assert retired["revision"] == RETIRED and retired["tables_left"] == ["persona__emails"]
    assert retired["replaced_by"] == (None if shape == "beside core" else ROOT)
    assert version_rows(db_url) == CORE_HEADS | {IMAGE}
    assert query(db_url, "SELECT email FROM persona__emails") == [("a@example.org",)]
    verify = gmg("dbverify", url=db_url)
    assert verify.code == 0 and verify.last["ignored"]["retired"] == ["persona__emails"], verify
    assert gmg("dbupdate", url=db_url).last["changed"] is False


def test_a_revision_unknown_and_not_retired_is_still_ahead(db_url):
    assert gmg("dbupdate", url=db_url).code == 0
    execute(db_url, "INSERT INTO alembic_version VALUES ('e00000000001')")
    result = gmg("dbupdate", url=db_url)
    assert result.code == 65 and result.last["revisions"] == ["e00000000001"], result


def test_undeclared_head_exits_64_and_writes_nothing(db_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(FORKED, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "versions" / "core" / "c0000000000c_third_head.py").write_text(
        'revision = "c0000000000c"\ndown_revision = "c00000000002"\n'
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    result = gmg("dbupdate", url=db_url, bundle=bundle)
    assert result.code == 64, result
    assert "undeclared heads ['c0000000000c']" in result.last["error"]
    assert schema_of(db_url) == {}
