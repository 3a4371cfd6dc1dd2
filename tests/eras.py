"""Representative rows of every era of the schema, and what must become of them.

An :class:`Era` says where a database stands: the sqlalchemy-migrate version of each component
still under legacy control, and the Alembic revisions applied (every one, not only the tips).
:func:`seed` inserts rows that are valid for exactly that schema; after ``gmg dbupdate`` has
brought the database to every head, :func:`assert_survived` checks that each row is still
there, transformed the way the legacy scripts and the revisions intend:

* legacy 006: media files move from the JSON column to ``core__media_files`` (unknown keynames
  are added after the standard three; unreadable JSON keeps no files)
* legacy 007: comment ``body`` becomes ``content``
* legacy 008: duplicate collection slugs of one creator get ``-<id>`` appended
* legacy 003/010 and 6cc2e2d6d8bd: preference columns default to "on", licenses to NULL
* image legacy 002: the GPS position is read out of the EXIF JSON
* 84879133b615: user flags become privilege rows
* 27bb56155eac: media ``uploader`` becomes ``actor``
* cd31488a3b71: ``updated`` is back-filled from ``created``
* image bba87e926ff2: existing images are upright (orientation 1)
* video c3007ff80756/639c5e971310: the stock transcoding profiles, 360p switched off
* archivalook 80cc12f3f6c4: featured entries are credited to the first administrator

Rows seeded in a later era must come through unchanged. Only SQLAlchemy Core, through the
``conftest`` helpers; nothing here imports the engine.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from conftest import BUNDLE, engine_for

_MANIFEST = tomllib.loads((BUNDLE / "manifest.toml").read_text(encoding="utf-8"))
# component -> {legacy version: Alembic revision it equals}
HANDOFF: dict[str, dict[int, str]] = {
    entry["name"]: {int(v): r for v, r in entry["legacy"]["handoff"].items()}
    for entry in [_MANIFEST["core"], *_MANIFEST.get("plugins", [])]
    if "legacy" in entry
}


@dataclass(frozen=True)
class Era:
    """Where a database stands: legacy versions per component, Alembic revisions applied."""

    legacy: dict[str, int] = field(default_factory=dict)
    revisions: frozenset[str] = frozenset()

    def has(self, revision: str) -> bool:
        return revision in self.revisions

    def level(self, component: str) -> int | None:
        """The component's legacy version, or the one its Alembic position equals.

        ``None`` when the component is not installed at all.
        """
        if component in self.legacy:
            return self.legacy[component]
        reached = [v for v, r in HANDOFF.get(component, {}).items() if r in self.revisions]
        return max(reached) if reached else None

    def installed(self, component: str) -> bool:
        return self.level(component) is not None


# Revisions whose effects the rows depend on.
PRIVILEGES = "84879133b615"
ACTOR = "27bb56155eac"
REPORTS = "0b8168aadeec"
NOTIFICATIONS = "4059b5e8f020"
LOCATIONS = "049d1330c8d8"
UPDATED = "cd31488a3b71"
IMAGE_ORIENTATION = "bba87e926ff2"
VIDEO_BASE, VIDEO_PROFILES, VIDEO_SWITCH = "68c6e58bb4de", "c3007ff80756", "639c5e971310"
FEATURED_BASE, FEATURED_BY = "1976492c3762", "80cc12f3f6c4"

# What the bundle's current schema holds in every database, however it got there.
ALL_PRIVILEGES = ("admin", "active", "uploader", "reporter", "commenter", "moderator")
STANDARD_KEYNAMES = ("original", "thumb", "medium")
STOCK_PROFILES = {  # name -> (enabled, is_default)
    "webm_360p": (False, False),
    "webm_480p": (True, True),
    "webm_720p": (True, False),
    "webm_vp9_1080p": (True, False),
}

# The people: (id, username, flags era: is_admin, status) and the privileges that follows.
USERS = (
    (1, "alice", False, "active"),
    (2, "bob", True, "active"),
    (3, "carol", False, "needs_email_verification"),
    (4, "dave", True, "locked"),
)
PRIVILEGES_OF = {
    1: {"active", "uploader", "reporter", "commenter"},
    2: {"admin", "active", "uploader", "reporter", "commenter"},
    3: {"uploader", "reporter", "commenter"},
    4: {"admin"},
}
FIRST_ADMIN = 2
LONG_EMAIL = "carol." + "x" * 180 + "@example.org"  # > 100: needs legacy 004's widening
LONG_TITLE = "A very long title " * 8  # 144 characters
IMAGE_TYPE, VIDEO_TYPE = "mediagoblin.media_types.image", "mediagoblin.media_types.video"
CREATED = {10: dt.datetime(2012, 5, 1, 10, 0), 11: dt.datetime(2013, 1, 2, 3, 4, 5)}
CREATED[12] = dt.datetime(2013, 2, 3, 4, 5, 6)
EDITED = dt.datetime(2019, 6, 7, 8, 9, 10)
EXIF = {"Make": "Canon", "GPS": {"longitude": 13.4, "latitude": 52.5, "altitude": 34.0}}
EXIF["GPS"]["direction"] = 90  # an int: stored as a float
MEDIA_FILES = {  # entry -> keyname -> path
    10: {"original": "media/10/sunset.jpg", "thumb": "media/10/sunset.thumbnail.jpg"},
    11: {"original": "media/11/clip.webm", "webm_640": "media/11/clip.640p.webm"},
}


# --- seeding --------------------------------------------------------------------------------


def seed(url: str, era: Era) -> None:
    """Insert rows valid for ``era``'s schema (nothing for components not installed)."""
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            if era.level("core") is not None:
                _seed_core(c, era)
            if era.installed("image"):
                _seed_image(c, era)
            if era.has(VIDEO_BASE):
                _seed_video(c, era)
            if era.has(FEATURED_BASE):
                _seed_archivalook(c, era)
    finally:
        engine.dispose()


