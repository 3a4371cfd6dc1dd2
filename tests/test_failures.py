"""Bad input, unreachable or refusing databases, the lock: exit codes and one-line errors."""

from __future__ import annotations

import shutil
import time

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from conftest import (
    BUNDLE,
    URL_FIXTURES,
    backend_of,
    declare_head,
    query,
    run_gmg,
    schema_of,
    slow_except,
    version_rows,
)
from gmg_dbupdate.bundle import Bundle
from pgserver import PASSWORD, free_port

SERVERS = ["postgresql", "mysql"]  # the backends behind a server (URL, password, database)


def _assert_nothing_written(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        assert not __import__("os").path.exists(path), "SQLite file was created"
    else:
        assert schema_of(url) == {}


@pytest.mark.reliability(
    case="unreachable database (refused)", expected="exit 69 within 10% of the deadline"
)
# the inner loop waits out one deadline; the whole suite both
@pytest.mark.parametrize("scheme", slow_except(["postgresql", "mysql+pymysql"], 0))
def test_unreachable_database_exits_69_at_the_deadline(scheme):
    url = f"{scheme}://gmg:{PASSWORD}@127.0.0.1:{free_port()}/nowhere"
    result = run_gmg("dbupdate", "--database-url", url, "--wait-timeout", "2")
    assert result.code == 69, result
    assert 2 <= result.span("dbupdate.start", "dbupdate.failed") <= 2 * 1.1, result
    waiting = result.named("db.waiting")
    assert waiting and "refused" in waiting[0]["error"].lower()
    assert "unreachable" in result.last["error"]


@pytest.mark.reliability(
    case="wrong password", expected="exit 77 at once, not retried, nothing written"
)
@pytest.mark.parametrize("backend", SERVERS)
def test_wrong_password_exits_77_at_once(backend, request):
    pg_url = request.getfixturevalue(URL_FIXTURES[backend])
    url = make_url(pg_url).set(password="Wrong-Pw-123").render_as_string(False)
    result = run_gmg(
        "dbupdate",
        "--database-url",
        url,
        "--wait-timeout",
        "30",
        secrets=(PASSWORD, "Wrong-Pw-123"),
    )
    assert result.code == 77, result
    assert result.elapsed < 10
    assert not result.named("db.waiting")
    said = {"postgresql": "password authentication failed", "mysql": "Access denied"}
    assert said[backend] in result.last["error"], result.last
    _assert_nothing_written(pg_url)


@pytest.mark.reliability(case="missing database", expected="exit 64 at once")
@pytest.mark.parametrize("backend", SERVERS)
def test_missing_database_exits_64_at_once(backend, request):
    url = request.getfixturevalue(URL_FIXTURES[backend])
    url = make_url(url).set(database="no_such_db_here").render_as_string(False)
    result = run_gmg("dbupdate", "--database-url", url, "--wait-timeout", "30")
    assert result.code == 64, result
    assert result.elapsed < 10
    said = {"postgresql": "does not exist", "mysql": "Unknown database"}
    assert said[backend] in result.last["error"], result.last


@pytest.mark.reliability(
    case="malformed or unsupported URL", expected="exit 64, one-line error, no connection"
)
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:" + PASSWORD + "@host:notaport/db",
        "not a url at all",
        "oracle://user:" + PASSWORD + "@localhost/db",
        "mysql+mysqldb://user:" + PASSWORD + "@localhost/db",
        "postgresql+asyncpg://u:" + PASSWORD + "@localhost/db",
        "postgresql://u:" + PASSWORD + "@localhost",
        "sqlite:////no/such/dir/x.db",
    ],
)
def test_malformed_or_unsupported_url_exits_64(url):
    result = run_gmg("dbupdate", "--database-url", url)
    assert result.code == 64, result
    assert len(result.last["error"].splitlines()) == 1
    assert not result.named("db.waiting") and not result.named("db.ready")


