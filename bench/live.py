"""The ``live`` scenario of bench/run.py: migrating while the app serves traffic (issue 15).

A hot table (``live_bundle/``, 1000 rows) is read and written by ``LIVE_CLIENTS`` client
processes, each running short queries one after the other, 5 ms apart (a primary-key read, then
a primary-key update, autocommit) and recording when each query started and how long it took.
One second in, a long reader opens a transaction, reads the table (ACCESS SHARE) and holds it
for ``LIVE_READER_S`` seconds, as a report or a ``pg_dump`` would. One second later the
migration starts: it adds a column to the hot table (ACCESS EXCLUSIVE). The app's figures are
taken over the queries that started while the migration ran (its spawn to its exit): the worst
latency, the 99th percentile, and the time each client lost in queries slower than 0.1 s. Then
the same on a fresh database with bare ``alembic upgrade heads`` (interleaved repetitions, order
swapped each time).

Ours runs with ``--ddl-lock-timeout`` ``LIVE_DDL_LOCK_TIMEOUT_S``: its ALTER queues at most that
long before it gives its place up, so the app's worst stall should stay within it plus 0.5 s.
Bare Alembic's ALTER waits for the reader, and every app query on the table waits behind it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2

LIVE_BUNDLE = Path(__file__).resolve().parent / "live_bundle"
LIVE_CLIENTS = 4
LIVE_READER_S = 10.0
LIVE_DDL_LOCK_TIMEOUT_S = 2.0
LIVE_ROWS = 1000
WARM_S = 1.0  # clients alone, then the reader starts; the migration one second later

# One app client: short reads and writes on the hot table until the stop file appears; writes
# (start time on the wall clock, latency) pairs as JSON.
CLIENT_PY = """
import json, os, random, sys, time
import psycopg2
url, stop, out, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = psycopg2.connect(url, application_name="bench-app")
conn.autocommit = True
cur = conn.cursor()
samples = []
i = 0
while not os.path.exists(stop):
    key = random.randint(1, rows)
    began = time.time()
    if i % 2:
        cur.execute("UPDATE hot SET n = n + 1 WHERE id = %s", (key,))
    else:
        cur.execute("SELECT n FROM hot WHERE id = %s", (key,))
        cur.fetchone()
    samples.append((began, time.time() - began))
    i += 1
    time.sleep(0.005)  # an app, not a load generator: the machine keeps CPU for the migration
conn.close()
with open(out, "w") as fh:
    json.dump(samples, fh)
"""


def _hold(url: str, seconds: float, started: threading.Event) -> None:
    """The long reader: ACCESS SHARE on the hot table for ``seconds``."""
    conn = psycopg2.connect(url, application_name="bench-long-reader")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM hot")
            started.set()
            cur.execute("SELECT pg_sleep(%s)", (seconds,))
        conn.commit()
    finally:
        conn.close()


def one_round(url: str, work: Path, label: str, argv: list[str], run_one) -> dict:
    """Clients, the long reader, then the migration ``argv``; the app's latencies around it."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO hot (id, n) SELECT g, 0 FROM generate_series(1, %s) g", (LIVE_ROWS,)
        )
    conn.close()
    stop = work / f"stop-{label}-{time.time_ns()}"
    outputs = [work / f"{stop.name}-client{i}.json" for i in range(LIVE_CLIENTS)]
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT_PY, url, str(stop), str(out), str(LIVE_ROWS)]
        )
        for out in outputs
    ]
    try:
        time.sleep(WARM_S)
        holding = threading.Event()
        reader = threading.Thread(target=_hold, args=(url, LIVE_READER_S, holding), daemon=True)
        reader.start()
        holding.wait(30)
        time.sleep(1.0)
        began = time.time()
        proc = run_one(label, argv)
        ended = began + proc.elapsed
        reader.join(timeout=60)
        time.sleep(0.5)  # a little traffic after the migration, in every round alike
    finally:
        stop.touch()
        for client in clients:
            client.wait(timeout=60)
    samples = [s for out in outputs for s in json.loads(out.read_text())]
    during = sorted(lat for start, lat in samples if began <= start <= ended)
    return {
        # seconds each client spent in queries that took over 0.1 s: the app's time lost
        "stalled_s": sum(lat for lat in during if lat > 0.1) / LIVE_CLIENTS,
        "proc": proc,
        "worst": during[-1] if during else None,
        "p99": during[int(0.99 * (len(during) - 1))] if during else None,
        "queries": len(during),
        "all_worst": max(lat for _s, lat in samples),
        "migration_s": proc.elapsed,
    }
