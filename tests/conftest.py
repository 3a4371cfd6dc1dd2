"""Fixtures: a real PostgreSQL (throwaway cluster or TEST_DATABASE_URL) and real SQLite files.

Every test talks to the job through the command line an operator uses: ``run_gmg`` calls
``gmg_dbupdate.cli.main(argv)`` in this process, with the environment, working directory and
output streams a ``gmg`` process would have (the database is as real, the legacy runtime is
still a child process); ``run_gmg(..., process=True)``, ``Job`` and ``crowd`` start the ``gmg``
console script itself, for what only a process shows: signals, killing, crowds of runners,
what is imported, how the process exits. ``TEST_GMG_PROCESS=1`` starts a process for every run.
"""

from __future__ import annotations

import faulthandler
import io
import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import mariadbserver
from pgserver import PASSWORD, Cluster, create_database, wait_until_accepting

REPO = Path(__file__).resolve().parents[1]
# the invented test bundle: its legacy history is sqlalchemy-migrate repositories
BUNDLE = REPO / "tests" / "bundles" / "invented"
GMG = str(Path(sys.executable).parent / "gmg")
ESSENTIAL_KEYS = ("timestamp", "level", "event")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    events: list[dict] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def last(self) -> dict:
        return self.events[-1]

    def span(self, first: str, last: str) -> float:
        """Seconds between two events, by the job's own timestamps."""
        from datetime import datetime

        def at(name: str) -> datetime:
            return datetime.fromisoformat(self.named(name)[0]["timestamp"].replace("Z", "+00:00"))

        return (at(last) - at(first)).total_seconds()

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]

    def __repr__(self) -> str:  # shown by pytest on failure
        return (
            f"Result(code={self.code}, stderr=\n{self.stderr[-4000:]}\n"
            f"stdout=\n{self.stdout[-2000:]})"
        )


def parse_events(stderr: str) -> list[dict]:
    """Every stderr line must be one JSON object with the essential keys (the contract)."""
    events = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        assert all(k in event for k in ESSENTIAL_KEYS), line
        events.append(event)
    return events


_RUNS: list = []  # every run_gmg result of the current test, for the reliability report


