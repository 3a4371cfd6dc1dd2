"""``gmg dbupdate`` over the MediaGoblin bundle, judged by the independent oracle.

The engine reads the bundle through its manifest v2 loader; every run must end exactly at a fresh
MediaGoblin head install (``head_fresh``) for the components it installed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import mediagoblin_dbs as mg
import oracle
from conftest import URL_FIXTURES, run_gmg


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """MediaGoblin's shipped history runs on SQLite and PostgreSQL only (its manifest's
    ``backends``): this file's tests stay on those two."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


MG = ("--migrations", str(mg.BUNDLE))


def dbupdate(url: str, *args: str):
    result = run_gmg("dbupdate", "--database-url", url, *MG, *args)
    assert result.code == 0, result
    return result


def rows(url: str, sql: str) -> list[tuple]:
    engine = mg.engine_for(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql))]
    finally:
        engine.dispose()


def assert_head_fresh(url: str) -> None:
    backend = mg.backend_of(url)
    diff = oracle.diff(mg.expected_fingerprint("head_fresh", backend), oracle.fingerprint(url))
    assert diff == [], "\n".join(diff)
    want = mg.versions("head_fresh", backend)
    assert {r[0] for r in rows(url, "SELECT version_num FROM alembic_version")} == set(
        want["alembic_version"]
    )
    assert rows(url, "SELECT id, privilege_name FROM core__privileges ORDER BY id") == [
        (p["id"], p["privilege_name"]) for p in want["core__privileges"]
    ]
    assert rows(url, "SELECT * FROM core__migrations") == []


def test_fresh_install_with_every_plugin_is_head_fresh(db_url):
    dbupdate(db_url, "--plugins", "all")
    assert_head_fresh(db_url)
    again = dbupdate(db_url, "--plugins", "all")
    assert again.last["changed"] is False
    assert_head_fresh(db_url)


def test_default_plugins_then_every_plugin_late(db_url):
    dbupdate(db_url)
    tables = {
        line.split()[1] for line in oracle.fingerprint(db_url).splitlines() if "table " in line
    }
    assert {t for t in tables if not t.startswith("core__")} == {
        "alembic_version",
        "image__mediadata",
    }
    dbupdate(db_url, "--plugins", "all")
    assert_head_fresh(db_url)


def test_v090_fresh_is_upgraded_to_head_fresh_keeping_rows(db_url):
    mg.load_state(db_url, "v090_fresh")
    mg.add_sample_rows(db_url, "v090_fresh")
    result = dbupdate(db_url, "--plugins", "all")
    assert set(result.last["applied"]) >= {"cc3651803714", "afd3d1da5e29"}
    assert_head_fresh(db_url)
    assert mg.sample_rows(db_url) == mg.EXPECTED_SAMPLE


def test_v090_with_a_plugin_later_disabled_still_upgrades(db_url):
    """MediaGoblin's own dbupdate fails here: Can't locate revision '071abb33d1da'."""
    mg.load_state(db_url, "v090_fresh")
    dbupdate(db_url)  # default plugins: image only; openid and the others stay installed
    dbupdate(db_url, "--plugins", "all")
    assert_head_fresh(db_url)


def test_v090_with_the_retired_persona_revision_upgrades(db_url):
    """0.12.0+ cannot upgrade such a database: Can't locate revision 'c7d4840a5592'."""
    mg.load_state(db_url, "v090_fresh")
    engine = mg.engine_for(db_url)
    try:
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "CREATE TABLE persona__user_emails (id INTEGER NOT NULL PRIMARY KEY, "
                    "user_id INTEGER NOT NULL REFERENCES core__users (id), "
                    "email VARCHAR NOT NULL)"
                )
            )
            c.execute(sa.text("INSERT INTO alembic_version VALUES ('c7d4840a5592')"))
    finally:
        engine.dispose()
    result = dbupdate(db_url, "--plugins", "all")
    assert result.named("revision.retired"), result
    assert "c7d4840a5592" not in {r[0] for r in rows(db_url, "SELECT * FROM alembic_version")}
    # the retired plugin's table (user data) stays
    assert "table persona__user_emails" in oracle.fingerprint(db_url)


def test_dbverify_finds_mediagoblins_own_head_install_equal_to_the_models(db_url):
    mg.load_state(db_url, "head_fresh")
    result = run_gmg("dbverify", "--database-url", db_url, *MG, "--plugins", "all")
    assert result.code == 0, result
    assert result.last["equal"] is True and result.last["differences"] == 0, result


def test_dbverify_after_the_v090_upgrade(db_url):
    mg.load_state(db_url, "v090_fresh")
    dbupdate(db_url, "--plugins", "all")
    result = run_gmg("dbverify", "--database-url", db_url, *MG, "--plugins", "all")
    assert result.code == 0, result
    assert result.last["equal"] is True, result
