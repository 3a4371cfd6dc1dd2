"""Real MediaGoblin databases for tests, built from the shared schema facts.

``load_state(url, "v090_fresh")`` makes, in an empty database, exactly what a fresh MediaGoblin
0.9.0 install holds (``v081_fresh``: 0.8.1; ``head_fresh``: the current head): the schema as
MediaGoblin's own code left it (``schemas/<state>.<backend>.schema.sql``, loaded with ``psql`` /
``sqlite3``) and its version and privilege rows (``schemas/<state>.versions.json``).
``add_sample_rows`` then adds a user, an image and a comment in that state's shape, and
``sample_rows`` reads them back in a shape that does not depend on the state.

The bundle helpers (``bundle_metadata``, ``alembic_config``, ``create_from_models``) load
``migrations/`` by path, independently of the engine, for checks of the bundle itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import tomllib
from contextlib import closing
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from oracle import libpq_dsn, sqlite_path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "migrations"
ALEMBIC_ENV = ROOT / "entrypoint" / "gmg_dbupdate" / "alembic_env"
FACTS = Path(os.environ.get("GMG_MEDIAGOBLIN_FACTS", "/work/shared/mediagoblin"))
SCHEMAS = FACTS / "schemas"
STATES = ("v081_fresh", "v090_fresh", "head_fresh")


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "pg"


def expected_fingerprint(state: str, backend: str) -> str:
    return (SCHEMAS / f"{state}.{backend}.fingerprint.txt").read_text()


def versions(state: str, backend: str) -> dict:
    return json.loads((SCHEMAS / f"{state}.versions.json").read_text())[backend]


# --- loading a state --------------------------------------------------------------------------


def load_state(url: str, state: str) -> None:
    """Schema and version rows of ``state`` into the empty database at ``url``."""
    backend = backend_of(url)
    schema = SCHEMAS / f"{state}.{backend}.schema.sql"
    if backend == "sqlite":
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            conn.executescript(schema.read_text())
            conn.commit()
    else:
        subprocess.run(
            [
                "psql",
                "-q",
                "-X",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                libpq_dsn(url),
                "-f",
                str(schema),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    rows = versions(state, backend)
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            if rows["alembic_version"] != "absent":
                for rev in rows["alembic_version"]:
                    c.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": rev})
            for row in rows["core__migrations"]:
                c.execute(sa.text("INSERT INTO core__migrations VALUES (:name, :version)"), row)
            for row in rows["core__privileges"]:
                c.execute(
                    sa.text("INSERT INTO core__privileges VALUES (:id, :privilege_name)"), row
                )
            advance_sequences(c)
    finally:
        engine.dispose()


def advance_sequences(c: sa.Connection) -> None:
    """After explicit ids, PostgreSQL's serial sequences must move past them."""
    if c.dialect.name != "postgresql":
        return
    owned = c.execute(
        sa.text(
            "SELECT s.relname, t.relname, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "WHERE d.deptype = 'a'"
        )
    ).all()
    for seq, table, column in owned:
        c.execute(
            sa.text(
                f'SELECT setval(\'"{seq}"\', COALESCE((SELECT max("{column}") '
                f'FROM "{table}"), 0) + 1, false)'
            )
        )


def engine_for(url: str) -> sa.Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


# --- sample rows --------------------------------------------------------------------------------

WHEN = "2016-03-29 12:00:00"

# 0.9.0 and later: a user is a core__users row plus a core__local_users row; a comment is its
# content (core__media_comments) tied to the media by a core__comment_links row, both ends
# named through core__generic_model_reference.
_SAMPLE_V090 = [
    "INSERT INTO core__users (id, created, updated, type) VALUES (1, :t, :t, 'core__local_users')",
    "INSERT INTO core__local_users (id, username, email, wants_comment_notification,"
    " wants_notifications) VALUES (1, 'alice', 'alice@example.org', true, true)",
    "INSERT INTO core__media_entries (id, public_id, actor, title, slug, media_type, state,"
    " created, updated) VALUES (1, 'http://x/api/image/1', 1, 'Sunset', 'sunset',"
    " 'mediagoblin.media_types.image', 'processed', :t, :t)",
    "INSERT INTO image__mediadata (media_entry, width, height) VALUES (1, 640, 480)",
    "INSERT INTO core__media_comments (id, actor, created, updated, content)"
    " VALUES (1, 1, :t, :t, 'Nice!')",
    "INSERT INTO core__generic_model_reference (id, obj_pk, model_type)"
    " VALUES (1, 1, 'core__media_entries'), (2, 1, 'core__media_comments')",
    "INSERT INTO core__comment_links (id, target_id, comment_id, added) VALUES (1, 1, 2, :t)",
]

