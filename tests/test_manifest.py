"""Manifest v2 validation and the revision-graph checks: pure logic, no database."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from gmg_dbupdate import classify, errors, history
from gmg_dbupdate.bundle import Bundle
from gmg_dbupdate.config import default_bundle_dir
from gmg_dbupdate.manifest import TableName, load_manifest, table_name

FORKED = Path(__file__).resolve().parent / "bundles" / "forked"
BUNDLE = Bundle.load(FORKED)
GRAPH = BUNDLE.branches


def test_the_shipped_bundle_loads_and_its_index_is_current():
    """Whatever app the default bundle carries, it loads, checks and has a current index."""
    bundle = Bundle.load(default_bundle_dir())
    bundle.check_handoff()
    assert bundle.core.heads and bundle.load_index()


def test_forked_history_is_taken_as_the_app_wrote_it():
    assert GRAPH.heads["core"] == ("c0000000000a", "c0000000000b")
    assert GRAPH.owner["a00000000001"] == "image"  # rooted on core's root, owned by its folder
    assert GRAPH.owner["c0000000000b"] == "core"  # labelled subtitles_plugin, in core's folder
    assert GRAPH.positions(["a00000000001"]) == {
        "core": frozenset({"c00000000001"}),
        "image": frozenset({"a00000000001"}),
    }
    rows = ["c0000000000a", "c0000000000b", "a00000000001"]
    assert all(GRAPH.at_heads(c, p) for c, p in GRAPH.positions(rows).items())
    assert not GRAPH.at_heads("core", frozenset({"c0000000000a"}))


def _with_core(**changes):
    manifest = BUNDLE.manifest
    return replace(manifest, core=replace(manifest.core, **changes))


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"heads": ("c0000000000a",)}, "undeclared heads ['c0000000000b']"),
        ({"heads": ("c0000000000a", "c0000000000b", "c00000000002")}, "not heads"),
        ({"heads": ("c0000000000a", "c0000000000b", "a00000000001")}, "not heads"),
        ({"base": ("c00000000002",)}, "declares base"),
    ],
)
def test_graph_checks_refuse_what_is_broken(changes, words):
    with pytest.raises(errors.BundleError, match=words.replace("[", r"\[").replace("]", r"\]")):
        history.check(_with_core(**changes), GRAPH)


def test_a_retired_revision_still_shipped_is_refused():
    manifest = BUNDLE.manifest
    retired = manifest.retired["d00000000001"]
    shipped = {"a00000000001": replace(retired, revision="a00000000001")}
    with pytest.raises(errors.BundleError, match="still shipped"):
        history.check(replace(manifest, retired=shipped), GRAPH)
    orphan = {"d00000000001": replace(retired, down_revision="f00000000000")}
    with pytest.raises(errors.BundleError, match="does not ship"):
        history.check(replace(manifest, retired=orphan), GRAPH)


@pytest.mark.parametrize(
    "rows, effective",
    [
        (["c0000000000a", "c0000000000b", "d00000000001"], ["c0000000000a", "c0000000000b"]),
        (["d00000000001"], ["c00000000001"]),  # nothing else stands for its down_revision
        (["a00000000001", "d00000000001"], ["a00000000001"]),  # image's row implies core's root
    ],
)
def test_retired_rows_give_way_to_their_down_revision_only_when_needed(rows, effective):
    assert classify.effective_rows(BUNDLE, rows) == effective


@pytest.mark.parametrize(
    "text, expected",
    [
        ("alembic_version", TableName("alembic_version")),
        ("app.Alembic_Version", TableName("Alembic_Version", "app")),
    ],
)
def test_plain_identifiers_are_accepted(text, expected):
    assert table_name(text, "t") == expected


@pytest.mark.parametrize("text", ['a"b', "a b", "1abc", "a.b.c", "", "a;b", "x" * 64, "é"])
def test_anything_else_is_not_an_identifier(text):
    with pytest.raises(errors.BundleError, match="not a plain SQL identifier"):
        table_name(text, "t")


@pytest.fixture
def forked_copy(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(FORKED, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.parametrize(
    "old, new, words",
    [
        ('versions = "versions/image"', 'versions = "versions/core"', "claimed by"),
        ('module = "app.media_types.video"', 'module = "app.media_types.image"', "share a module"),
        ('heads = ["a00000000001"]', "heads = []", "names no revision"),
        ('heads = ["a00000000001"]', 'heads = ["a000-0001"]', "no revision id"),
        ('module = "__main__"', 'module = "not a module"', "dotted module name"),
        ('"app.plugins.geolocation"', '"app.media_types.video"', "own tables"),
        ('down_revision = "c00000000001"', 'down_revision = ["a", "b"]', "one revision"),
        ('default_plugins = ["image"]', 'default_plugins = ["nosuch"]', "unknown plugins"),
        ('tables = ["persona__emails"]', 'tables = ["persona emails"]', "plain SQL identifier"),
        ('models = "models/core.py"', 'models = "/etc/passwd"', "leaves the bundle"),
        ('name = "forked"', "name = 3", "must be a string"),
    ],
)
def test_manifest_defects_are_bundle_errors(forked_copy, old, new, words):
    manifest = forked_copy / "manifest.toml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))
    with pytest.raises(errors.BundleError, match=words):
        load_manifest(forked_copy)


def test_one_revision_in_two_components_is_refused(forked_copy):
    core = forked_copy / "versions" / "core" / "c00000000002_data_only.py"
    shutil.copy(core, forked_copy / "versions" / "video" / "c00000000002_again.py")
    with pytest.raises(errors.BundleError, match="history is broken"):
        Bundle.load(forked_copy).check_handoff()  # reads and checks the history
