"""MediaGoblin's legacy registry (core__migrations): our steps, driven through the sealed runner.

Starting points are real: the MediaGoblin 0.8.1 schema as dumped (``v081_fresh``), then every
later registry level built by walking our own steps. The end point is compared with MediaGoblin
0.9.0's fresh install (``v090_fresh``, names included) by an independent catalog fingerprint
(``tests/oracle.py``, the bundle's oracle), on both backends.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import URL_FIXTURES, execute, query
from oracle import diff, fingerprint
from registry_build import (
    CREATED,
    REGISTRY_DIR,
    build_registry_db,
    core_step,
    load_schema,
    run_registry,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """MediaGoblin's shipped history runs on SQLite and PostgreSQL only (its manifest's
    ``backends``): this file's tests stay on those two."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


pytestmark = pytest.mark.slow


SHARED = Path("/work/shared/mediagoblin/schemas")


def shared(state: str, backend: str) -> str:
    return (SHARED / f"{state}.{backend}.fingerprint.txt").read_text(encoding="utf-8")


def without_tables(text: str, *tables: str) -> str:
    """A fingerprint without the blocks of ``tables``."""
    out, skip = [], False
    for line in text.splitlines():
        if line.startswith("table "):
            skip = line[len("table ") :] in tables
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "pg"


def registry_rows(url: str) -> dict[str, int]:
    return dict(query(url, "SELECT name, version FROM core__migrations"))


def assert_v090(url: str) -> None:
    expected = without_tables(shared("v090_fresh", backend_of(url)), "alembic_version")
    assert diff(expected, fingerprint(url)) == []


def gmr(url: str, model_type: str, pk: int) -> int:
    rows = query(
        url,
        "SELECT id FROM core__generic_model_reference WHERE model_type = :t AND obj_pk = :p",
        t=model_type,
        p=pk,
    )
    assert len(rows) == 1, (model_type, pk, rows)
    return rows[0][0]


def as_datetime(value):
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) else value


