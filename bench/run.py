"""Benchmarks of ``gmg dbupdate`` against bare Alembic (issue 6). One command, from the repo root:

    .venv/bin/python bench/run.py             # full run: a few minutes on 2 cores
    .venv/bin/python bench/run.py --quick     # fewer repetitions: a minute or two
    .venv/bin/python bench/run.py --only noop,history --output /tmp/RESULTS.md

It starts its own throwaway PostgreSQL clusters (initdb + pg_ctl on free ports, as the
``postgres`` user when run as root) and, for the ``mariadb`` scenario, a throwaway MariaDB
(``tests/mariadbserver.py``: mariadb-install-db + mariadbd on a free port), so the figures do not
depend on any shared server. Every
scenario is repeated (the counts are printed and written down); each figure is the median of its
repetitions and is compared with a baseline measured in the same run, interleaved with it. The
table is printed and written to ``bench/RESULTS.md`` with a description of the machine.

Scenarios (``--only`` takes their names):
- ``noop``: no-op ``gmg dbupdate --plugins all`` on a current database (the bundled schema, core +
  all plugins) vs bare ``alembic upgrade heads`` with the same scripts on the same database;
- ``ready``: the job started before the database; time from the database first accepting
  connections to the job's ``db.ready`` event, and the job's connection attempts per second;
- ``replicas``: 20 ``gmg dbupdate --plugins all`` started at once on a fresh database: each one's
  completion time vs a single run on another fresh database;
- ``history``: a generated history of 500 revisions in 10 branches: upgrade from the branch bases
  to the heads, ours vs bare Alembic, then the no-op run on it, ours vs bare Alembic;
- ``mariadb``: the same history scenario on MariaDB (starting state copied table by table, as
  MariaDB has no database templates);
- ``live``: app clients on a hot table, a long reader holding it, and a migration that alters
  it: the app's worst and p99 query latency while ours runs vs while bare Alembic runs
  (``bench/live.py``);
and the peak RSS of every process involved (``os.wait4``'s rusage, per child).

See ``bench/README.md`` for exactly what is compared and why.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUNDLE = REPO / "migrations"
_VENV_BIN = REPO / ".venv" / "bin"
BIN = _VENV_BIN if (_VENV_BIN / "gmg").exists() else Path(sys.executable).parent
GMG = str(BIN / "gmg")
ALEMBIC = str(BIN / "alembic")

sys.path.insert(0, str(HERE))
from history import generate  # noqa: E402
from live import LIVE_BUNDLE, LIVE_CLIENTS, LIVE_DDL_LOCK_TIMEOUT_S, LIVE_READER_S  # noqa: E402
from live import one_round as live_round  # noqa: E402
from pgcluster import Cluster  # noqa: E402

# The tests' throwaway MariaDB (mariadb-install-db + mariadbd on a free port), reused as is.
sys.path.append(str(REPO / "tests"))
import mariadbserver  # noqa: E402

try:
    import psycopg2
except ImportError:  # pragma: no cover - wrong interpreter
    sys.exit("bench/run.py needs the project's virtualenv: .venv/bin/python bench/run.py")

REPS_FULL = {
    "noop": 7,
    "ready": 5,
    "single": 5,
    "replicas": 3,
    "history_upgrade": 3,
    "history_noop": 5,
    "mariadb_upgrade": 3,
    "mariadb_noop": 5,
    "live": 2,
}
REPS_QUICK = {
    "noop": 3,
    "ready": 2,
    "single": 2,
    "replicas": 1,
    "history_upgrade": 1,
    "history_noop": 2,
    "mariadb_upgrade": 1,
    "mariadb_noop": 2,
    "live": 1,
}
SCENARIOS = ("noop", "ready", "replicas", "history", "mariadb", "live")
# Scenarios that need the main PostgreSQL cluster (the others start their own server).
NEEDS_PG = ("noop", "ready", "replicas", "history", "live")
REPLICAS = 20
# What any Python client pays before it can even ask for the lock: the floor of a crowd.
FLOOR_PY = "import sys, psycopg2; c = psycopg2.connect(sys.argv[1]); c.cursor().execute('SELECT 1')"
HISTORY_COMPONENTS = 10
HISTORY_STEPS = 50
READY_DELAY_S = 3.0  # how long the job waits for the database before it is started
POLL_SLEEP_S = 0.005  # the bench's own readiness poller: one attempt every ~5 ms
RSS_TARGET_MIB = 80.0
TIMEOUT_S = 600.0


# --- running processes ----------------------------------------------------------------------


PYCACHE: list[Path] = []  # set by main(): a private bytecode cache for every child


def child_env() -> dict[str, str]:
    """The caller's environment minus anything that configures the job or libpq.

    Bytecode caching is on, in a private cache tree (``PYTHONPYCACHEPREFIX``), whatever the
    calling shell says: a deployed image has everything byte-compiled, and the repository is not
    written to. The discarded warm-up runs fill the cache.
    """
    skip = ("DATABASE_", "GMG_", "PG", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["GMG_TERMINATION_LOG"] = "/nonexistent/gmg-bench-termination-log"
    if PYCACHE:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE[0])
    return env


@dataclass
class Proc:
    label: str
    argv: list[str]
    code: int | None = None
    started: float = 0.0  # perf_counter at spawn of the batch
    wall_started: float = 0.0  # the same moment on the wall clock (to compare with log times)
    ended: float = 0.0  # perf_counter when reaped
    maxrss_kib: int = 0
    cpu_s: float = 0.0
    stdout: str = ""
    stderr: str = ""

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def rss_mib(self) -> float:
        return self.maxrss_kib / 1024

    @property
    def events(self) -> list[dict]:
        found = []
        for line in self.stderr.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "event" in event:
                found.append(event)
        return found

    def event(self, name: str) -> dict | None:
        matching = [e for e in self.events if e.get("event") == name]
        return matching[-1] if matching else None

    def tail(self, lines: int = 6) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


class BenchError(RuntimeError):
    pass


def run_batch(commands: Sequence[tuple[str, list[str]]], timeout: float = TIMEOUT_S) -> list[Proc]:
    """Start every command at once; reap each with ``wait4`` (exact end time and rusage).

    Each completion time is measured from the moment just before the first spawn.
    """
    env = child_env()
    with contextlib.ExitStack() as stack:
        outputs = [
            (
                stack.enter_context(tempfile.TemporaryFile()),
                stack.enter_context(tempfile.TemporaryFile()),
            )
            for _ in commands
        ]
        running: dict[int, tuple[subprocess.Popen, Proc]] = {}
        procs: list[Proc] = []
        t0 = time.perf_counter()
        wall0 = time.time()
        try:
            for (label, argv), (out, err) in zip(commands, outputs, strict=True):
                popen = subprocess.Popen(
                    argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=REPO
                )
                proc = Proc(label, list(argv), started=t0, wall_started=wall0)
                procs.append(proc)
                running[popen.pid] = (popen, proc)
            _reap(running, timeout)
        finally:
            for pid, (popen, _proc) in running.items():
                if popen.returncode is None:
                    _kill(pid)
                    popen.wait()
        for proc, (out, err) in zip(procs, outputs, strict=False):
            out.seek(0)
            err.seek(0)
            proc.stdout = out.read().decode(errors="replace")
            proc.stderr = err.read().decode(errors="replace")
    return procs


def _reap(running: dict[int, tuple[subprocess.Popen, Proc]], timeout: float) -> None:
    watchdog = threading.Timer(timeout, _kill_all, [list(running)])
    watchdog.daemon = True
    watchdog.start()
    pending = set(running)
    try:
        while pending:
            pid, status, usage = os.wait4(-1 if len(pending) > 1 else next(iter(pending)), 0)
            now = time.perf_counter()
            if pid not in pending:
                continue  # not ours (nothing else should be running)
            pending.discard(pid)
            popen, proc = running[pid]
            popen.returncode = proc.code = os.waitstatus_to_exitcode(status)
            proc.ended = now
            proc.maxrss_kib = usage.ru_maxrss
            proc.cpu_s = usage.ru_utime + usage.ru_stime
    finally:
        watchdog.cancel()


def run_one(label: str, argv: list[str], timeout: float = TIMEOUT_S) -> Proc:
    return run_batch([(label, argv)], timeout)[0]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        _kill(pid)


def require(proc: Proc, ok: bool, what: str) -> None:
    if proc.code != 0 or not ok:
        raise BenchError(f"{proc.label}: {what} (exit {proc.code})\n{proc.tail()}")


# --- databases ------------------------------------------------------------------------------


class Server:
    """The main throwaway PostgreSQL cluster, and fresh databases on it.

    The interface the history scenario needs from a backend: ``fresh(prefix, template)``,
    ``url(name)``, ``version_rows(url)``, ``server_version()``, ``stop()``, and the texts below.
    """

    label = "PostgreSQL"
    copy_how = "`CREATE DATABASE … TEMPLATE` copy"
    notes: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.cluster = Cluster("bench")
        self.cluster.init()
        self.cluster.start()
        wait_accepting(self.cluster.url())

    def admin(self, sql: str) -> None:
        conn = psycopg2.connect(self.cluster.url())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def fresh(self, prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}"{clause}')
        return name

    def url(self, database: str) -> str:
        return self.cluster.url(database)

    def version_rows(self, url: str) -> set[str]:
        return {r[0] for r in query(url, "SELECT version_num FROM alembic_version")}

    def server_version(self) -> str:
        return query(self.cluster.url(), "SELECT version()")[0][0]

    def stop(self) -> None:
        self.cluster.destroy()


class MariaDBServer:
    """A throwaway MariaDB (``tests/mariadbserver.py``), and fresh databases on it.

    The same interface as ``Server``. MariaDB has no ``CREATE DATABASE … TEMPLATE``: a copy of a
    template is made table by table (``CREATE TABLE … LIKE`` keeps columns, indexes and the
    primary key; ``INSERT … SELECT`` the rows), ``alembic_version`` included.
    """

    label = "MariaDB"
    copy_how = (
        "copy made table by table (`CREATE TABLE new.t LIKE template.t` + `INSERT … SELECT`, "
        "`alembic_version` included: MariaDB has no database templates)"
    )
    notes = (
        "Transactions on MySQL/MariaDB: DDL is not transactional there (each statement commits "
        "implicitly), so our engine commits each revision together with its version row. The "
        "bare-Alembic env's one `begin_transaction()` around all migrations is a real transaction "
        "only where DDL is transactional; on MySQL/MariaDB Alembic does not open it and instead "
        "runs each migration in a transaction of its own (revision + its version row), which the "
        "DDL inside commits implicitly anyway. Both sides therefore commit once per revision.",
    )

    def __init__(self) -> None:
        self.server = mariadbserver.Server()
        try:
            self.server.start()
            mariadbserver.wait_until_accepting(self.server.admin_url)
        except BaseException:
            self.server.stop()
            raise

    def _execute(self, *statements: str) -> list[tuple]:
        conn = mariadbserver.connect(self.server.admin_url)
        rows: list[tuple] = []
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
                    rows = list(cur.fetchall())
        finally:
            conn.close()
        return rows

    def fresh(self, prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        statements = [f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"]
        if template:
            tables = self._execute(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = '{template}' AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            )
            for (table,) in tables:
                statements += [
                    f"CREATE TABLE `{name}`.`{table}` LIKE `{template}`.`{table}`",
                    f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{template}`.`{table}`",
                ]
        self._execute(*statements)
        return name

    def url(self, database: str) -> str:
        return self.server.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def version_rows(self, url: str) -> set[str]:
        conn = mariadbserver.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT version_num FROM alembic_version")
                return {r[0] for r in cur.fetchall()}
        finally:
            conn.close()

    def server_version(self) -> str:
        return self._execute("SELECT VERSION()")[0][0]

    def stop(self) -> None:
        self.server.stop()


def query(url: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def wait_accepting(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(url, connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- the two contenders ---------------------------------------------------------------------

ENV_PY = '''"""A minimal standalone Alembic env.py: the bare-Alembic baseline of bench/run.py.