@pytest.mark.reliability(case="unknown plugin", expected="exit 64, nothing written")
def test_unknown_plugin_exits_64_and_writes_nothing(sqlite_url):
    result = run_gmg("dbupdate", "--plugins", "image,nosuchplugin", "--database-url", sqlite_url)
    assert result.code == 64, result
    assert "nosuchplugin" in result.last["error"]
    _assert_nothing_written(sqlite_url)


@pytest.mark.reliability(case="bad option value", expected="exit 64, nothing written")
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--wait-timeout", "soon"),
        ("--lock-timeout", "-5"),
        ("--wait-timeout", "nan"),
        ("--log-format", "xml"),
    ],
)
def test_bad_option_values_exit_64(flag, value, sqlite_url):
    result = run_gmg("dbupdate", flag, value, "--database-url", sqlite_url)
    assert result.code == 64, result
    _assert_nothing_written(sqlite_url)


@pytest.mark.reliability(case="non-numeric timeout in the environment", expected="exit 64")
def test_bad_environment_values_exit_64(sqlite_url):
    result = run_gmg("dbupdate", env={"GMG_LOCK_TIMEOUT": "forever", "DATABASE_URL": sqlite_url})
    assert result.code == 64, result
    assert "lock timeout" in result.last["error"]


def test_unknown_verb_or_flag_exits_64():
    assert run_gmg("frobnicate").code == 64
    assert run_gmg("dbupdate", "--no-such-flag").code == 64


@pytest.mark.reliability(case="unreadable DATABASE_URL_FILE", expected="exit 64")
def test_unreadable_url_file_exits_64(tmp_path):
    result = run_gmg("dbupdate", env={"DATABASE_URL_FILE": str(tmp_path / "missing")})
    assert result.code == 64, result
    assert "DATABASE_URL_FILE" in result.last["error"]


def test_url_and_password_from_files(pg_url, tmp_path):
    bare = make_url(pg_url).set(password=None).render_as_string(False)
    (tmp_path / "url").write_text(bare + "\n")
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    result = run_gmg(
        "dbupdate",
        env={
            "DATABASE_URL_FILE": str(tmp_path / "url"),
            "DATABASE_PASSWORD_FILE": str(tmp_path / "pw"),
        },
    )
    assert result.code == 0, result
    assert "***" in result.named("dbupdate.start")[0]["url"]
    assert query(pg_url, "SELECT count(*) FROM alembic_version")[0][0] >= 1


def test_flag_beats_environment(pg_url, sqlite_url):
    result = run_gmg("dbupdate", "--database-url", sqlite_url, env={"DATABASE_URL": pg_url})
    assert result.code == 0, result
    assert result.named("dbupdate.start")[0]["url"].startswith("sqlite")
    assert schema_of(pg_url) == {}


@pytest.mark.reliability(case="termination message on failure", expected="one line, no password")
def test_termination_message_written_when_the_file_exists(tmp_path):
    term = tmp_path / "termination-log"
    term.write_text("")
    url = f"postgresql://gmg:{PASSWORD}@127.0.0.1:{free_port()}/x"
    result = run_gmg(
        "dbupdate",
        "--database-url",
        url,
        "--wait-timeout",
        "1",
        env={"GMG_TERMINATION_LOG": str(term)},
    )
    assert result.code == 69
    text = term.read_text()
    assert text.startswith("gmg dbupdate failed (exit 69)") and PASSWORD not in text
    assert len(text.strip().splitlines()) == 1


# --- broken bundles -------------------------------------------------------------------------