def assert_samples_at_44(url: str) -> None:
    users = query(url, "SELECT id, type, created, updated FROM core__users ORDER BY id")
    assert [(u[0], u[1]) for u in users] == [(1, "user_local"), (2, "user_local")]
    assert all(as_datetime(u[2]) == as_datetime(u[3]) for u in users)
    local = query(
        url,
        "SELECT id, username, email, pw_hash, uploaded, wants_notifications "
        "FROM core__local_users ORDER BY id",
    )
    assert [tuple(r[:5]) for r in local] == [
        (1, "alice", "alice@example.org", "x", 10),
        (2, "bob", "bob@example.org", "x", 20),
    ]
    assert [bool(r[5]) for r in local] == [True, False]
    entries = query(
        url, "SELECT id, actor, slug, remote, created, updated FROM core__media_entries"
    )
    assert sorted((e[0], e[1], e[2], bool(e[3])) for e in entries) == [
        (1, 1, "first", False),
        (2, 1, "second", False),
    ]
    assert all(as_datetime(e[4]) == as_datetime(e[5]) for e in entries)
    assert query(url, "SELECT media_entry, width, height FROM image__mediadata") == [(1, 640, 480)]
    entry1 = gmr(url, "core__media_entries", 1)
    comment1 = gmr(url, "core__media_comments", 1)
    assert query(url, "SELECT target_id, comment_id FROM core__comment_links") == [
        (entry1, comment1)
    ]
    comment = query(url, "SELECT actor, content, created, updated FROM core__media_comments")
    assert [(c[0], c[1]) for c in comment] == [(2, "Nice picture")]
    assert as_datetime(comment[0][2]) == as_datetime(comment[0][3])
    collection = query(
        url, "SELECT actor, num_items, type, created, updated FROM core__collections"
    )
    assert [(c[0], c[1], c[2]) for c in collection] == [(1, 1, "core-user-defined")]
    assert as_datetime(collection[0][3]) == as_datetime(collection[0][4])
    assert query(url, "SELECT collection, object_id FROM core__collection_items") == [(1, entry1)]
    assert sorted(query(url, "SELECT id, object_id FROM core__notifications")) == [
        (1, comment1),
        (2, gmr(url, "core__processing_notifications", 2)),
    ]
    assert sorted(query(url, "SELECT id, object_id FROM core__reports")) == [
        (1, entry1),
        (2, comment1),
    ]
    assert sorted(query(url, "SELECT id, object_id, target_id FROM core__activities")) == [
        (1, entry1, None),
        (2, comment1, entry1),
    ]
    assert query(url, "SELECT id, application_type FROM core__clients") == [
        ("dummy-client", "dummy")
    ]
    assert query(url, "SELECT token, client, callback FROM core__request_tokens") == [
        ("dummy-request-token", "dummy-client", "oob")
    ]
    assert query(url, "SELECT token, request_token FROM core__access_tokens") == [
        ("dummy-access-token", "dummy-request-token")
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_v081_database_walks_to_exactly_v090(backend, request):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    build_registry_db(url, 26)
    assert diff(shared("v081_fresh", backend_of(url)), fingerprint(url)) == []
    code, events, stderr = run_registry(url, [core_step(44)])
    assert code == 0, (events, stderr)
    applied = [(e["version"], e["name"]) for e in events if e["event"] == "legacy.applied"]
    assert [v for v, _ in applied] == list(range(27, 45))
    assert applied[0] == (27, "create_generic_model_reference")
    assert applied[-1] == (44, "activity_cleanup")
    assert all(e["component"] == "core" and e["registry_name"] == "__main__" for e in events)
    assert registry_rows(url)["__main__"] == 44
    assert_v090(url)
    assert_samples_at_44(url)
    # nothing left to do: a second walk applies nothing
    code, events, _ = run_registry(url, [core_step(44)])
    assert (code, events) == (0, [])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_step_by_step_walk_reaches_exactly_v090(backend, request):
    """Every level 27..44 reached by its own runner run (how ``build_registry_db`` builds each
    level's template): at 44 the schema is exactly v090_fresh, the sample rows carried over.

    Walks from every level 27..44 to head_fresh through the CLI, on both backends, are
    ``test_registry_cli.test_every_registry_level_reaches_head_fresh``; the one walk 26 -> 44
    is ``test_v081_database_walks_to_exactly_v090``.
    """
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    build_registry_db(url, 44)
    assert registry_rows(url)["__main__"] == 44
    assert_v090(url)
    assert_samples_at_44(url)
    code, events, stderr = run_registry(url, [core_step(44)])
    assert (code, events) == (0, []), stderr


@pytest.mark.parametrize("version", [0, 20, 25])
def test_older_than_0_8_is_refused_with_a_hint(sqlite_url, version):
    load_schema(sqlite_url)
    execute(sqlite_url, f"UPDATE core__migrations SET version = {version} WHERE name = '__main__'")
    code, events, _ = run_registry(sqlite_url, [core_step(44)])
    assert code == 65
    (refused,) = events
    assert refused["event"] == "legacy.refused"
    assert refused["version"] == version and refused["lowest"] == 26
    assert "0.8.1" in refused["hint"]
    assert registry_rows(sqlite_url)["__main__"] == version


def test_a_failed_step_rolls_back_with_its_row(db_url):
    build_registry_db(db_url, 36)
    # a state the next step cannot handle: 37 needs core__collection_items.media_entry
    execute(db_url, "ALTER TABLE core__collection_items RENAME COLUMN media_entry TO gone")
    before = fingerprint(db_url)
    code, events, _ = run_registry(db_url, [core_step(44)])
    assert code == 70
    assert events[-1]["event"] == "legacy.failed"
    assert (events[-1]["version"], events[-1]["name"]) == (37, "federation_collection_schema")
    assert registry_rows(db_url)["__main__"] == 36
    assert fingerprint(db_url) == before


def test_record_sets_rows_for_components_created_from_models(sqlite_url):
    build_registry_db(sqlite_url, 44)  # sample rows or none: the template the others use
    execute(sqlite_url, "DELETE FROM core__migrations WHERE name = 'mediagoblin.media_types.video'")
    record = [{"component": "video", "name": "mediagoblin.media_types.video", "version": 3}]
    code, events, _ = run_registry(sqlite_url, [core_step(44)], record)
    assert code == 0
    assert events == [
        {
            "event": "legacy.recorded",
            "component": "video",
            "registry_name": "mediagoblin.media_types.video",
            "version": 3,
        }
    ]
    assert registry_rows(sqlite_url)["mediagoblin.media_types.video"] == 3


def test_image_1_moves_gps_to_a_location(db_url):
    load_schema(db_url)
    for col in ("gps_longitude", "gps_latitude", "gps_altitude", "gps_direction"):
        kind = "FLOAT" if backend_of(db_url) == "sqlite" else "double precision"
        execute(db_url, f"ALTER TABLE image__mediadata ADD COLUMN {col} {kind}")
    execute(
        db_url,
        "UPDATE core__migrations SET version = 0 WHERE name = 'mediagoblin.media_types.image'",
        "INSERT INTO core__users (id, username, email, created) "
        "VALUES (1, 'alice', 'a@example.org', '2015-12-01 12:00:00')",
        "INSERT INTO core__media_entries (id, uploader, title, created, media_type, state) "
        "VALUES (1, 1, 't', '2015-12-01 12:00:00', 'mediagoblin.media_types.image', 'processed'),"
        " (2, 1, 'u', '2015-12-01 12:00:00', 'mediagoblin.media_types.image', 'processed')",
        "INSERT INTO image__mediadata (media_entry, width, gps_longitude, gps_latitude) "
        "VALUES (1, 10, 2.5, 48.75), (2, 20, NULL, NULL)",
    )
    step = {
        "component": "image",
        "name": "mediagoblin.media_types.image",
        "module": str(REGISTRY_DIR / "image.py"),
        "to": 1,
    }
    code, events, stderr = run_registry(db_url, [step])
    assert code == 0, (events, stderr)
    assert [(e["version"], e["name"]) for e in events] == [(1, "remove_gps_from_image")]
    assert diff(shared("v081_fresh", backend_of(db_url)), fingerprint(db_url)) == []
    ((location_id, position),) = query(db_url, "SELECT id, position FROM core__locations")
    assert json.loads(position) == {"longitude": 2.5, "latitude": 48.75}
    assert sorted(query(db_url, "SELECT id, location FROM core__media_entries")) == [
        (1, location_id),
        (2, None),
    ]
    assert sorted(query(db_url, "SELECT media_entry, width FROM image__mediadata")) == [
        (1, 10),
        (2, 20),
    ]


def test_video_1_to_3(db_url):
    load_schema(db_url)
    execute(
        db_url,
        "ALTER TABLE video__mediadata DROP COLUMN orig_metadata",
        "UPDATE core__migrations SET version = 0 WHERE name = 'mediagoblin.media_types.video'",
        "INSERT INTO core__file_keynames (id, name) VALUES (1, 'webm_640'), (2, 'original')",
        "INSERT INTO core__users (id, username, email, created) "
        "VALUES (1, 'alice', 'a@example.org', '2015-12-01 12:00:00')",
        "INSERT INTO core__media_entries (id, uploader, title, created, media_type, state) "
        "VALUES (1, 1, 't', '2015-12-01 12:00:00', 'mediagoblin.media_types.video', 'processed')",
        "INSERT INTO video__mediadata (media_entry, width, height) VALUES (1, 640, 360)",
    )
    module = str(REGISTRY_DIR / "video.py")
    step = {"component": "video", "name": "mediagoblin.media_types.video", "module": module}
    code, events, stderr = run_registry(db_url, [dict(step, to=1)])
    assert code == 0, (events, stderr)
    old = {
        "videoheight": 360,
        "videowidth": 640,
        "videorate": [25, 1],
        "audiochannels": 2,
        "videolength": 4,
        "mimetype": "video/webm",
        "tags": {"encoder": "x", "audio-codec": "Vorbis", "title": "clip"},
    }
    execute(
        db_url,
        "UPDATE video__mediadata SET orig_metadata = '" + json.dumps(old) + "'",
    )
    code, events, stderr = run_registry(db_url, [dict(step, to=3)])
    assert code == 0, (events, stderr)
    assert [(e["version"], e["name"]) for e in events] == [
        (2, "webm_640_to_webm_video"),
        (3, "change_metadata_format"),
    ]
    assert diff(shared("v081_fresh", backend_of(db_url)), fingerprint(db_url)) == []
    assert sorted(query(db_url, "SELECT id, name FROM core__file_keynames")) == [
        (1, "webm_video"),
        (2, "original"),
    ]
    ((raw,),) = query(db_url, "SELECT orig_metadata FROM video__mediadata")
    assert json.loads(raw) == {
        "video": [{"height": 360, "width": 640, "rate": [25, 1], "tags": {"encoder": "x"}}],
        "audio": [{"channels": 2, "tags": {"audio-codec": "Vorbis"}}],
        "common": {"length": 4, "tags": {"mimetype": "video/webm", "title": "clip"}},
    }
    assert registry_rows(db_url)["mediagoblin.media_types.video"] == 3


def test_created_stays_the_sample_time(sqlite_url):
    build_registry_db(sqlite_url, 44)
    ((created,),) = query(sqlite_url, "SELECT created FROM core__users WHERE id = 1")
    assert as_datetime(created) == CREATED


@pytest.mark.parametrize("level", [26, 35, 44])
def test_handoff_then_alembic_reaches_head_fresh(db_url, level):
    """Walk to 44, stamp the handoff revisions, run the bundle's Alembic history: head_fresh.

    Uses the MediaGoblin bundle (``migrations/`` with its revisions) and its loaders
    (``tests/mediagoblin_dbs.py``).
    """
    from alembic import command

    import mediagoblin_dbs as mdb

    build_registry_db(db_url, level)
    code, events, stderr = run_registry(db_url, [core_step(44)])
    assert code == 0, (events, stderr)
    # every registry row of the v081 install: core 44 -> 52bf0ccbedc1 (implied by the plugins'
    # first revisions, which descend from it), image 1, video 3, the others 0 -> first revision
    firsts = [(c.get("base") or c["heads"])[0] for c in mdb.components() if c["name"] != "core"]
    engine = mdb.engine_for(db_url)
    try:
        with engine.begin() as conn:
            command.stamp(mdb.alembic_config(conn), firsts)
    finally:
        engine.dispose()
    mdb.upgrade_heads(db_url)
    assert diff(shared("head_fresh", backend_of(db_url)), fingerprint(db_url)) == []
    rows = mdb.sample_rows(db_url)
    assert rows["user"] == [(1, "alice", "alice@example.org"), (2, "bob", "bob@example.org")]


# --- the engine's side (entrypoint/gmg_dbupdate/registry.py), on manifest v2 shaped objects ---


def _manifest():
    from types import SimpleNamespace as NS

    def scripts(path, lowest, handoff, hint=""):
        return NS(
            migrations=REGISTRY_DIR / path,
            lowest_supported=lowest,
            handoff=handoff,
            too_old_hint=hint,
        )

    core = NS(
        name="core",
        plugin=False,
        module="__main__",
        base=None,
        registry=scripts("core.py", 26, {44: "52bf0ccbedc1"}, "upgrade with MediaGoblin 0.8.1"),
    )
    image = NS(
        name="image",
        plugin=True,
        module="mediagoblin.media_types.image",
        base=("a98c1a320e88",),
        registry=scripts("image.py", 0, {1: "a98c1a320e88"}),
    )
    video = NS(
        name="video",
        plugin=True,
        module="mediagoblin.media_types.video",
        base=("38feb829c545",),
        registry=scripts("video.py", 0, {3: "38feb829c545"}),
    )
    audio = NS(
        name="audio",
        plugin=True,
        module="mediagoblin.media_types.audio",
        base=("e9212d3a12d3",),
        registry=None,
    )
    components = [core, image, video, audio]
    table = type("T", (), {"name": "core__migrations", "schema": None, "__str__": lambda s: s.name})
    spec = NS(table=table(), name_column="name", version_column="version", marker="__main__")
    return NS(
        legacy_registry=spec,
        components=components,
        component=lambda n: next(c for c in components if c.name == n),
    )


def test_engine_decides_like_mediagoblin(sqlite_url):
    from gmg_dbupdate import registry as reg
    from gmg_dbupdate.errors import StateRefused

    manifest = _manifest()
    assert not reg.decide(manifest, []).active  # 0.9+: an empty core__migrations
    assert not reg.decide(manifest, [("mediagoblin.media_types.image", 1)]).active  # no marker
    rows = [
        ("__main__", 26),
        ("mediagoblin.media_types.image", 1),
        ("mediagoblin.media_types.video", 3),
        ("mediagoblin.media_types.audio", 0),
        ("mediagoblin.plugins.persona", 0),
    ]
    state = reg.decide(manifest, rows)
    assert state.versions == {"core": 26, "image": 1, "video": 3, "audio": 0}
    assert state.unknown == {"mediagoblin.plugins.persona": 0}
    core = reg.view(manifest.component("core"))
    assert reg.step("core", core, 26) == {
        "component": "core",
        "name": "__main__",
        "module": str(REGISTRY_DIR / "core.py"),
        "to": 44,
    }
    assert reg.handoff_revision(manifest.component("audio"), 0) == "e9212d3a12d3"
    assert reg.handoff_revision(manifest.component("video"), 3) == "38feb829c545"
    with pytest.raises(StateRefused, match="0.8.1"):
        reg.decide(manifest, [("__main__", 25)])
    with pytest.raises(StateRefused, match="beyond"):
        reg.decide(manifest, [("__main__", 45)])
    assert reg.view(manifest.component("audio")).handoff == {0: "e9212d3a12d3"}
    assert reg.view(manifest.component("core")).target(30) == 44


def test_engine_walks_and_records_through_the_sealed_runner(sqlite_url):
    from gmg_dbupdate import registry as reg
    from gmg_dbupdate.config import Settings
    from gmg_dbupdate.legacy import run_legacy

    manifest = _manifest()
    build_registry_db(sqlite_url, 40)
    execute(sqlite_url, "DELETE FROM core__migrations WHERE name LIKE '%video'")
    engine = sa.create_engine(sqlite_url)
    rows = query(sqlite_url, "SELECT name, version FROM core__migrations")
    state = reg.decide(manifest, rows)
    walk = [reg.step("core", reg.view(manifest.component("core")), state.versions["core"])]
    record = reg.records(manifest, [manifest.component("video")])
    settings = Settings(sqlite_url, None, REGISTRY_DIR, None, None, 10, 10, "json", "info")
    job = reg.job(manifest, walk, record)
    applied = run_legacy(settings, [], runner=reg.RUNNER, extra=job)
    assert [(e["version"], e["name"]) for e in applied] == [
        (41, "federation_comments"),
        (42, "consolidate_reports"),
        (43, "consolidate_notification"),
        (44, "activity_cleanup"),
    ]
    assert registry_rows(sqlite_url)["__main__"] == 44
    assert registry_rows(sqlite_url)["mediagoblin.media_types.video"] == 3
    with engine.begin() as conn:
        reg.record_rows(conn, manifest, [{"name": "mediagoblin.plugins.x", "version": 0}])
    engine.dispose()
    assert registry_rows(sqlite_url)["mediagoblin.plugins.x"] == 0
    assert_v090(sqlite_url)