def run_gmg(
    *args: str,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    secrets: tuple[str, ...] = (PASSWORD, mariadbserver.PASSWORD),
    json_logs: bool = True,
    process: bool = False,
) -> Result:
    """One ``gmg ARGS`` run, checked as the contract wants: no password in its output, one
    JSON event per stderr line, the last one ``dbupdate.done`` or ``dbupdate.failed``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GMG_"))}
    full_env["GMG_MIGRATIONS"] = str(BUNDLE)  # tests never depend on the shipped bundle
    full_env.update(env or {})
    started = time.monotonic()
    _RUNS.append(None)
    run = _in_a_process if process or _EVERY_RUN_A_PROCESS else _in_this_process
    code, stdout, stderr = run(list(args), full_env, cwd, timeout)
    result = Result(code, stdout, stderr, elapsed=time.monotonic() - started)
    for secret in secrets:
        assert secret not in stdout and secret not in stderr, "password leaked"
    _RUNS[-1] = result
    if json_logs:
        result.events = parse_events(stderr)
        assert result.events, result
        assert result.last["event"] in ("dbupdate.done", "dbupdate.failed"), result
        if result.last["event"] == "dbupdate.failed":
            assert result.last["exit_code"] == result.code, result
    return result


_EVERY_RUN_A_PROCESS = os.environ.get("TEST_GMG_PROCESS") == "1"


def _in_a_process(args: list[str], env: dict, cwd: Path | None, timeout: float):
    proc = subprocess.run(
        [GMG, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stdout, proc.stderr


# The warning filters a fresh interpreter starts with (pytest's own apply while a test runs).
_STARTUP_WARNING_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


def _warn_on_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _in_this_process(args: list[str], env: dict, cwd: Path | None, timeout: float):
    """``cli.main(args)`` as the console script would run it: this environment and working
    directory, its own stdout and stderr, Python's default warning filters (a warning is
    printed, and breaks the JSON lines, as in a process). Everything is put back after."""
    from gmg_dbupdate import cli
    from gmg_dbupdate.state import reset

    saved_env, saved_cwd, saved_streams = dict(os.environ), os.getcwd(), (sys.stdout, sys.stderr)
    stdout, stderr = io.StringIO(), io.StringIO()
    # A run that hangs ends the test worker with every thread's traceback, as the subprocess
    # timeout would end the run.
    faulthandler.dump_traceback_later(timeout, exit=True, file=sys.__stderr__)
    try:
        os.environ.clear()
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.stdout, sys.stderr = stdout, stderr
        with warnings.catch_warnings():
            warnings.resetwarnings()
            for action, category, module in reversed(_STARTUP_WARNING_FILTERS):
                warnings.filterwarnings(action, category=category, module=module)
            warnings.showwarning = _warn_on_stderr
            try:
                code = cli.main(args)
            except SystemExit as exc:  # argparse's --help
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        faulthandler.cancel_dump_traceback_later()
        reset()  # nothing of the run (its log handler on this stderr, say) outlives it
        sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, stdout.getvalue(), stderr.getvalue()


def slow_except(params: list, *kept: int) -> list:
    """A matrix whose cases at the ``kept`` positions run in the fast inner loop
    (``./dev test -m "not slow"``); the others are marked ``slow`` (the whole suite runs all)."""
    keep = {i % len(params) for i in kept}
    marked = []
    for i, param in enumerate(params):
        if not isinstance(param, type(pytest.param(None))):
            param = pytest.param(param)
        marks = param.marks if i in keep else (*param.marks, pytest.mark.slow)
        marked.append(pytest.param(*param.values, marks=marks, id=param.id))
    return marked


def across_backends(cases: list, ids=None) -> list:
    """``(case…, backend)`` params for ``parametrize(..., indirect=["db_url"])``: every case on
    every backend in the whole suite. In the fast inner loop each case runs on one backend, the
    backends taking turns, so that loop still sees every case and every backend."""
    backends = list(URL_FIXTURES)
    marked = []
    for i, case in enumerate(cases):
        if not isinstance(case, type(pytest.param(None))):
            case = pytest.param(case, id=(ids or str)(case))
        for j, backend in enumerate(backends):
            marks = case.marks if j == i % len(backends) else (*case.marks, pytest.mark.slow)
            case_id = f"{backend}-{case.id}" if case.id is not None else None
            marked.append(pytest.param(*case.values, backend, marks=marks, id=case_id))
    return marked


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url():
    from registry_build import drop_templates

    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        drop_templates()
        return
    cluster = Cluster()
    cluster.start()
    try:
        wait_until_accepting(cluster.admin_url)
        yield cluster.admin_url
    finally:
        drop_templates()
        cluster.stop()


@pytest.fixture(scope="session")
def pg_admin(pg_admin_url):
    engine = sa.create_engine(
        make_url(pg_admin_url).set(drivername="postgresql+psycopg2"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(request):
    """A fresh, empty database for this test."""
    url = new_database(request, "postgresql", "t")
    yield url
    drop_database(request, url)


# --- MySQL / MariaDB ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_admin_url():
    """A MariaDB/MySQL server: TEST_MYSQL_URL (``mysql+pymysql://user:pw@host:port/db``), or a
    throwaway MariaDB started for this session (this worker)."""
    given = os.environ.get("TEST_MYSQL_URL")
    if given:
        yield given
        return
    server = mariadbserver.Server()
    try:  # a start that fails half-way leaves nothing behind either
        server.start()
        mariadbserver.wait_until_accepting(server.admin_url)
        yield server.admin_url
    finally:
        server.stop()


@pytest.fixture
def mysql_url(request):
    """A fresh, empty database for this test (``mysql+pymysql://…/t_…``)."""
    url = new_database(request, "mysql", "t")
    yield url
    drop_database(request, url)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'mediagoblin.db'}"


# backend -> the fixture giving a fresh, empty database on it
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url", "mysql": "mysql_url"}


@pytest.fixture(params=list(URL_FIXTURES))
def db_url(request):
    """The same scenario on every backend (SQLite, PostgreSQL, MariaDB). Tests of MediaGoblin's
    shipped bundle override it with ``pg_sqlite_url``: that history runs on those two only."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


def backend_of(url: str) -> str:
    """The backend a test URL is on (the keys of ``URL_FIXTURES``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)


def new_database(request, backend: str, prefix: str) -> str:
    """A new, empty database on ``backend``'s server (``drop_database`` drops it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if backend == "mysql":
        admin_url = request.getfixturevalue("mysql_admin_url")
        admin = mariadbserver.connect(admin_url)
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            admin.close()
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = request.getfixturevalue("pg_admin")
    with admin.connect() as c:
        create_database(c, name)
    url = make_url(request.getfixturevalue("pg_admin_url")).set(database=name)
    return url.render_as_string(hide_password=False)


def drop_database(request, url: str) -> None:
    name = make_url(url).database
    if backend_of(url) == "mysql":
        admin = mariadbserver.connect(request.getfixturevalue("mysql_admin_url"))
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            admin.close()
        return
    with request.getfixturevalue("pg_admin").connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- looking at a database ------------------------------------------------------------------


def engine_for(url: str) -> sa.Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if backend_of(url) == "mysql":  # the tests' SQL quotes identifiers with "…", as ANSI does
        ansi = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"
        return sa.create_engine(
            parsed,
            poolclass=sa.pool.NullPool,
            connect_args={"init_command": ansi, "ssl_disabled": True},  # see mariadbserver
        )
    return sa.create_engine(parsed, poolclass=sa.pool.NullPool)


def query(url: str, sql: str, **params) -> list[tuple]:
    engine = engine_for(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = engine_for(url)
    try:
        with engine.begin() as c:
            for sql in statements:
                c.execute(sa.text(sql))
    finally:
        engine.dispose()


def version_rows(url: str, table: str = "alembic_version") -> set[str]:
    return {r[0] for r in query(url, f"SELECT version_num FROM {table}")}


def schema_of(url: str, exclude: tuple[str, ...] = ()) -> dict:
    """A comparable picture of the schema: columns, keys, uniques, indexes per table."""
    engine = engine_for(url)
    try:
        insp = sa.inspect(engine)
        # the get_multi_* calls read the catalogue once for all tables (fast on PostgreSQL)
        columns = insp.get_multi_columns()
        pks = insp.get_multi_pk_constraint()
        fks = insp.get_multi_foreign_keys()
        uniques = insp.get_multi_unique_constraints()
        indexes = insp.get_multi_indexes()
        picture = {}
        for key in sorted(columns, key=lambda k: k[1]):
            table = key[1]
            if table in exclude:
                continue
            picture[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], _default(c.get("default")))
                    for c in columns[key]
                ],
                "pk": sorted(pks[key]["constrained_columns"]),
                "fks": sorted(
                    (
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                    )
                    for fk in fks[key]
                ),
                "uniques": sorted((u["name"], tuple(u["column_names"])) for u in uniques[key]),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in indexes[key]
                ),
            }
        return picture
    finally:
        engine.dispose()


def _default(value):
    return None if value is None else str(value).strip("()'\"")


def declare_head(bundle: Path, old: str, new: str) -> None:
    """A test that adds a revision on top of ``old`` declares it in the copy's manifest."""
    manifest = bundle / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert f'heads = ["{old}"]' in text
    manifest.write_text(text.replace(f'heads = ["{old}"]', f'heads = ["{new}"]'), encoding="utf-8")


def shipped_default_heads() -> set[str]:
    """Every head a default install of the shipped bundle stamps (whatever app it carries)."""
    from gmg_dbupdate.bundle import Bundle
    from gmg_dbupdate.config import default_bundle_dir

    bundle = Bundle.load(default_bundle_dir())
    return {
        h for c in [bundle.core.name, *bundle.default_plugins] for h in bundle.branches.heads[c]
    }


def heads() -> dict[str, str]:
    """The invented bundle's head per component (one each), read through the engine's loader."""
    from gmg_dbupdate.bundle import Bundle

    return {c: only for c, (only,) in Bundle.load(BUNDLE).branches.heads.items()}


# --- jobs in the background -----------------------------------------------------------------


class Job:
    """A ``gmg`` process whose JSON stderr is read as it comes."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        import threading

        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GMG_"))}
        full_env["GMG_MIGRATIONS"] = str(BUNDLE)  # tests never depend on the shipped bundle
        full_env.update(env or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [GMG, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, predicate, timeout: float = 60) -> dict:
        """Block until an event satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(self.lines):
                event = json.loads(self.lines[seen])
                seen += 1
                if predicate(event):
                    return event
            if self.proc.poll() is not None and seen >= len(self.lines):
                self._reader.join(timeout=5)
                if seen >= len(self.lines):
                    raise AssertionError(f"job ended first:\n{''.join(self.lines)[-3000:]}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting:\n{''.join(self.lines)[-3000:]}")

    def finish(self, timeout: float = 120) -> Result:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        stdout = self.proc.stdout.read()
        stderr = "".join(self.lines)
        result = Result(
            self.proc.returncode, stdout, stderr, elapsed=time.monotonic() - self.started
        )
        for secret in (PASSWORD, mariadbserver.PASSWORD):
            assert secret not in stderr and secret not in stdout, "password leaked"
        result.events = parse_events(stderr)
        assert result.last["event"] in ("dbupdate.done", "dbupdate.failed"), result
        return result


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (a job's legacy runner, say)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    """Running (a zombie, or a pid reused by another program, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def crowd(n: int, *args: str) -> list[tuple[int, list[dict]]]:
    """``n`` runs of ``gmg dbupdate ARGS`` started at once: (exit code, events) of each."""
    procs = [
        subprocess.Popen(
            [GMG, "dbupdate", "--migrations", str(BUNDLE), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    return [(p.returncode, parse_events(err)) for p, err in zip(procs, outputs, strict=True)]


# --- the reliability report -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reliability_case(request):
    marker = request.node.get_closest_marker("reliability")
    if marker is not None:
        case = marker.kwargs["case"]
        params = getattr(request.node, "callspec", None)
        if params is not None:
            case = f"{case} [{request.node.callspec.id}]".replace(PASSWORD, "***")
        request.node.user_properties.append(("case", case))
        request.node.user_properties.append(("expected", marker.kwargs["expected"]))


@pytest.fixture
def observe(request):
    """Record what a reliability case saw, for RELIABILITY.md."""

    def record(text: str) -> None:
        request.node.user_properties.append(("observed", text))

    return record


_REPORT_ROWS: list[dict] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A reliability case that records no observation gets its last run's: code, event, error."""
    _RUNS.clear()
    yield
    props = dict(item.user_properties)
    runs = [r for r in _RUNS if r is not None and r.events]
    if "case" in props and "observed" not in props and runs:
        last = runs[-1].last
        text = f"exit {runs[-1].code}, {last['event']}"
        if "error" in last:
            text += f": {last['error'][:90]}"
        item.user_properties.append(("observed", text.replace(PASSWORD, "***")))


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    if "case" not in props:
        return
    if report.when == "call" or (report.failed and report.when == "setup"):
        _REPORT_ROWS.append(
            {
                "case": props["case"],
                "expected": props["expected"],
                "observed": props.get("observed", report.longreprtext.splitlines()[-1:] or [""])
                if report.failed and "observed" not in props
                else props.get("observed", ""),
                "pass": "yes" if report.passed else "NO",
                "seconds": round(report.duration, 1),
            }
        )


def pytest_sessionfinish(session):
    target = os.environ.get("GMG_RELIABILITY_REPORT")
    if not target or hasattr(session.config, "workerinput") or not _REPORT_ROWS:
        return
    import platform

    rows = sorted(_REPORT_ROWS, key=lambda r: r["case"])
    passed = sum(r["pass"] == "yes" for r in rows)
    lines = [
        "# Reliability report",
        "",
        "Generated by `./dev reliability` (pytest `-m reliability`): every row is a test that ran",
        "against a real PostgreSQL server, a real MariaDB server or real SQLite files through the "
        "`gmg` CLI.",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}). "
        f"{passed} of {len(rows)} cases passed.",
        "",
        "| case | expected | observed | pass | test s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        observed = r["observed"] if isinstance(r["observed"], str) else " ".join(r["observed"])
        cells = [r["case"], r["expected"], observed.replace("|", "\\|"), r["pass"], r["seconds"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")