@pytest.fixture
def bundle_copy(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.reliability(
    case="bundle with two heads in one branch", expected="exit 64, nothing written"
)
def test_two_heads_in_one_branch_exit_64(bundle_copy, sqlite_url):
    bundle = Bundle.load(BUNDLE)
    core = [
        r for r in bundle.script.walk_revisions() if bundle.branches.owner[r.revision] == "core"
    ]
    parent = core[-1].revision  # the base: a second child makes a second head
    (bundle_copy / "versions" / "core" / "aaaaaaaaaaaa_second_head.py").write_text(
        f'revision = "aaaaaaaaaaaa"\ndown_revision = "{parent}"\n'
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    result = run_gmg("dbupdate", "--migrations", str(bundle_copy), "--database-url", sqlite_url)
    assert result.code == 64, result
    assert "heads" in result.last["error"] and "core" in result.last["error"]
    _assert_nothing_written(sqlite_url)


@pytest.mark.reliability(case="missing bundle directory", expected="exit 64, nothing written")
def test_missing_bundle_exits_64(tmp_path, sqlite_url):
    result = run_gmg(
        "dbupdate", "--migrations", str(tmp_path / "nope"), "--database-url", sqlite_url
    )
    assert result.code == 64, result
    _assert_nothing_written(sqlite_url)


@pytest.mark.reliability(
    case="a migration that raises",
    expected="exit 70 naming the revision; nothing of the run persists",
)
def test_migration_that_raises_exits_70_names_revision_and_rolls_back(bundle_copy, db_url):
    bundle = Bundle.load(BUNDLE)
    (head,) = bundle.branches.heads["core"]
    boom = bundle_copy / "versions" / "core" / "bbbbbbbbbbbb_boom.py"
    boom.write_text(
        f'"""explodes"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "bbbbbbbbbbbb"\ndown_revision = "{head}"\n'
        "branch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n"
        '    op.create_table("core__boom", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    op.execute("SELECT * FROM no_such_table_anywhere")\n\n'
        "def downgrade():\n    pass\n"
    )
    declare_head(bundle_copy, head, "bbbbbbbbbbbb")
    # bring the database to the shipped head first, with the original bundle
    assert run_gmg("dbupdate", "--database-url", db_url).code == 0
    before = schema_of(db_url)
    result = run_gmg("dbupdate", "--migrations", str(bundle_copy), "--database-url", db_url)
    assert result.code == 70, result
    assert result.last["revision"] == "bbbbbbbbbbbb"
    assert result.last["script"].endswith("bbbbbbbbbbbb_boom.py")
    assert "bbbbbbbbbbbb" in result.last["error"]
    assert result.named("lock.released")
    assert "bbbbbbbbbbbb" not in version_rows(db_url)
    if backend_of(db_url) != "mysql":
        assert schema_of(db_url) == before  # the whole run was rolled back
        assert "half-applied" not in result.last["error"] and "half_applied" not in result.last
        return
    # MySQL commits each DDL statement: the table made before the failure stays, and the
    # failure says so (the operator repairs before the next run)
    assert set(schema_of(db_url)) == set(before) | {"core__boom"}
    assert result.last["half_applied"] is True
    assert result.last["error"].endswith(
        "; MySQL/MariaDB does not roll DDL back: revision bbbbbbbbbbbb may be left half-applied "
        "(its DDL before the failure committed, its version row was not written); check the "
        "schema before running again"
    ), result.last["error"]


# --- the lock ---------------------------------------------------------------------------------


@pytest.mark.reliability(
    case="hung lock holder (PostgreSQL)", expected="exit 75 at the lock deadline naming the holder"
)
def test_held_postgres_lock_exits_75_naming_the_holder(pg_url):
    from gmg_dbupdate.backends.postgresql import advisory_key
    from gmg_dbupdate.lock import lock_name

    bundle = Bundle.load(BUNDLE)
    k1, k2 = advisory_key(lock_name(bundle))
    holder = psycopg2.connect(
        make_url(pg_url).render_as_string(False).replace("postgresql://", "postgresql://", 1),
        application_name="test-holder",
    )
    holder.autocommit = True
    try:
        holder.cursor().execute("SELECT pg_advisory_lock(%s, %s)", (k1, k2))
        started = time.monotonic()
        result = run_gmg("dbupdate", "--database-url", pg_url, "--lock-timeout", "1")
        assert result.code == 75, result
        assert 1 <= time.monotonic() - started < 10
        waiting = result.named("lock.waiting")
        assert waiting and waiting[0]["holder"]["application_name"] == "test-holder"
        assert "test-holder" in result.last["error"]
        assert schema_of(pg_url) == {}
    finally:
        holder.close()


@pytest.mark.reliability(
    case="hung lock holder (MariaDB)",
    expected="exit 75 at the lock deadline naming the holder's program",
)
def test_held_mysql_lock_exits_75_naming_the_holder(mysql_url):
    import pymysql

    from gmg_dbupdate.backends import backend_for
    from gmg_dbupdate.config import parse_url
    from gmg_dbupdate.lock import lock_name

    name = backend_for(parse_url(mysql_url), connect_timeout=5).lock_name(
        lock_name(Bundle.load(BUNDLE))
    )
    url = make_url(mysql_url)
    holder = pymysql.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        program_name="test-holder",
        autocommit=True,
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
            assert cursor.fetchone()[0] == 1
        started = time.monotonic()
        result = run_gmg("dbupdate", "--database-url", mysql_url, "--lock-timeout", "1")
        assert result.code == 75, result
        assert 1 <= time.monotonic() - started < 10
        waiting = result.named("lock.waiting")
        assert waiting and waiting[0]["holder"]["program_name"] == "test-holder", waiting
        assert waiting[0]["holder"]["connection_id"] == holder.thread_id()
        assert "test-holder" in result.last["error"]
        assert schema_of(mysql_url) == {}
    finally:
        holder.close()


@pytest.mark.reliability(
    case="hung lock holder (SQLite)", expected="exit 75 at the lock deadline naming the holder"
)
def test_held_sqlite_lock_exits_75(sqlite_url):
    import fcntl
    import json

    path = sqlite_url.removeprefix("sqlite:///") + ".lock"
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps({"runner": "test-holder", "pid": 1}))
        fh.flush()
        result = run_gmg("dbupdate", "--database-url", sqlite_url, "--lock-timeout", "1")
    assert result.code == 75, result
    assert result.named("lock.waiting")[0]["holder"]["runner"] == "test-holder"
    assert "test-holder" in result.last["error"]


@pytest.mark.reliability(
    case="bundle with a gap in the legacy map", expected="exit 64, nothing written"
)
def test_gap_in_the_legacy_map_exits_64(bundle_copy, sqlite_url):
    scripts = sorted((bundle_copy / "legacy" / "core" / "versions").glob("00[0-9]_*.py"))
    middle = scripts[len(scripts) // 2]
    middle.unlink()
    result = run_gmg("dbupdate", "--migrations", str(bundle_copy), "--database-url", sqlite_url)
    assert result.code == 64, result
    assert "gap" in result.last["error"] and "core" in result.last["error"]
    _assert_nothing_written(sqlite_url)


@pytest.mark.parametrize("indexed", [True, False], ids=["light-path", "full-path"])
def test_role_that_cannot_read_the_schema_exits_77(pg_url, tmp_path, indexed):
    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    role = f"reader_{time.monotonic_ns() % 10**9}"
    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (PASSWORD,))
        cur.execute(f"GRANT USAGE ON SCHEMA public TO {role}")  # but nothing on the tables
    conn.close()
    bundle = BUNDLE
    if not indexed:  # no index: the full path reads the schema with SQLAlchemy
        bundle = tmp_path / "bundle"
        shutil.copytree(BUNDLE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
        (bundle / "bundle-index.json").unlink()
    before = query(pg_url, "SELECT version_num FROM alembic_version")
    url = make_url(pg_url).set(username=role).render_as_string(False)
    result = run_gmg("dbupdate", "--database-url", url, "--migrations", str(bundle))
    assert result.code == 77, result
    assert result.last["error"].startswith("permission denied:"), result.last
    assert "alembic_version" in result.last["error"]
    assert query(pg_url, "SELECT version_num FROM alembic_version") == before