def _seed_core(c: sa.Connection, era: Era) -> None:
    level = era.level("core")
    users = []
    for user_id, name, is_admin, status in USERS:
        row: dict[str, Any] = {
            "id": user_id,
            "username": name,
            "email": LONG_EMAIL if user_id == 3 and level >= 4 else f"{name}@example.org",
            "pw_hash": f"hash-of-{name}",
            "created": dt.datetime(2012, 1, user_id, 12, 0),
        }
        if not era.has(PRIVILEGES):
            row.update(is_admin=is_admin, status=status, email_verified=status == "active")
        if level >= 2:
            row.update(url=f"https://{name}.example.org", bio=f"{name} takes pictures")
        if level >= 3:
            row["wants_comment_notification"] = user_id != 3
        if level >= 10:
            row["license_preference"] = "CC-BY-SA-4.0" if user_id == 2 else None
            row["wants_notifications"] = user_id != 3
        users.append(row)
    _insert(c, "core__users", users)
    if era.has(PRIVILEGES):
        ids = dict(c.execute(sa.text("SELECT privilege_name, id FROM core__privileges")).all())
        _insert(
            c,
            "core__privileges_users",
            [
                {"user_id": user, "privilege_id": ids[name]}
                for user, names in PRIVILEGES_OF.items()
                for name in sorted(names)
            ],
        )

    owner = "actor" if era.has(ACTOR) else "uploader"
    entries = [
        {"id": 10, owner: 1, "title": "Sunset", "slug": "sunset", "media_type": IMAGE_TYPE},
        {
            "id": 11,
            owner: 2,
            "title": LONG_TITLE if level >= 4 else "Clip",
            "slug": "clip",
            "media_type": VIDEO_TYPE,
        },
        {"id": 12, owner: 1, "title": "Draft", "slug": None, "media_type": IMAGE_TYPE},
    ]
    for entry in entries:
        entry.update(created=CREATED[entry["id"]], state="processed", description="seeded")
        if level < 6:
            files = MEDIA_FILES.get(entry["id"])
            entry["media_files"] = json.dumps(files) if files else "{not json"
        if level >= 9:
            entry["license"] = "CC0-1.0" if entry["id"] == 10 else None
        if era.has(UPDATED):
            entry["updated"] = EDITED
    if era.has(LOCATIONS):
        _insert(c, "core__locations", [{"id": 1, "name": "Berlin", "position": "{}"}])
        entries[0]["location"] = 1
    _insert(c, "core__media_entries", entries)
    if level >= 6:
        _insert(c, "core__file_keynames", [{"name": "webm_640"}])
        ids = dict(c.execute(sa.text("SELECT name, id FROM core__file_keynames")).all())
        _insert(
            c,
            "core__media_files",
            [
                {"media_entry": entry, "name_id": ids[name], "file_path": path}
                for entry, files in MEDIA_FILES.items()
                for name, path in files.items()
            ],
        )

    _insert(c, "core__tags", [{"id": 1, "slug": "nature"}])
    _insert(c, "core__media_tags", [{"id": 1, "media_entry": 10, "tag": 1, "name": "Nature"}])
    body = "content" if level >= 7 else "body"
    _insert(
        c,
        "core__media_comments",
        [{"id": 1, "media_entry": 10, "author": 3, "created": CREATED[11], body: "Lovely!"}],
    )
    if level >= 5:
        _insert(c, "core__collections", _collections(duplicates=level < 8))
        _insert(
            c,
            "core__collection_items",
            [{"id": 1, "media_entry": 10, "collection": 1, "note": "best one", "position": 0}],
        )
    if era.has(REPORTS):
        _insert(
            c,
            "core__reports",
            [{"id": 1, "reporter_id": 1, "reported_user_id": 4, "report_content": "spam"}],
        )
    if era.has(NOTIFICATIONS):
        _insert(
            c,
            "core__notifications",
            [{"id": 1, "user_id": 1, "seen": False, "object_type": "comment", "object_id": 1}],
        )


