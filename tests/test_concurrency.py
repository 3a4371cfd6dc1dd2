"""Many runners at once: one does the work, every one exits 0, nothing is applied twice."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import BUNDLE, URL_FIXTURES, crowd, run_gmg, schema_of
from gmg_dbupdate.bundle import Bundle

pytestmark = pytest.mark.slow
BUNDLE_OBJ = Bundle.load(BUNDLE)


def _events(results, name):
    return [e for _, events in results for e in events if e["event"] == name]


@pytest.mark.parametrize("backend", list(URL_FIXTURES))
def test_ten_runners_on_a_fresh_database(backend, request):
    url = request.getfixturevalue(URL_FIXTURES[backend])
    results = crowd(10, "--database-url", url, "--plugins", "all")
    assert [code for code, _ in results] == [0] * 10, [e[-1] for _, e in results]
    assert all(events[-1]["event"] == "dbupdate.done" for _, events in results)
    bootstrapped = Counter(e["component"] for e in _events(results, "schema.bootstrapped"))
    assert bootstrapped == Counter({c.name: 1 for c in BUNDLE_OBJ.components})
    assert sum(1 for _, ev in results if ev[-1]["changed"]) == 1
    assert _events(results, "lock.waiting"), "nobody waited: the runners did not overlap"
    assert len(_events(results, "lock.acquired")) == len(_events(results, "lock.released")) == 10
    assert set(schema_of(url)) == set().union(*BUNDLE_OBJ.table_names().values()) | {
        "alembic_version"
    }
    if backend != "sqlite":
        # Only the runner that migrated loaded the migration machinery: every other one
        # waited for the lock on its bare connection, looked again and found the schema current.
        light = [events for _, events in results if events[-1].get("fast_path")]
        assert len(light) == 9, [events[-1] for _, events in results]
        for events in light:
            names = [e["event"] for e in events]
            assert not any(n.startswith("alembic.") for n in names), names
            tail = ["schema.classified", "dbupdate.done"]  # came late: found it current
            if "lock.acquired" in names:  # waited for the lock, then looked again
                tail = ["lock.acquired", "schema.classified", "lock.released", "dbupdate.done"]
            assert names[-len(tail) :] == tail, names


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_ten_runners_on_a_database_needing_upgrades(backend, request):
    pg_url = request.getfixturevalue(URL_FIXTURES[backend])
    core = [
        r.revision
        for r in BUNDLE_OBJ.script.walk_revisions()
        if BUNDLE_OBJ.branches.owner[r.revision] == "core"
    ]
    r = run_gmg("alembic", "--database-url", pg_url, "upgrade", core[-1], json_logs=False)
    assert r.code == 0, r
    results = crowd(10, "--database-url", pg_url)
    assert [code for code, _ in results] == [0] * 10, [e[-1] for _, e in results]
    applied = [e["revision"] for e in _events(results, "migration.applied")]
    assert Counter(applied) == Counter(core[:-1]), applied  # every later core revision, once
    holders = [e["holder"] for e in _events(results, "lock.waiting") if e["holder"]]
    if backend == "postgresql":  # one query names the holder
        assert holders and all(h["application_name"].startswith("gmg-dbupdate:") for h in holders)
    else:  # IS_USED_LOCK, then the process list: a holder that ended in between is a bare id
        names = [h["program_name"] for h in holders if "program_name" in h]
        assert names and all(n.startswith("gmg-dbupdate:") for n in names), holders
        assert all(isinstance(h["connection_id"], int) for h in holders), holders
    assert json.dumps(holders)  # holders are plain JSON values
