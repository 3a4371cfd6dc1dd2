"""Build MediaGoblin registry-era databases (core__migrations, no alembic_version) for the tests.

A database at ``__main__`` = 26 is made from the real MediaGoblin 0.8.1 schema (the shared
``v081_fresh.<backend>.schema.sql``, loaded as dumped) with the registry and privilege rows of
that install. A database at 27..44 is that one walked forward by our own registry migrations
(the sealed runner, ``entrypoint/legacy/registry.py``), so every supported level can be built.
Levels below 26 (MediaGoblin 0.7 and older) are refused by the job and are not built here.

Sample rows are inserted at 26, as a 0.8.1 instance would hold them: user alice (id 1) and bob
(2), media entry 1 (image, with image__mediadata) and 2 (used by a processing notification), a
comment by bob on entry 1, alice's collection holding entry 1, a comment notification and a
processing notification, a media report and a comment report, two activities ("post" of entry 1,
"post" of the comment with entry 1 as target) through core__activity_intermediators.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from pgserver import create_database

REPO = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/mediagoblin/schemas")
RUNNER = REPO / "entrypoint" / "legacy" / "registry.py"
REGISTRY_DIR = REPO / "migrations" / "legacy" / "registry"
REGISTRY = {"table": "core__migrations", "name_column": "name", "version_column": "version"}

CREATED = datetime.datetime(2015, 12, 1, 12, 0, 0)


def legacy_python() -> str:
    return os.environ.get("GMG_LEGACY_PYTHON") or str(REPO / ".venv-legacy" / "bin" / "python")


def main_url(url: str) -> str:
    """The URL for this (SQLAlchemy 2) runtime: psycopg2, as the suite installs it."""
    if url.startswith("postgresql"):
        return (
            sa.engine.make_url(url)
            .set(drivername="postgresql+psycopg2")
            .render_as_string(hide_password=False)
        )
    return url


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "pg"


def load_schema(url: str, state: str = "v081_fresh") -> None:
    """Load a shared MediaGoblin schema dump and its version/privilege rows into an empty DB."""
    kind = backend(url)
    sql = (SHARED / f"{state}.{kind}.schema.sql").read_text(encoding="utf-8")
    if kind == "sqlite":
        import sqlite3

        path = sa.engine.make_url(url).database
        with sqlite3.connect(path) as db:
            db.executescript(sql)
    else:
        body = "\n".join(line for line in sql.splitlines() if not line.startswith("\\"))
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
            handle.write(body)
        try:
            plain = sa.engine.make_url(url).set(drivername="postgresql")
            subprocess.run(
                [
                    "psql",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    plain.render_as_string(hide_password=False),
                    "-f",
                    handle.name,
                ],
                check=True,
                capture_output=True,
            )
        finally:
            os.unlink(handle.name)
    versions = json.loads((SHARED / f"{state}.versions.json").read_text(encoding="utf-8"))[kind]
    engine = sa.create_engine(main_url(url))
    try:
        with engine.begin() as conn:
            md = sa.MetaData()
            md.reflect(conn, only=["core__migrations", "core__privileges"])
            conn.execute(md.tables["core__migrations"].insert(), versions["core__migrations"])
            conn.execute(md.tables["core__privileges"].insert(), versions["core__privileges"])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT setval('core__privileges_id_seq', "
                    "(SELECT max(id) FROM core__privileges))"
                )
    finally:
        engine.dispose()


# MediaGoblin 0.8.1 installed with its own pinned SQLAlchemy (0.8) on PostgreSQL: SQLAlchemy
# before 1.1 made the first integer, non-foreign-key column of a composite primary key SERIAL,
# so openid__nonce."timestamp" has a sequence default that the shared dump (made under a later
# SQLAlchemy) and every fresh install since 0.9.0 lack. SQLite installs are alike either way.
PINNED_V081_PG = (
    "CREATE SEQUENCE openid__nonce_timestamp_seq AS integer START WITH 1 INCREMENT BY 1 "
    "NO MINVALUE NO MAXVALUE CACHE 1",
    'ALTER SEQUENCE openid__nonce_timestamp_seq OWNED BY openid__nonce."timestamp"',
    'ALTER TABLE ONLY openid__nonce ALTER COLUMN "timestamp" '
    "SET DEFAULT nextval('openid__nonce_timestamp_seq'::regclass)",
)


def add_pinned_sqlalchemy_serial(url: str) -> None:
    """Turn a loaded v081_fresh PostgreSQL database into the pinned-SQLAlchemy variant."""
    engine = sa.create_engine(main_url(url))
    try:
        with engine.begin() as conn:
            for sql in PINNED_V081_PG:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def insert_samples_v081(url: str) -> None:
    """The sample rows, in the 0.8.1 (registry 26) shape."""
    engine = sa.create_engine(main_url(url))
    try:
        with engine.begin() as conn:
            md = sa.MetaData()
            md.reflect(conn)
            t = md.tables

            def put(table, **values):
                conn.execute(t[table].insert().values(**values))

            put("core__activity_intermediators", id=1, type="user")
            put("core__activity_intermediators", id=2, type="user")
            put("core__activity_intermediators", id=3, type="media")
            put("core__activity_intermediators", id=4, type="comment")
            put("core__activity_intermediators", id=5, type="collection")
            for uid, name, ai in ((1, "alice", 1), (2, "bob", 2)):
                put(
                    "core__users",
                    id=uid,
                    username=name,
                    email=f"{name}@example.org",
                    pw_hash="x",
                    created=CREATED,
                    wants_comment_notification=True,
                    wants_notifications=uid == 1,
                    license_preference="http://creativecommons.org/licenses/by/4.0/",
                    uploaded=10 * uid,
                    upload_limit=None,
                    activity=ai,
                )
            for mid, ai, slug in ((1, 3, "first"), (2, None, "second")):
                put(
                    "core__media_entries",
                    id=mid,
                    uploader=1,
                    title=f"Entry {mid}",
                    slug=slug,
                    created=CREATED + datetime.timedelta(hours=mid),
                    media_type="mediagoblin.media_types.image",
                    state="processed",
                    activity=ai,
                )
            put("image__mediadata", media_entry=1, width=640, height=480, exif_all="{}")
            put(
                "core__media_comments",
                id=1,
                media_entry=1,
                author=2,
                created=CREATED + datetime.timedelta(days=1),
                content="Nice picture",
                activity=4,
            )
            put(
                "core__collections",
                id=1,
                title="Favourites",
                slug="favourites",
                created=CREATED,
                creator=1,
                items=1,
                activity=5,
            )
            put("core__collection_items", id=1, media_entry=1, collection=1, added=CREATED)
            put(
                "core__notifications",
                id=1,
                type="comment_notification",
                created=CREATED,
                user_id=1,
                seen=False,
            )
            put("core__comment_notifications", id=1, subject_id=1)
            put(
                "core__notifications",
                id=2,
                type="processing_notification",
                created=CREATED,
                user_id=1,
                seen=True,
            )
            put("core__processing_notifications", id=2, subject_id=2)
            put(
                "core__reports",
                id=1,
                reporter_id=2,
                report_content="spam?",
                reported_user_id=1,
                created=CREATED,
                type="media_report",
            )
            put("core__reports_on_media", id=1, media_entry_id=1)
            put(
                "core__reports",
                id=2,
                reporter_id=1,
                report_content="rude",
                reported_user_id=2,
                created=CREATED,
                type="comment_report",
            )
            put("core__reports_on_comments", id=2, comment_id=1)
            put(
                "core__activities",
                id=1,
                actor=1,
                published=CREATED,
                updated=CREATED,
                verb="post",
                object=3,
                target=None,
            )
            put(
                "core__activities",
                id=2,
                actor=2,
                published=CREATED,
                updated=CREATED,
                verb="post",
                object=4,
                target=3,
            )
            if conn.dialect.name == "postgresql":
                for table in (
                    "core__activity_intermediators",
                    "core__users",
                    "core__media_entries",
                    "core__media_comments",
                    "core__collections",
                    "core__collection_items",
                    "core__notifications",
                    "core__reports",
                    "core__activities",
                ):
                    conn.exec_driver_sql(
                        f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"
                    )
    finally:
        engine.dispose()


def run_registry(url: str, steps: list[dict], record: list[dict] | None = None):
    """Drive the sealed registry runner; returns (exit code, events, stderr)."""
    job = {"url": url, "registry": REGISTRY, "steps": steps, "record": record or []}
    proc = subprocess.run(
        [legacy_python(), "-I", str(RUNNER)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


def core_step(to: int) -> dict:
    return {
        "component": "core",
        "name": "__main__",
        "module": str(REGISTRY_DIR / "core.py"),
        "to": to,
    }


# --- templates: each level built once per process, then cloned --------------------------------
#
# Level 26 is loaded from the dump; level n + 1 is a clone of level n walked by the one step
# n + 1 (the runner commits step by step, so this is the state a longer walk leaves at n + 1).
# A test's database is a clone of its level's template: SQLite by copying the file, PostgreSQL
# by CREATE DATABASE ... TEMPLATE (templates are this process's own, so nothing else is
# connected to them while they are copied).

_TEMPLATES: dict[tuple, str] = {}  # (backend, server, level, samples) -> file path / database
_SQLITE_DIR: list[Path] = []


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(
        sa.engine.make_url(main_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )


def _server(url: str) -> str:
    parsed = sa.engine.make_url(url)
    return f"{parsed.host}:{parsed.port}" if backend(url) == "pg" else ""


def _clone(template: str, url: str) -> None:
    """Make the (empty or absent) database ``url`` a copy of ``template``."""
    if backend(url) == "sqlite":
        import shutil

        shutil.copyfile(template, sa.engine.make_url(url).database)
        return
    name = sa.engine.make_url(url).database
    admin = _admin_engine(url)
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            create_database(c, name, template)
    finally:
        admin.dispose()


def _template(url: str, level: int, samples: bool) -> str:
    key = (backend(url), _server(url), level, samples)
    if key in _TEMPLATES:
        return _TEMPLATES[key]
    tag = f"{os.getpid()}_{level}_{'s' if samples else 'n'}"
    if backend(url) == "sqlite":
        if not _SQLITE_DIR:
            import atexit
            import shutil

            _SQLITE_DIR.append(Path(tempfile.mkdtemp(prefix="registry-templates-")))
            atexit.register(shutil.rmtree, _SQLITE_DIR[0], True)
        location = str(_SQLITE_DIR[0] / f"level-{tag}.db")
        target = f"sqlite:///{location}"
    else:
        location = f"tpl_registry_{tag}"
        target = (
            sa.engine.make_url(url).set(database=location).render_as_string(hide_password=False)
        )
        admin = _admin_engine(url)
        try:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{location}" WITH (FORCE)')
                create_database(c, location)
        finally:
            admin.dispose()
        _PG_TEMPLATES.append((url, location))
    if level == 26:
        load_schema(target)
        if samples:
            insert_samples_v081(target)
    else:
        _clone(_template(url, level - 1, samples), target)
        code, events, stderr = run_registry(target, [core_step(level)])
        if code != 0:
            raise RuntimeError(f"building __main__={level} failed: {events} {stderr[-2000:]}")
    _TEMPLATES[key] = location
    return location


_PG_TEMPLATES: list[tuple[str, str]] = []


def drop_templates() -> None:
    """Drop this process's PostgreSQL templates (before the server goes away)."""
    while _PG_TEMPLATES:
        url, name = _PG_TEMPLATES.pop()
        try:
            admin = _admin_engine(url)
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        except sa.exc.OperationalError:
            pass
    for key in [k for k in _TEMPLATES if k[0] == "pg"]:
        del _TEMPLATES[key]