def _collections(duplicates: bool) -> list[dict]:
    """Alice's collections 1 and 2 share a slug while nothing forbade it (before legacy 008)."""
    slugs = {1: "favourites", 2: "favourites" if duplicates else "more", 3: None, 4: "favourites"}
    return [
        {"id": i, "title": f"Collection {i}", "slug": slug, "creator": 2 if i == 4 else 1}
        for i, slug in slugs.items()
    ]


def _seed_image(c: sa.Connection, era: Era) -> None:
    rows = [
        {"media_entry": 10, "width": 640, "height": 480, "exif_all": json.dumps(EXIF)},
        {"media_entry": 12, "width": 10, "height": 10, "exif_all": "not json"},
    ]
    if era.level("image") >= 2:
        # the GPS columns exist: the application filled them, maybe not from the EXIF tags
        rows[0].update(gps_longitude=1.5, gps_latitude=2.5, gps_altitude=None)
        if not era.has(IMAGE_ORIENTATION):
            rows[0]["gps_direction"] = 45.0
    if era.has(IMAGE_ORIENTATION):
        rows[0]["orientation"] = 6
    _insert(c, "image__mediadata", rows)


def _seed_video(c: sa.Connection, era: Era) -> None:
    _insert(
        c,
        "video__mediadata",
        [{"media_entry": 11, "width": 1280, "height": 720, "orig_metadata": "{}"}],
    )
    if era.has(VIDEO_PROFILES):
        profile = {
            "name": "ogv_custom",
            "container": "ogg",
            "video_codec": "theora",
            "audio_codec": "vorbis",
            "width": 320,
            "height": 240,
            "video_bitrate": 300,
        }
        if era.has(VIDEO_SWITCH):
            profile["enabled"] = False
        _insert(c, "video__transcoding_profiles", [profile])


