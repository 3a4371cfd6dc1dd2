"""The no-op fast path: most starts find the schema current, so prove that cheaply.

Without SQLAlchemy or Alembic: the bundle's index (verified against every file of the bundle by
its fingerprint) stands in for the revision scripts and models, and one read-only query through
the bare driver reads the version rows. The same ``classify.decide`` as the full path judges
them. Anything unusual, any doubt, any error: return None and let the full path decide.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from . import classify
from .bundle import Bundle
from .config import Settings, mask_url_text
from .db import runner_name
from .logs import add_secret, get_logger

_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")


def try_current(settings: Settings) -> dict | None:
    """``dbupdate.done`` fields if the schema is provably current, else None."""
    started = time.monotonic()
    try:
        bundle = Bundle.load(settings.bundle_dir)
        if not bundle.load_index():
            return None
        enabled = bundle.resolve_plugins(settings.plugins)
        facts = _read(settings, bundle)
        if facts is None:
            return None
        state = classify.decide(bundle, *facts)
        if state.kind != classify.ALEMBIC or classify.pending(state, bundle, enabled):
            return None
    except Exception:  # the full path reports errors properly
        return None
    log = get_logger()
    log.info("dbupdate.start", url=mask_url_text(settings.url_text), plugins=list(enabled))
    log.info("db.ready", attempts=1, fast_path=True)
    log.info("schema.classified", **state.summary())
    classify.warn_disabled(state, bundle, enabled)
    return {
        **classify.outcome(),
        "current": True,
        "pending": [],
        "fast_path": True,
        "duration_s": round(time.monotonic() - started, 3),
    }


def _read(settings: Settings, bundle: Bundle) -> tuple | None:
    text = settings.url_text.strip()
    if text.startswith("sqlite:"):
        return _read_sqlite(text, bundle)
    parts = urlsplit(text)
    if parts.scheme not in _PG_SCHEMES or not parts.path.strip("/"):
        return None
    import psycopg2

    password = settings.password_override
    if password is None and parts.password is not None:
        password = unquote(parts.password)
    add_secret(password)
    params = {
        "host": parts.hostname,
        "port": parts.port,
        "user": unquote(parts.username) if parts.username else None,
        "password": password,
        "dbname": unquote(parts.path.lstrip("/")),
        **dict(parse_qsl(parts.query)),
    }
    connection = psycopg2.connect(
        **{k: v for k, v in params.items() if v is not None},
        application_name=runner_name(),
        connect_timeout=max(2, int(min(10, settings.wait_timeout))),
    )
    try:
        connection.set_session(readonly=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
            )
            return _facts(cursor, {r[0] for r in cursor.fetchall()}, bundle)
    finally:
        connection.rollback()
        connection.close()


def _read_sqlite(text: str, bundle: Bundle) -> tuple | None:
    import sqlite3
    from urllib.parse import quote

    if "?" in text or not text.startswith("sqlite:///"):
        return None
    path = Path(text.removeprefix("sqlite:///"))
    if not path.is_file():
        return None
    connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        cursor = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' "
            "ESCAPE '~'"
        )
        return _facts(connection.cursor(), {r[0] for r in cursor.fetchall()}, bundle)
    finally:
        connection.close()


def _facts(cursor, tables: set[str], bundle: Bundle) -> tuple:
    rows: list[str] = []
    legacy: list = []
    if bundle.version_table in tables:
        cursor.execute(f'SELECT version_num FROM "{bundle.version_table}"')
        rows = [r[0] for r in cursor.fetchall()]
    if bundle.legacy_version_table in tables and bundle.legacy_components:
        cursor.execute(f'SELECT repository_id, version FROM "{bundle.legacy_version_table}"')
        legacy = [tuple(r) for r in cursor.fetchall()]
    return frozenset(tables), rows, legacy
