"""``gmg dbverify`` and ``gmg dbcheck --wait``."""

from __future__ import annotations

import pytest

from conftest import URL_FIXTURES, Job, backend_of, execute, run_gmg, slow_except


def test_dbverify_equal_after_bootstrap_and_drift_after_tampering(db_url):
    assert run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url).code == 0
    equal = run_gmg("dbverify", "--plugins", "all", "--database-url", db_url)
    assert equal.code == 0, equal
    assert equal.stdout == "" and equal.last["equal"] is True
    assert equal.last["compared"] > 10

    execute(
        db_url,
        "DROP INDEX ix_core__users_email"
        + (" ON core__users" if backend_of(db_url) == "mysql" else ""),
        "ALTER TABLE core__tags ADD COLUMN colour VARCHAR(10)",
        "CREATE TABLE not_ours (id INTEGER PRIMARY KEY)",
    )
    drift = run_gmg("dbverify", "--plugins", "all", "--database-url", db_url)
    assert drift.code == 65, drift
    lines = drift.stdout.splitlines()
    assert "missing index ix_core__users_email on core__users (email)" in lines
    assert "unexpected column core__tags.colour" in lines
    assert len(lines) == 2, lines  # a table of another app is not drift
    assert drift.named("dbverify.drift")[0]["ignored"]["not_this_app"] == ["not_ours"]
    assert drift.last["event"] == "dbupdate.failed"


def test_dbverify_reports_type_and_nullability_changes(pg_url):
    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    execute(
        pg_url,
        "ALTER TABLE core__users ALTER COLUMN username TYPE VARCHAR(40)",
        "ALTER TABLE core__users ALTER COLUMN bio SET NOT NULL",
    )
    drift = run_gmg("dbverify", "--database-url", pg_url)
    assert drift.code == 65, drift
    assert any(line.startswith("core__users.username: type") for line in drift.stdout.splitlines())
    assert any(line.startswith("core__users.bio: nullable") for line in drift.stdout.splitlines())


def test_dbverify_leaves_disabled_plugin_tables_aside(db_url):
    assert run_gmg("dbupdate", "--plugins", "all", "--database-url", db_url).code == 0
    result = run_gmg("dbverify", "--plugins", "none", "--database-url", db_url)
    assert result.code == 0, result
    assert result.last["ignored"]["disabled_plugins"]


def test_dbcheck_without_wait_is_check(db_url):
    assert run_gmg("dbcheck", "--database-url", db_url).code == 1
    assert run_gmg("dbupdate", "--database-url", db_url).code == 0
    assert run_gmg("dbcheck", "--database-url", db_url).code == 0


# the inner loop waits once; the whole suite on both servers
@pytest.mark.parametrize("backend", slow_except(["postgresql", "mysql"], 0))
def test_dbcheck_wait_returns_once_migrated(backend, request):
    pg_url = request.getfixturevalue(URL_FIXTURES[backend])
    waiter = Job("dbcheck", "--wait", "--wait-timeout", "60", "--database-url", pg_url)
    waiter.wait_for(lambda e: e["event"] == "dbcheck.waiting")
    assert waiter.proc.poll() is None, "dbcheck --wait returned before the schema was current"
    assert run_gmg("dbupdate", "--database-url", pg_url).code == 0
    result = waiter.finish(timeout=30)
    assert result.code == 0, result
    assert result.last["event"] == "dbupdate.done" and result.last["current"] is True


def test_dbcheck_wait_gives_up_with_69(sqlite_url):
    result = run_gmg("dbcheck", "--wait", "--wait-timeout", "1.5", "--database-url", sqlite_url)
    assert result.code == 69, result
    assert 1.5 <= result.elapsed < 8
    assert result.last["pending"], result.last