def build_registry_db(url: str, main_version: int = 26, *, samples: bool = True) -> None:
    """A MediaGoblin registry-era database at ``__main__`` = main_version (26..44).

    ``url`` names an empty database (or an absent SQLite file); it becomes a copy of the
    level's template, built once per process (see ``_template``).
    """
    if not 26 <= main_version <= 44:
        raise ValueError(f"registry databases are built from 26 to 44, not {main_version}")
    _clone(_template(url, main_version, samples), url)


# What MediaGoblin 0.9.0's own registry walk (26 -> 44) leaves that a fresh install does not have
# (shared FACTS.md, "Observed behaviour"): laid over a database our walk brought to 44, it gives
# the shape of a real 0.8.1 database upgraded by MediaGoblin 0.9.0. A representative subset:
# each kind of difference once or more.
MEDIAGOBLIN_WALK_PG = (
    "ALTER TABLE core__activities ALTER COLUMN object_id DROP NOT NULL",
    "ALTER TABLE core__media_entries ALTER COLUMN updated DROP NOT NULL",
    "ALTER TABLE core__users ALTER COLUMN updated DROP NOT NULL",
    "DELETE FROM core__notifications WHERE object_id IS NULL",
    "ALTER TABLE core__notifications ALTER COLUMN object_id SET NOT NULL",
    "ALTER TABLE core__media_entries RENAME CONSTRAINT core__media_entries_actor_fkey "
    "TO core__media_entries_uploader_fkey",
    "ALTER TABLE core__activities RENAME CONSTRAINT core__activities_object_id_fkey "
    "TO core__activities_temp_object_fkey",
    "ALTER TABLE core__media_entries RENAME CONSTRAINT core__media_entries_public_id_key "
    "TO media_public_id",
    "ALTER TABLE core__collections RENAME CONSTRAINT core__collections_actor_slug_key "
    "TO core__collections_creator_slug_key",
    "ALTER INDEX ix_core__media_entries_actor RENAME TO ix_core__media_entries_uploader",
    "ALTER TABLE core__collection_items "
    "DROP CONSTRAINT core__collection_items_collection_object_id_key",
    "DROP INDEX ix_core__collection_items_object_id",
    "ALTER TABLE core__generic_model_reference "
    "DROP CONSTRAINT core__generic_model_reference_model_type_obj_pk_key",
)