def _seed_archivalook(c: sa.Connection, era: Era) -> None:
    rows = [
        {"id": 1, "media_entry": 10, "display_type": "primary", "display_order": 1},
        {"id": 2, "media_entry": 11, "display_type": "secondary", "display_order": 2},
    ]
    if era.has(FEATURED_BY):
        rows[0]["featured_by"] = 1
        rows[1]["featured_by"] = None
    _insert(c, "archivalook__featured_media", rows)


# --- after the upgrade ----------------------------------------------------------------------


def assert_survived(url: str, era: Era) -> None:
    """After ``gmg dbupdate --plugins all``: the seeded rows, transformed as intended.

    Plugins the era did not have were installed from their models: their tables hold their
    foundations only.
    """
    engine = engine_for(url)
    try:
        with engine.connect() as c:
            _assert_core(c, era)
            _assert_image(c, era)
            _assert_video(c, era)
            _assert_archivalook(c, era)
    finally:
        engine.dispose()


def _assert_core(c: sa.Connection, era: Era) -> None:
    level = era.level("core")
    privileges = _rows(c, "core__privileges", "privilege_name", order="id")
    assert [p for (p,) in privileges] == list(ALL_PRIVILEGES), privileges
    keynames = [k for (k,) in _rows(c, "core__file_keynames", "name", order="id")]
    assert keynames == [*STANDARD_KEYNAMES, "webm_640"], keynames

    users = _rows(
        c,
        "core__users",
        "id",
        "username",
        "email",
        "url",
        "wants_comment_notification",
        "license_preference",
        "wants_notifications",
    )
    expected = []
    for user_id, name, _admin, _status in USERS:
        expected.append(
            (
                user_id,
                name,
                LONG_EMAIL if user_id == 3 and level >= 4 else f"{name}@example.org",
                f"https://{name}.example.org" if level >= 2 else None,
                level < 3 or user_id != 3,
                "CC-BY-SA-4.0" if level >= 10 and user_id == 2 else None,
                level < 10 or user_id != 3,
            )
        )
    assert users == expected, users
    held = set(
        c.execute(
            sa.text(
                "SELECT pu.user_id, p.privilege_name FROM core__privileges_users pu "
                "JOIN core__privileges p ON p.id = pu.privilege_id"
            )
        ).all()
    )
    assert held == {(u, p) for u, names in PRIVILEGES_OF.items() for p in names}, held

    entries = _rows(c, "core__media_entries", "id", "actor", "title", "slug", "license")
    assert entries == [
        (10, 1, "Sunset", "sunset", "CC0-1.0" if level >= 9 else None),
        (11, 2, LONG_TITLE if level >= 4 else "Clip", "clip", None),
        (12, 1, "Draft", None, None),
    ], entries
    times = _rows(c, "core__media_entries", "id", "created", "updated", "location")
    location = 1 if era.has(LOCATIONS) else None
    assert times == [
        (i, CREATED[i], EDITED if era.has(UPDATED) else CREATED[i], location if i == 10 else None)
        for i in (10, 11, 12)
    ], times

    files = set(
        c.execute(
            sa.text(
                "SELECT f.media_entry, k.name, f.file_path FROM core__media_files f "
                "JOIN core__file_keynames k ON k.id = f.name_id"
            )
        ).all()
    )
    assert files == {(e, k, p) for e, fs in MEDIA_FILES.items() for k, p in fs.items()}, files

    assert _rows(c, "core__media_tags", "media_entry", "tag", "name") == [(10, 1, "Nature")]
    comments = _rows(c, "core__media_comments", "id", "author", "created", "content")
    assert comments == [(1, 3, CREATED[11], "Lovely!")], comments
    collections = _rows(c, "core__collections", "id", "creator", "slug")
    if level >= 5:
        slug_2 = "favourites-2" if level < 8 else "more"
        assert collections == [
            (1, 1, "favourites"),
            (2, 1, slug_2),
            (3, 1, None),
            (4, 2, "favourites"),
        ], collections
        assert _rows(c, "core__collection_items", "media_entry", "collection") == [(10, 1)]
    else:
        assert collections == []
    reports = _rows(c, "core__reports", "reporter_id", "reported_user_id", "report_content")
    assert reports == ([(1, 4, "spam")] if era.has(REPORTS) else []), reports
    notifications = _rows(c, "core__notifications", "user_id", "seen", "object_type")
    expected_notifications = [(1, False, "comment")] if era.has(NOTIFICATIONS) else []
    assert notifications == expected_notifications, notifications