What ``alembic init`` generates, trimmed to the online path: logging from the ini, one engine
from the ini's URL (NullPool), one transaction around all migrations.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

engine = engine_from_config(
    config.get_section(config.config_ini_section, {}),
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=config.get_main_option("version_table"),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
'''

INI = """[alembic]
script_location = {script_location}
path_separator = os
version_locations = {version_locations}
version_table = alembic_version
sqlalchemy.url = {url}

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


def _as_list(value: str | list[str]) -> list[str]:
    """A manifest's ``versions``: one folder or a list of them."""
    return [value] if isinstance(value, str) else value


class BareAlembic:
    """``alembic -c INI …`` with a standalone env.py over a bundle's versions folders."""

    def __init__(self, workdir: Path, bundle: Path) -> None:
        self.workdir = workdir
        self.env_dir = workdir / "bare_alembic_env"
        self.env_dir.mkdir(parents=True, exist_ok=True)
        (self.env_dir / "env.py").write_text(ENV_PY)
        manifest = tomllib.loads((bundle / "manifest.toml").read_text())
        entries = [manifest["core"], *manifest.get("plugins", [])]
        folders = [f for e in entries for f in _as_list(e["versions"])]
        self.version_locations = os.pathsep.join(str((bundle / f).resolve()) for f in folders)
        self.bundle = bundle

    def ini(self, url: str) -> str:
        path = self.workdir / f"alembic-{uuid.uuid4().hex[:8]}.ini"
        sa_url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        path.write_text(
            INI.format(
                script_location=self.env_dir,
                version_locations=self.version_locations,
                url=sa_url.replace("%", "%%"),
            )
        )
        return str(path)

    def argv(self, url: str, *args: str) -> list[str]:
        return [ALEMBIC, "-c", self.ini(url), *args]


def gmg_argv(url: str, *extra: str, bundle: Path | None = None) -> list[str]:
    argv = [GMG, "dbupdate", "--database-url", url, "--plugins", "all"]
    if bundle is not None:
        argv += ["--migrations", str(bundle)]
    return [*argv, *extra]


def alembic_applied(proc: Proc) -> int:
    return proc.stderr.count("Running upgrade")


def alternate(i: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Interleave contender and baseline, swapping which goes first on every repetition."""
    for step in (first, second) if i % 2 == 0 else (second, first):
        step()


# --- results --------------------------------------------------------------------------------


@dataclass
class Figure:
    scenario: str
    name: str
    value: float | None
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    met: bool | None
    note: str = ""
    cpu: tuple[list[Proc], list[Proc]] | None = None  # (ours, baseline) for a CPU-time ratio

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def cpu_ratio(self) -> float | None:
        """Median CPU time (user+sys) of ours ÷ the baseline's: less sensitive to a busy machine."""
        if not self.cpu or not self.cpu[0] or not self.cpu[1]:
            return None
        ours = statistics.median(p.cpu_s for p in self.cpu[0])
        base = statistics.median(p.cpu_s for p in self.cpu[1])
        return ours / base if base else None


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # (what, our processes, baseline name, baseline processes)
    rss: list[tuple[str, list[Proc], str, list[Proc]]] = field(default_factory=list)
    # servers started by a scenario itself, for the machine table: label -> version
    servers: dict[str, str] = field(default_factory=dict)

    def note(self, scenario: str, text: str) -> None:
        self.notes.setdefault(scenario, []).append(text)

    def sample(self, key: str, values: list[float]) -> list[float]:
        self.samples[key] = values
        return values


def fast_path_note(procs: list[Proc]) -> str:
    taken = sum(bool((p.event("dbupdate.done") or {}).get("fast_path")) for p in procs)
    return f"The engine reported `fast_path` in {taken} of {len(procs)} of our no-op runs."


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# --- scenario: no-op on the bundled schema ----------------------------------------------------


def scenario_noop(server: Server, work: Path, reps: dict, res: Results) -> None:
    name = server.fresh("noop")
    url = server.url(name)
    bare = BareAlembic(work, BUNDLE)
    setup = run_one("setup: gmg dbupdate (bootstrap)", gmg_argv(url))
    done = setup.event("dbupdate.done") or {}
    require(setup, bool(done.get("bootstrapped")), "bootstrap of the bundled schema failed")

    ours: list[Proc] = []
    base: list[Proc] = []

    def run_ours() -> None:
        proc = run_one("gmg dbupdate (no-op)", gmg_argv(url))
        done = proc.event("dbupdate.done") or {}
        require(proc, done.get("changed") is False, "the no-op run changed something")
        ours.append(proc)

    def run_bare() -> None:
        proc = run_one("alembic upgrade heads (no-op)", bare.argv(url, "upgrade", "heads"))
        require(proc, alembic_applied(proc) == 0, "bare Alembic applied revisions")
        base.append(proc)

    run_ours()
    run_bare()  # warm-up (page cache, bytecode): discarded
    ours.clear()
    base.clear()
    for i in range(reps["noop"]):
        alternate(i, run_ours, run_bare)
    o = median(res.sample("noop: gmg dbupdate (s)", [p.elapsed for p in ours]))
    b = median(res.sample("noop: alembic upgrade heads (s)", [p.elapsed for p in base]))
    res.figures.append(
        Figure(
            "noop",
            "no-op run, bundled schema (core + every plugin), wall time",
            o,
            "s",
            b,
            "bare `alembic upgrade heads`, same scripts and database",
            "≤ 0.5× baseline",
            o / b <= 0.5,
            cpu=(ours, base),
        )
    )
    res.rss.append(("no-op run, bundled schema", ours, "bare Alembic no-op", base))
    res.note(
        "noop",
        f"{reps['noop']} repetitions of each, interleaved (order swapped each time), after one "
        "discarded warm-up of each; database bootstrapped once by `gmg dbupdate --plugins all`.",
    )
    res.note(
        "noop",
        f"CPU time (user+sys) per run, median: ours {median([p.cpu_s for p in ours]):.3f} s, "
        f"bare Alembic {median([p.cpu_s for p in base]):.3f} s. {fast_path_note(ours)}",
    )


# --- scenario: db.ready latency -------------------------------------------------------------


def _parse_ts(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _poll_until_accepting(url: str, stop: threading.Event, out: dict) -> None:
    out["poll_started"] = time.time()
    attempts = 0
    while not stop.is_set():
        attempts += 1
        began = time.time()
        try:
            psycopg2.connect(url, connect_timeout=2).close()
        except psycopg2.OperationalError:
            time.sleep(POLL_SLEEP_S)
            continue
        out["accepting"] = began
        out["poll_attempts"] = attempts
        return


def _run_into(holder: list[Proc], label: str, argv: list[str]) -> None:
    holder.append(run_one(label, argv))


def _one_attempt(url: str) -> float:
    began = time.perf_counter()
    conn = psycopg2.connect(url, connect_timeout=2)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()
    return time.perf_counter() - began


def _attempt_rate(proc: Proc, ready: dict) -> float:
    """``db.ready.attempts / db.ready.waited_s`` (from the timestamps if waited_s is absent)."""
    if "attempts" not in ready:
        raise BenchError(f"{proc.label}: db.ready carries no `attempts`\n{proc.tail()}")
    waited = ready.get("waited_s")
    if not waited:
        start = proc.event("dbupdate.start")
        waited = _parse_ts(ready["timestamp"]) - _parse_ts(start["timestamp"])
    return ready["attempts"] / waited


def scenario_ready(server: Server, work: Path, reps: dict, res: Results) -> None:
    cluster = Cluster("ready")
    try:
        cluster.init()
        cluster.start()
        wait_accepting(cluster.url())
        conn = psycopg2.connect(cluster.url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute('CREATE DATABASE "ready"')
        conn.close()
        url = cluster.url("ready")
        setup = run_one("setup: gmg dbupdate (bootstrap)", gmg_argv(url))
        require(setup, True, "bootstrap failed")

        # Baseline: one successful attempt by a warm client (connect + SELECT 1), the floor
        # of any client's latency; and, for the RSS figure, the same job with the database up.
        firsts = [_one_attempt(url) for _ in range(10)]
        up_procs: list[Proc] = []
        for _ in range(max(3, reps["ready"])):
            proc = run_one("gmg dbupdate (database up)", gmg_argv(url))
            require(proc, proc.event("db.ready") is not None, "no db.ready event")
            up_procs.append(proc)
        cluster.stop("fast")

        latencies, rates, poll_rates, boot, procs = [], [], [], [], []
        for _ in range(reps["ready"]):
            seen: dict = {}
            stop = threading.Event()
            poller = threading.Thread(
                target=_poll_until_accepting, args=(cluster.url(), stop, seen), daemon=True
            )
            holder: list[Proc] = []
            job = threading.Thread(
                target=_run_into,
                args=(holder, "gmg dbupdate (started before the database)", gmg_argv(url)),
                daemon=True,
            )
            job.start()
            poller.start()
            time.sleep(READY_DELAY_S)
            started = time.time()
            pg_ctl = cluster.start_nowait()
            pg_ctl.wait(timeout=120)
            poller.join(timeout=120)
            job.join(timeout=TIMEOUT_S)
            stop.set()
            if not holder or "accepting" not in seen:
                raise BenchError("the job or the database never came up")
            proc = holder[0]
            ready = proc.event("db.ready")
            require(proc, ready is not None, "no db.ready event")
            procs.append(proc)
            latencies.append(_parse_ts(ready["timestamp"]) - seen["accepting"])
            rates.append(_attempt_rate(proc, ready))
            poll_rates.append(seen["poll_attempts"] / (seen["accepting"] - seen["poll_started"]))
            boot.append(seen["accepting"] - started)
            cluster.stop("fast")
    finally:
        cluster.destroy()

    lat = median(res.sample("ready: db.ready after accepting (s)", latencies))
    first = median(res.sample("ready: one connect + SELECT 1, warm client (s)", firsts))
    rate = median(res.sample("ready: job attempts per second", rates))
    poll = median(res.sample("ready: bench poller attempts per second", poll_rates))
    res.sample("ready: server start to accepting (s)", boot)
    res.figures.append(
        Figure(
            "ready",
            "`db.ready` after the database first accepts connections",
            lat,
            "s",
            first,
            "one connect + `SELECT 1` by a warm client, the floor of any client",
            "≤ 0.5 s",
            lat <= 0.5,
            note=f"worst of {len(latencies)}: {max(latencies):.3f} s",
        )
    )
    res.figures.append(
        Figure(
            "ready",
            "connection attempts per second while waiting",
            rate,
            "/s",
            poll,
            f"a tight poll loop (one attempt every {POLL_SLEEP_S * 1000:g} ms)",
            "≤ 10 /s",
            max(rates) <= 10,
            note=f"highest of {len(rates)}: {max(rates):.2f} /s",
        )
    )
    res.rss.append(
        ("run started before the database", procs, "same job, database already up", up_procs)
    )
    res.note(
        "ready",
        f"{reps['ready']} repetitions: the job (`gmg dbupdate --plugins all`, wait timeout 60 s) "
        f"starts against a stopped cluster; {READY_DELAY_S:g} s later `pg_ctl start`; a thread "
        f"polls with psycopg2 every {POLL_SLEEP_S * 1000:g} ms and records the start of its "
        "first successful connection as *accepting* (resolution ≈ the poll interval). Latency is "
        "the `db.ready` event's `timestamp` minus that moment (same clock); attempts per second "
        "is `db.ready.attempts / db.ready.waited_s`.",
    )
    res.note(
        "ready",
        f"Server start (`pg_ctl start`) to accepting, median {median(boot):.3f} s. Latency "
        f"baseline: {len(firsts)} connects + `SELECT 1` by the bench itself (psycopg2, password "
        "authentication), the least any client can take once the server accepts.",
    )
    res.note(
        "ready",
        "Started before the database: "
        + fast_path_note(procs).replace("our no-op runs", "those runs")
        + " With the database already up (the RSS baseline): "
        + fast_path_note(up_procs).replace("our no-op runs", "those runs"),
    )


# --- scenario: 20 replicas at once ----------------------------------------------------------


def scenario_replicas(server: Server, work: Path, reps: dict, res: Results) -> None:
    bare = BareAlembic(work, BUNDLE)
    singles: list[Proc] = []
    bares: list[Proc] = []
    batches: list[list[Proc]] = []

    def single() -> None:
        url = server.url(server.fresh("single"))
        proc = run_one("gmg dbupdate (fresh, alone)", gmg_argv(url))
        done = proc.event("dbupdate.done") or {}
        require(proc, bool(done.get("bootstrapped")), "single fresh run did not bootstrap")
        singles.append(proc)

    def bare_fresh() -> None:
        url = server.url(server.fresh("barefresh"))
        proc = run_one("alembic upgrade heads (fresh)", bare.argv(url, "upgrade", "heads"))
        require(proc, alembic_applied(proc) > 0, "bare Alembic applied nothing")
        bares.append(proc)

    floors: list[list[Proc]] = []
    solo_floors: list[Proc] = []
    restarts: list[list[Proc]] = []

    def replicas() -> None:
        name = server.fresh("replicas")
        url = server.url(name)
        procs = run_batch([(f"replica {i + 1}", gmg_argv(url)) for i in range(REPLICAS)])
        changed = 0
        for proc in procs:
            done = proc.event("dbupdate.done") or {}
            require(proc, "changed" in done, "replica failed")
            changed += bool(done["changed"])
        if changed != 1:
            raise BenchError(f"{changed} replicas changed the database; exactly 1 should")
        batches.append(procs)
        # The same 20 restarted on the now current database (a rolling restart).
        again = run_batch([(f"restart {i + 1}", gmg_argv(url)) for i in range(REPLICAS)])
        for proc in again:
            done = proc.event("dbupdate.done") or {}
            require(proc, done.get("changed") is False, "restarted replica failed or changed")
        restarts.append(again)
        # The floor on this machine: 20 Pythons that only import the driver and connect.
        floor = [str(BIN / "python"), "-c", FLOOR_PY, url]
        procs = run_batch([(f"floor {i + 1}", floor) for i in range(REPLICAS)])
        for proc in procs:
            require(proc, proc.code == 0, "bare connect failed")
        floors.append(procs)
        solo_floors.append(run_one("floor, alone", floor))

    single()
    bare_fresh()  # warm-up: discarded
    singles.clear()
    bares.clear()
    for i in range(max(reps["single"], reps["replicas"])):
        steps = [single, bare_fresh] if i < reps["single"] else []
        if i < reps["replicas"]:
            steps.append(replicas)
        for step in steps if i % 2 == 0 else reversed(steps):
            step()

    one = median(res.sample("replicas: single fresh run (s)", [p.elapsed for p in singles]))
    slowest = [max(p.elapsed for p in batch) for batch in batches]
    middle = [statistics.median(p.elapsed for p in batch) for batch in batches]
    res.sample("replicas: slowest of 20 (s)", slowest)
    res.sample("replicas: median of 20 (s)", middle)
    for k, batch in enumerate(batches):
        res.sample(f"replicas: batch {k + 1}, each (s)", sorted(p.elapsed for p in batch))
    worst = median(slowest)
    res.figures.append(
        Figure(
            "replicas",
            f"{REPLICAS} replicas at once on a fresh database: slowest completion",
            worst,
            "s",
            one,
            "one run alone on a fresh database",
            "≤ baseline + 1 s",
            worst <= one + 1.0,
            note=f"baseline + 1 s = {one + 1.0:.3f} s",
        )
    )
    res.figures.append(
        Figure(
            "replicas",
            f"{REPLICAS} replicas at once: median completion",
            median(middle),
            "s",
            one,
            "one run alone on a fresh database",
            "(information)",
            None,
        )
    )
    restart = median([max(p.elapsed for p in batch) for batch in restarts])
    res.sample("replicas: restart on a current database, slowest of 20 (s)", [restart])
    res.figures.append(
        Figure(
            "replicas",
            f"the same {REPLICAS} restarted at once on the now current database: slowest",
            restart,
            "s",
            one,
            "one run alone on a fresh database",
            "(information)",
            None,
        )
    )
    floor = median([max(p.elapsed for p in batch) for batch in floors])
    res.sample("replicas: floor, slowest of 20 bare connects (s)", [floor])
    res.figures.append(
        Figure(
            "replicas",
            f"floor: {REPLICAS} Python processes at once that only import psycopg2, connect "
            "and `SELECT 1`: slowest",
            floor,
            "s",
            one,
            "one run alone on a fresh database",
            "(information)",
            None,
            note=f"single run + floor = {one + floor:.3f} s",
        )
    )
    b = median(
        res.sample("replicas: bare alembic upgrade heads, fresh (s)", [p.elapsed for p in bares])
    )
    res.figures.append(
        Figure(
            "replicas",
            "fresh install, one run (bootstrap from models)",
            one,
            "s",
            b,
            "bare `alembic upgrade heads` from an empty database",
            "(information)",
            None,
            cpu=(singles, bares),
        )
    )
    res.rss.append(("fresh install, one run", singles, "bare Alembic from empty", bares))
    every = [p for b in batches for p in b]
    res.rss.append((f"{REPLICAS} replicas at once (each)", every, "one run alone", singles))
    cpu_single = median([p.cpu_s for p in singles])
    cpu_batch = median([sum(p.cpu_s for p in batch) for batch in batches])
    cores = len(os.sched_getaffinity(0))
    res.note(
        "replicas",
        f"{reps['single']} single runs and {reps['replicas']} batches of {REPLICAS}, interleaved, "
        "each on its own fresh database, after a discarded warm-up. Completion time of a replica "
        "= from just before the first of the batch is spawned to its exit (reaped with wait4). "
        "Every replica must exit 0 and exactly one may report `changed`. The figure is the "
        "median over batches of the slowest replica.",
    )
    res.note(
        "replicas",
        f"CPU time (user+sys): one run {cpu_single:.3f} s; a batch of {REPLICAS} {cpu_batch:.3f} s "
        f"in total, i.e. at least {cpu_batch / cores:.3f} s of wall time on {cores} cores "
        "before any waiting.",
    )
    cpu_floor = median([sum(p.cpu_s for p in batch) for batch in floors])
    solo = median([p.elapsed for p in solo_floors])
    bound = floor + one - solo
    res.note(
        "replicas",
        f"The floor: {REPLICAS} processes that do nothing but start Python, import psycopg2, "
        f"connect and `SELECT 1` take {cpu_floor:.3f} s of CPU in all and {floor:.3f} s of wall "
        f"time on {cores} cores (one alone: {solo:.3f} s). Every replica pays that start-up "
        "before it can ask for the lock, and the winner still has the rest of its run to do "
        f"after it, so no crowd of Python runners finishes here sooner than about floor + "
        f"single run − one start-up = {bound:.3f} s, against a target of {one + 1.0:.3f} s.",
    )
    res.note("replicas", "Where the time goes, one run alone: " + phases(singles))
    res.note("replicas", f"Where the time goes, {REPLICAS} at once (all batches): " + phases(every))


def phases(procs: list[Proc]) -> str:
    """Median (max) of each phase of a run, from its spawn, its log timestamps and its exit."""
    spans: dict[str, list[float]] = {}

    def add(name: str, value: float | None) -> None:
        if value is not None:
            spans.setdefault(name, []).append(value)

    for proc in procs:
        at = {e["event"]: _parse_ts(e["timestamp"]) for e in proc.events if "timestamp" in e}
        end = proc.wall_started + proc.elapsed
        if "dbupdate.start" in at:
            add("spawn → `dbupdate.start`", at["dbupdate.start"] - proc.wall_started)
        if "lock.acquired" in at and "db.ready" in at:
            add("`db.ready` → `lock.acquired`", at["lock.acquired"] - at["db.ready"])
        if "lock.acquired" in at and "lock.released" in at:
            add("lock held", at["lock.released"] - at["lock.acquired"])
        if "dbupdate.done" in at:
            add("`dbupdate.done` → exit", end - at["dbupdate.done"])
    return "; ".join(
        f"{name} {statistics.median(v):.3f} s (max {max(v):.3f})" for name, v in spans.items()
    )


# --- scenario: 500 revisions in 10 branches -------------------------------------------------


def scenario_history(server: Server, work: Path, reps: dict, res: Results) -> None:
    """The 500-revision history on the main PostgreSQL cluster."""
    history_on(server, "history", work, reps, res)


def scenario_mariadb(_server: Server | None, work: Path, reps: dict, res: Results) -> None:
    """The same 500-revision history on a throwaway MariaDB started for this scenario."""
    print("bench: starting a throwaway MariaDB server", flush=True)
    maria = MariaDBServer()
    try:
        res.servers["MariaDB"] = maria.server_version()
        history_on(maria, "mariadb", work, reps, res)
    finally:
        maria.stop()


def history_on(
    server: Server | MariaDBServer, scenario: str, work: Path, reps: dict, res: Results
) -> None:
    """Upgrade of the generated history from its branch bases, then the no-op run on it.

    ``scenario`` names the figures, samples, notes and repetition counts
    (``reps[scenario + "_upgrade"]``, ``reps[scenario + "_noop"]``); ``server`` is the backend.
    """
    on = server.label
    gen = generate(work / f"{scenario}-bundle", HISTORY_COMPONENTS, HISTORY_STEPS)
    bare = BareAlembic(work, gen.root)
    # Ship the generated bundle as a real one is shipped: with its index, if the engine has one.
    index = run_one("gmg bundle-index", [GMG, "bundle-index", "--migrations", str(gen.root)])
    res.note(
        scenario,
        "`gmg bundle-index --migrations DIR` was run on the generated bundle, as on a shipped one."
        if index.code == 0
        else f"`gmg bundle-index` is not available (exit {index.code}): the bundle has no index.",
    )
    to_apply = gen.revisions - len(gen.components)
    heads = set(gen.heads.values())

    # The starting state: every branch at its base revision (one table each), made once by bare
    # Alembic in a template database; each timed run gets its own copy.
    template = server.fresh(f"{scenario}_base")
    turl = server.url(template)
    for component in gen.components[1:]:  # a plugin base depends_on core's base: core comes too
        proc = run_one(
            "setup: alembic upgrade base", bare.argv(turl, "upgrade", gen.bases[component])
        )
        require(proc, True, "could not lay the starting state")
    start_rows = server.version_rows(turl)

    ours: list[Proc] = []
    base: list[Proc] = []
    upgraded: list[str] = []

    def run_ours() -> None:
        url = server.url(server.fresh(f"{scenario}_ours", template))
        proc = run_one(f"gmg dbupdate (500-revision upgrade, {on})", gmg_argv(url, bundle=gen.root))
        applied = (proc.event("dbupdate.done") or {}).get("applied") or []
        require(proc, len(applied) == to_apply, f"applied {len(applied)} of {to_apply}")
        if server.version_rows(url) != heads:
            raise BenchError("gmg dbupdate left the generated history short of its heads")
        ours.append(proc)
        upgraded.append(url)

    def run_bare() -> None:
        url = server.url(server.fresh(f"{scenario}_bare", template))
        proc = run_one(
            f"alembic upgrade heads (500 revisions, {on})", bare.argv(url, "upgrade", "heads")
        )
        n = alembic_applied(proc)
        require(proc, n == to_apply, f"bare Alembic applied {n} of {to_apply}")
        if server.version_rows(url) != heads:
            raise BenchError("bare Alembic left the generated history short of its heads")
        base.append(proc)

    run_ours()
    run_bare()  # warm-up (bytecode of 500 scripts, page cache): discarded
    verify_argv = [GMG, "dbverify", "--database-url", upgraded[0], "--plugins", "all"]
    verify = run_one(f"gmg dbverify ({on})", [*verify_argv, "--migrations", str(gen.root)])
    if verify.code == 0:
        verdict_text = "finds it equal to the generated models."
    else:
        verdict_text = f"exits {verify.code}: {verify.tail(2)}"
        print(f"bench: {scenario}: gmg dbverify {verdict_text}", flush=True)
    res.note(scenario, f"Sanity check: `gmg dbverify` on the upgraded database {verdict_text}")
    ours.clear()
    base.clear()
    for i in range(reps[f"{scenario}_upgrade"]):
        alternate(i, run_ours, run_bare)
    o = median(res.sample(f"{scenario}: gmg dbupdate upgrade (s)", [p.elapsed for p in ours]))
    b = median(res.sample(f"{scenario}: alembic upgrade heads (s)", [p.elapsed for p in base]))
    res.figures.append(
        Figure(
            scenario,
            f"{on}: upgrade of {to_apply} revisions in {len(gen.components)} branches, wall time",
            o,
            "s",
            b,
            "bare `alembic upgrade heads`, same scripts, same starting state",
            "≤ 1.1× baseline",
            o / b <= 1.1,
            cpu=(ours, base),
        )
    )
    res.rss.append((f"500-revision history on {on}: upgrade", ours, "bare Alembic upgrade", base))

    # The no-op run on the upgraded history: both contenders on the same database.
    url = upgraded[-1]
    noop_ours: list[Proc] = []
    noop_base: list[Proc] = []

    def noop_ours_run() -> None:
        proc = run_one(f"gmg dbupdate (no-op, 500, {on})", gmg_argv(url, bundle=gen.root))
        done = proc.event("dbupdate.done") or {}
        require(proc, done.get("changed") is False, "the no-op run changed something")
        noop_ours.append(proc)

    def noop_bare_run() -> None:
        proc = run_one(
            f"alembic upgrade heads (no-op, 500, {on})", bare.argv(url, "upgrade", "heads")
        )
        require(proc, alembic_applied(proc) == 0, "bare Alembic applied revisions")
        noop_base.append(proc)

    noop_ours_run()
    noop_bare_run()  # warm-up
    noop_ours.clear()
    noop_base.clear()
    for i in range(reps[f"{scenario}_noop"]):
        alternate(i, noop_ours_run, noop_bare_run)
    o = median(res.sample(f"{scenario}: gmg dbupdate no-op (s)", [p.elapsed for p in noop_ours]))
    b = median(res.sample(f"{scenario}: alembic no-op (s)", [p.elapsed for p in noop_base]))
    res.figures.append(
        Figure(
            scenario,
            f"{on}: no-op run on the 500-revision history, wall time",
            o,
            "s",
            b,
            "bare `alembic upgrade heads` (no-op), same database",
            "≤ 0.5× baseline (the no-op target)",
            o / b <= 0.5,
            cpu=(noop_ours, noop_base),
        )
    )
    res.rss.append(
        (f"500-revision history on {on}: no-op", noop_ours, "bare Alembic no-op", noop_base)
    )
    res.note(
        scenario,
        f"Generated bundle: {len(gen.components)} components (core + {len(gen.components) - 1} "
        f"plugins) × {HISTORY_STEPS} revisions = {gen.revisions}; each plugin's base "
        "`depends_on` core's base; revisions create a table (every 10th), add a column (most) "
        "or add a column and an index (every 10th, offset 5). See bench/history.py.",
    )
    res.note(
        scenario,
        f"Starting state of the upgrade on {on} (so that our job upgrades instead of "
        "bootstrapping from the models, which it does on a fresh database): every branch at its "
        f"base revision, laid once by bare Alembic ({len(start_rows)} version rows) in a template "
        f"database; each timed run gets its own {server.copy_how}, so both contenders apply the "
        f"same {to_apply} revisions from the same state. Checked after every run: ours reports "
        f"{to_apply} applied, Alembic logs {to_apply} `Running upgrade` lines, and the version "
        f"table holds exactly the {len(heads)} heads.",
    )
    for text in server.notes:
        res.note(scenario, text)
    res.note(
        scenario,
        f"{reps[f'{scenario}_upgrade']} upgrade repetitions of each and "
        f"{reps[f'{scenario}_noop']} no-op repetitions of each, interleaved, after a discarded "
        "warm-up of each. CPU time median: "
        f"upgrade ours {median([p.cpu_s for p in ours]):.3f} s vs "
        f"{median([p.cpu_s for p in base]):.3f} s; no-op ours "
        f"{median([p.cpu_s for p in noop_ours]):.3f} s vs "
        f"{median([p.cpu_s for p in noop_base]):.3f} s. {fast_path_note(noop_ours)}",
    )


# --- scenario: migrating under live traffic (issue 15) --------------------------------------


def scenario_live(server: Server, work: Path, reps: dict, res: Results) -> None:
    bare = BareAlembic(work, LIVE_BUNDLE)
    rounds: dict[str, list[dict]] = {"ours": [], "bare": []}

    def prepared() -> str:
        url = server.url(server.fresh("live"))
        setup = run_one(
            "setup: alembic upgrade (the hot table)", bare.argv(url, "upgrade", "b00000000001")
        )
        require(setup, alembic_applied(setup) == 1, "setup did not create the hot table")
        return url

    def run_ours() -> None:
        url = prepared()
        argv = gmg_argv(
            url, "--ddl-lock-timeout", f"{LIVE_DDL_LOCK_TIMEOUT_S:g}", bundle=LIVE_BUNDLE
        )
        argv[argv.index("all")] = "none"
        got = live_round(url, work, "gmg dbupdate (live)", argv, run_one)
        proc = got["proc"]
        done = proc.event("dbupdate.done") or {}
        require(proc, done.get("applied") == ["b00000000002"], "did not apply the revision")
        require(proc, proc.event("ddl.blocked") is not None, "the long reader never blocked it")
        require(proc, server.version_rows(url) == {"b00000000002"}, "not at head")
        got["retries"] = sum(e.get("event") == "ddl.blocked" for e in proc.events)
        rounds["ours"].append(got)

    def run_bare() -> None:
        url = prepared()
        got = live_round(
            url, work, "alembic upgrade heads (live)", bare.argv(url, "upgrade", "heads"), run_one
        )
        require(got["proc"], alembic_applied(got["proc"]) == 1, "bare Alembic did not apply it")
        require(got["proc"], server.version_rows(url) == {"b00000000002"}, "not at head")
        rounds["bare"].append(got)

    for i in range(reps["live"]):
        alternate(i, run_ours, run_bare)
    ours, base = rounds["ours"], rounds["bare"]

    def pick(key: str, side: list[dict]) -> float | None:
        return median(
            res.sample(
                f"live: {key} ({'ours' if side is ours else 'bare'}) (s)", [r[key] for r in side]
            )
        )

    bound = LIVE_DDL_LOCK_TIMEOUT_S + 0.5
    worst = pick("worst", ours)
    res.figures.append(
        Figure(
            "live",
            "app's worst query latency while the migration runs (long reader holds the table)",
            worst,
            "s",
            pick("worst", base),
            "the same while bare `alembic upgrade heads` runs",
            f"≤ --ddl-lock-timeout + 0.5 s = {bound:g} s",
            worst is not None and worst <= bound,
        )
    )
    res.figures.append(
        Figure(
            "live",
            "app's p99 query latency while the migration runs",
            pick("p99", ours),
            "s",
            pick("p99", base),
            "the same with bare Alembic",
            "(information)",
            None,
        )
    )
    res.figures.append(
        Figure(
            "live",
            "app time lost per client while the migration runs (queries over 0.1 s, summed)",
            pick("stalled_s", ours),
            "s",
            pick("stalled_s", base),
            "the same with bare Alembic",
            "(information)",
            None,
        )
    )
    res.figures.append(
        Figure(
            "live",
            "the migration's own completion time (spawn to exit)",
            pick("migration_s", ours),
            "s",
            pick("migration_s", base),
            "bare Alembic, same load",
            "(information)",
            None,
        )
    )
    res.note(
        "live",
        f"{LIVE_CLIENTS} client processes, primary-key reads and updates 5 ms apart on a "
        f"1000-row table; a long reader holds ACCESS SHARE on it for {LIVE_READER_S:g} s; the "
        "migration (`ADD COLUMN`) starts 1 s after the reader. Ours with "
        f"`--ddl-lock-timeout {LIVE_DDL_LOCK_TIMEOUT_S:g}`. Latencies are of the app queries "
        f"started while the migration ran. {reps['live']} round(s) of each, interleaved.",
    )
    res.note(
        "live",
        "Per round, ours: "
        + "; ".join(
            f"{r['queries']} queries, worst {r['worst']:.3f} s, p99 {r['p99']:.3f} s, "
            f"lost {r['stalled_s']:.2f} s per client, {r['retries']} `ddl.blocked`, "
            f"migration {r['migration_s']:.2f} s"
            for r in ours
        )
        + ". Bare Alembic: "
        + "; ".join(
            f"{r['queries']} queries, worst {r['worst']:.3f} s, p99 {r['p99']:.3f} s, "
            f"lost {r['stalled_s']:.2f} s per client, migration {r['migration_s']:.2f} s"
            for r in base
        )
        + ".",
    )


# --- peak RSS ------------------------------------------------------------------------------


def rss_figures(res: Results) -> None:
    for label, procs, baseline_label, baseline in res.rss:
        if not procs:
            continue
        peak = max(p.rss_mib for p in procs)
        res.figures.append(
            Figure(
                "rss",
                f"peak RSS: {label}",
                peak,
                "MiB",
                max(p.rss_mib for p in baseline) if baseline else None,
                baseline_label,
                f"≤ {RSS_TARGET_MIB:g} MiB",
                peak <= RSS_TARGET_MIB,
                note=f"highest of {len(procs)} processes",
            )
        )


# --- machine and report --------------------------------------------------------------------


def cpu_busy(seconds: float = 1.0) -> str:
    """Share of all cores busy over a short sample (others' work on a shared machine shows)."""

    def snapshot() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = snapshot()
        time.sleep(seconds)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return "unknown"
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    return f"{busy * 100:.0f}% of all cores busy (1 s sample, before any benchmark process)"


def dist_version(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def machine(server_version: str | None) -> list[tuple[str, str]]:
    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return out.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=all", "--", "entrypoint", "migrations")
    changes = ""
    if dirty:
        # Identify the uncommitted engine/bundle state (read-only: nothing is written to git).
        digest = hashlib.sha1(git("diff", "HEAD", "--", "entrypoint", "migrations").encode())
        for line in sorted(dirty.splitlines()):
            if line.startswith("??"):
                path = REPO / line[3:]
                digest.update(line.encode() + (path.read_bytes() if path.is_file() else b""))
        files = len(dirty.splitlines())
        changes = f" + uncommitted changes in {files} file(s) under entrypoint/ or migrations/ "
        changes += f"(fingerprint {digest.hexdigest()[:10]})"
    return [
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} (usable by this run: {len(os.sched_getaffinity(0))})"),
        ("RAM", mem),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("CPU at start", cpu_busy()),
        ("Python", platform.python_version()),
        ("SQLAlchemy", dist_version("SQLAlchemy")),
        ("Alembic", dist_version("alembic")),
        ("psycopg2", dist_version("psycopg2-binary")),
        ("PostgreSQL", server_version or "not started"),
        (
            "engine",
            f"commit {git('rev-parse', '--short', 'HEAD')}{changes}",
        ),
        ("date", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def add_servers(mach: list[tuple[str, str]], servers: dict[str, str]) -> None:
    """After the PostgreSQL row: the servers the scenarios started (MariaDB) and their driver."""
    at = next((i + 1 for i, (k, _) in enumerate(mach) if k == "PostgreSQL"), len(mach))
    rows = []
    if "MariaDB" in servers:
        rows += [("MariaDB", servers["MariaDB"]), ("PyMySQL", dist_version("PyMySQL"))]
    mach[at:at] = rows


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.2f} {unit}"


def times(ratio: float | None) -> str:
    return f"{ratio:.2f}×" if ratio is not None else "—"


def verdict(fig: Figure) -> str:
    return {True: "yes", False: "**no**", None: "—"}[fig.met]


def print_table(res: Results) -> None:
    rows = [("figure", "ours", "baseline", "ratio", "cpu ratio", "target", "met")]
    for f in res.figures:
        rows.append(
            (
                f.name[:62],
                fmt(f.value, f.unit),
                fmt(f.baseline, f.unit),
                times(f.ratio),
                times(f.cpu_ratio),
                f.target,
                verdict(f).strip("*"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    for k, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    for scenario, error in res.errors.items():
        print(f"\n{scenario}: FAILED: {error}")


def write_markdown(
    path: Path, res: Results, mach: list[tuple[str, str]], mode: str, reps: dict, took: float
) -> None:
    out = [
        "# Benchmark results",
        "",
        f"Written by `.venv/bin/python bench/run.py{' --quick' if mode == 'quick' else ''}` "
        f"({mode} run, {took:.0f} s). What each figure means and how the baselines are chosen: "
        "[README.md](README.md). Every figure is the median of its repetitions, measured in the "
        "same run as its baseline; the ratio is ours ÷ baseline (lower is better). The CPU ratio "
        "(median user+sys CPU time of ours ÷ the baseline's, from each process's rusage) is given "
        "where both sides are single processes: it moves less than wall time when other work "
        "shares the machine (see the load averages).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in mach),
        "",
        "## Figures",
        "",
        "| scenario | figure | ours | baseline | ratio | CPU ratio | target | met | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in res.figures:
        out.append(
            f"| {f.scenario} | {f.name} | {fmt(f.value, f.unit)} | "
            f"{fmt(f.baseline, f.unit)} ({f.baseline_name}) | {times(f.ratio)} | "
            f"{times(f.cpu_ratio)} | {f.target} | {verdict(f)} | {f.note} |"
        )
    if res.errors:
        out += ["", "## Scenarios that failed", ""]
        out += [f"- **{s}**: `{e.splitlines()[0]}`" for s, e in res.errors.items()]
    out += ["", "## How each was measured", ""]
    out.append(
        "Repetitions: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in reps.items())
        + ". Wall time is from just before the process is spawned to its exit, reaped with "
        "`os.wait4`, whose rusage also gives the peak RSS (`ru_maxrss`) and CPU time of that "
        "process alone. Children run with Python's bytecode cache on, in a private cache tree "
        "(`PYTHONPYCACHEPREFIX` in the work directory; a `PYTHONDONTWRITEBYTECODE` in the calling "
        "environment is dropped), as in the image, which byte-compiles everything; the discarded "
        "warm-up runs fill it."
    )
    for scenario, notes in res.notes.items():
        out += ["", f"### {scenario}", ""]
        out += [f"- {n}" for n in notes]
    out += ["", "## Raw samples", ""]
    for key, values in res.samples.items():
        out.append(f"- {key}: " + ", ".join(f"{v:.3f}" for v in values))
    path.write_text("\n".join(out) + "\n")


# --- main ----------------------------------------------------------------------------------


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a minute or two)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--output", default=str(HERE / "RESULTS.md"), help="where to write the Markdown report"
    )
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    for tool in (GMG, ALEMBIC):
        if not Path(tool).exists():
            parser.error(f"{tool} not found: create the virtualenv first (./dev test)")
    check = (
        "import alembic, sqlalchemy, psycopg2.extras, pymysql, structlog, tenacity, "
        "gmg_dbupdate.cli"
    )
    preflight = subprocess.run([str(BIN / "python"), "-c", check], capture_output=True, text=True)
    if preflight.returncode != 0:
        parser.error(f"the virtualenv in {BIN.parent} is incomplete:\n{preflight.stderr.strip()}")
    reps = REPS_QUICK if args.quick else REPS_FULL
    mode = "quick" if args.quick else "full"
    signal.signal(signal.SIGTERM, _terminate)

    res = Results()
    started = time.monotonic()
    server = None
    server_version = None
    mach: list[tuple[str, str]] = []
    scenarios = {
        "noop": scenario_noop,
        "ready": scenario_ready,
        "replicas": scenario_replicas,
        "history": scenario_history,
        "mariadb": scenario_mariadb,
        "live": scenario_live,
    }
    with tempfile.TemporaryDirectory(prefix="gmg-bench-") as tmp:
        work = Path(tmp)
        PYCACHE[:] = [work / "pycache"]
        try:
            if any(name in NEEDS_PG for name in chosen):
                print(f"bench: starting a throwaway PostgreSQL cluster ({mode} run)", flush=True)
                server = Server()
                server_version = server.server_version()
            mach = machine(server_version)
            for name in chosen:
                t = time.monotonic()
                print(f"bench: {name} …", flush=True)
                try:
                    scenarios[name](server, work, reps, res)
                except BenchError as exc:
                    res.errors[name] = str(exc)
                    print(f"bench: {name} FAILED: {exc}", flush=True)
                except Exception as exc:  # keep going: the other scenarios still report
                    res.errors[name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                    print(f"bench: {name} CRASHED:\n{traceback.format_exc()}", flush=True)
                print(f"bench: {name} done in {time.monotonic() - t:.1f} s", flush=True)
        finally:
            if server is not None:
                server.stop()
    add_servers(mach, res.servers)
    rss_figures(res)
    mach.append(("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    mach.append(("CPU at end", cpu_busy().replace("before any", "after every")))
    took = time.monotonic() - started
    print_table(res)
    output = Path(args.output)
    write_markdown(output, res, mach, mode, reps, took)
    print(f"\nbench: wrote {output} ({took:.0f} s in all)")
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