# SQLite: (table, pattern, replacement) on the table's CREATE statement, then a rebuild
MEDIAGOBLIN_WALK_SQLITE = (
    ("core__activities", r"object_id INTEGER NOT NULL", "object_id INTEGER"),
    ("core__media_entries", r"updated DATETIME NOT NULL", "updated DATETIME"),
    ("core__clients", r"id VARCHAR NOT NULL", "id VARCHAR"),
    ("core__notifications", r"object_id INTEGER,", "object_id INTEGER NOT NULL,"),
    ("core__media_comments", r"\)\s*$", ", CONSTRAINT public_id_unique UNIQUE (public_id))"),
    ("core__collection_items", r",\s*UNIQUE \(collection, object_id\)", ""),
    ("core__generic_model_reference", r",\s*UNIQUE \(model_type, obj_pk\)", ""),
)
MEDIAGOBLIN_WALK_SQLITE_INDEXES = (
    "DELETE FROM core__notifications WHERE object_id IS NULL",
    "DROP INDEX IF EXISTS ix_core__collection_items_object_id",
    "DROP INDEX ix_core__media_entries_actor",
    "CREATE INDEX ix_core__media_entries_uploader ON core__media_entries (actor)",
)


def add_mediagoblin_walk_residue(url: str) -> None:
    """Give a database at registry 44 what MediaGoblin's own walk to 44 leaves behind."""
    engine = sa.create_engine(main_url(url))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for sql in MEDIAGOBLIN_WALK_PG:
                    conn.exec_driver_sql(sql)
                return
            conn.exec_driver_sql(MEDIAGOBLIN_WALK_SQLITE_INDEXES[0])
            for table, pattern, replacement in MEDIAGOBLIN_WALK_SQLITE:
                _sqlite_rewrite(conn, table, pattern, replacement)
            for sql in MEDIAGOBLIN_WALK_SQLITE_INDEXES[1:]:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _sqlite_rewrite(conn, table: str, pattern: str, replacement: str) -> None:
    create = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).scalars()
    indexes = list(indexes)
    changed, count = re.subn(pattern, replacement, create, count=1)
    if count != 1:
        raise ValueError(f"{table}: {pattern!r} not found in {create}")
    temp = f"_residue_{table}"
    conn.exec_driver_sql(changed.replace(table, temp, 1))
    conn.exec_driver_sql(f"INSERT INTO {temp} SELECT * FROM {table}")
    conn.exec_driver_sql(f"DROP TABLE {table}")
    conn.exec_driver_sql(f"ALTER TABLE {temp} RENAME TO {table}")
    for sql in indexes:
        conn.exec_driver_sql(sql)