def _assert_image(c: sa.Connection, era: Era) -> None:
    rows = _rows(
        c,
        "image__mediadata",
        "media_entry",
        "width",
        "gps_longitude",
        "gps_latitude",
        "gps_altitude",
        "orientation",
        order="media_entry",
    )
    if not era.installed("image"):
        assert rows == [], rows
        return
    # legacy 002 read the position out of the EXIF tags; later it was the application's
    gps = (13.4, 52.5, 34.0) if era.level("image") < 2 else (1.5, 2.5, None)
    orientation = 6 if era.has(IMAGE_ORIENTATION) else 1
    assert rows == [(10, 640, *gps, orientation), (12, 10, None, None, None, 1)], rows


def _assert_video(c: sa.Connection, era: Era) -> None:
    mediadata = _rows(c, "video__mediadata", "media_entry", "width", order="media_entry")
    assert mediadata == ([(11, 1280)] if era.has(VIDEO_BASE) else []), mediadata
    profiles = {
        name: (enabled, is_default)
        for name, enabled, is_default in _rows(
            c, "video__transcoding_profiles", "name", "enabled", "is_default"
        )
    }
    expected = dict(STOCK_PROFILES)
    if era.has(VIDEO_PROFILES):  # seeded before the switch existed: switched on
        expected["ogv_custom"] = (not era.has(VIDEO_SWITCH), False)
    assert profiles == expected, profiles


def _assert_archivalook(c: sa.Connection, era: Era) -> None:
    rows = _rows(c, "archivalook__featured_media", "id", "media_entry", "featured_by")
    if not era.has(FEATURED_BASE):
        assert rows == [], rows
    elif era.has(FEATURED_BY):
        assert rows == [(1, 10, 1), (2, 11, None)], rows
    else:  # 80cc12f3f6c4 credited them to the first administrator
        assert rows == [(1, 10, FIRST_ADMIN), (2, 11, FIRST_ADMIN)], rows


# --- Core helpers ---------------------------------------------------------------------------

_TYPED = {
    "created": sa.DateTime(),
    "updated": sa.DateTime(),
    "wants_comment_notification": sa.Boolean(),
    "wants_notifications": sa.Boolean(),
    "seen": sa.Boolean(),
    "enabled": sa.Boolean(),
    "is_default": sa.Boolean(),
}


def _insert(c: sa.Connection, name: str, rows: list[dict]) -> None:
    """Each row with its own columns: the ones it leaves out get their server defaults."""
    for row in rows:
        table = sa.table(name, *(sa.column(col, _type_of(col, v)) for col, v in row.items()))
        c.execute(table.insert().values(row))


def _type_of(column: str, value: Any) -> sa.types.TypeEngine | None:
    if isinstance(value, bool):
        return sa.Boolean()
    if isinstance(value, dt.datetime):
        return sa.DateTime()
    return _TYPED.get(column)


def _rows(c: sa.Connection, name: str, *columns: str, order: str | None = None) -> list[tuple]:
    table = sa.table(name, *(sa.column(col, _TYPED.get(col)) for col in columns))
    query = sa.select(*table.c).order_by(sa.column(order or columns[0]))
    return [tuple(r) for r in c.execute(query)]