_SAMPLE_V081 = [
    "INSERT INTO core__users (id, username, email, created, wants_comment_notification,"
    " wants_notifications) VALUES (1, 'alice', 'alice@example.org', :t, true, true)",
    "INSERT INTO core__media_entries (id, uploader, title, slug, media_type, state, created)"
    " VALUES (1, 1, 'Sunset', 'sunset', 'mediagoblin.media_types.image', 'processed', :t)",
    "INSERT INTO image__mediadata (media_entry, width, height) VALUES (1, 640, 480)",
    "INSERT INTO core__media_comments (id, media_entry, author, created, content)"
    " VALUES (1, 1, 1, :t, 'Nice!')",
]


def add_sample_rows(url: str, state: str) -> None:
    statements = _SAMPLE_V081 if state == "v081_fresh" else _SAMPLE_V090
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            for sql in statements:
                c.execute(sa.text(sql), {"t": WHEN})
            advance_sequences(c)
    finally:
        engine.dispose()


def sample_rows(url: str) -> dict:
    """The sample rows as a post-0.9.0 database holds them."""
    engine = engine_for(url)
    try:
        with engine.connect() as c:
            one = c.execute
            return {
                "user": one(
                    sa.text(
                        "SELECT u.id, l.username, l.email FROM core__users u "
                        "JOIN core__local_users l ON l.id = u.id"
                    )
                ).all(),
                "media": one(
                    sa.text(
                        "SELECT m.id, m.actor, m.title, i.width, i.height "
                        "FROM core__media_entries m "
                        "JOIN image__mediadata i ON i.media_entry = m.id"
                    )
                ).all(),
                "comment": one(
                    sa.text(
                        "SELECT c.id, c.actor, c.content, t.model_type, t.obj_pk "
                        "FROM core__media_comments c "
                        "JOIN core__generic_model_reference r ON r.obj_pk = c.id "
                        "AND r.model_type = 'core__media_comments' "
                        "JOIN core__comment_links k ON k.comment_id = r.id "
                        "JOIN core__generic_model_reference t ON t.id = k.target_id"
                    )
                ).all(),
            }
    finally:
        engine.dispose()


EXPECTED_SAMPLE = {
    "user": [(1, "alice", "alice@example.org")],
    "media": [(1, 1, "Sunset", 640, 480)],
    "comment": [(1, 1, "Nice!", "core__media_entries", 1)],
}


# --- the bundle, read independently of the engine ---------------------------------------------


def manifest() -> dict:
    return tomllib.loads((BUNDLE / "manifest.toml").read_text())


def components() -> list[dict]:
    m = manifest()
    return [m["core"], *m["plugins"]]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bundle_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bundle_metadata(names: list[str] | None = None) -> sa.MetaData:
    metadata = sa.MetaData()
    for comp in components():
        if names is None or comp["name"] in names:
            _load(BUNDLE / comp["models"]).define(metadata)
    return metadata


def version_locations() -> list[str]:
    return [str(BUNDLE / folder) for comp in components() for folder in comp["versions"]]


def alembic_config(connection: sa.Connection) -> Config:
    """Alembic over the engine's env with every component's folder, on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_ENV))
    # os.pathsep separates the folders (the default when version_path_separator is unset)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(version_locations()))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade_heads(url: str, target: str = "heads") -> None:
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            command.upgrade(alembic_config(c), target)
    finally:
        engine.dispose()


def create_from_models(url: str, names: list[str] | None = None) -> None:
    """A fresh install the way the engine's bootstrap does it: create_all, stamp, foundations."""
    chosen = [c for c in components() if names is None or c["name"] in names]
    metadata = bundle_metadata([c["name"] for c in chosen])
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            metadata.create_all(c)
            heads = [h for comp in chosen for h in comp["heads"]]
            command.stamp(alembic_config(c), heads)
            for comp in chosen:
                if "foundations" in comp:
                    _load(BUNDLE / comp["foundations"]).lay(c, metadata)
    finally:
        engine.dispose()
