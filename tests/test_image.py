"""The container image, built here from the Dockerfile and run against real databases.

There is no Docker engine on this machine: ``podman build --isolation=chroot`` builds the
Dockerfile, on a Debian bookworm base made locally with debootstrap (no registry can be pulled
from), and ``buildah run --isolation=chroot`` runs commands inside the built image (``podman run``
cannot set its rlimits in this sandbox). Two checks also run the image the way a read-only
Kubernetes pod does: its root filesystem mounted read-only, /tmp a fresh tmpfs, tini as PID 1.

Needs root and the Debian packages podman, buildah and debootstrap; skipped without them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import mariadbserver
from conftest import (
    BUNDLE,
    PASSWORD,
    Result,
    heads,
    parse_events,
    query,
    shipped_default_heads,
    version_rows,
)
from gmg_dbupdate.bundle import Bundle
from gmg_dbupdate.config import default_bundle_dir
from legacy_build import build_legacy_db
from oracle import diff, fingerprint
from registry_build import build_registry_db

REPO = Path(__file__).resolve().parents[1]
BASE = "localhost/gmg-base:bookworm"
IMAGE = "localhost/gmg-dbupdate:test"
UID = 10001
MISSING = [t for t in ("podman", "buildah", "debootstrap", "unshare") if not shutil.which(t)]
SHARED = Path("/work/shared/mediagoblin/schemas")

pytestmark = [pytest.mark.slow, pytest.mark.image]


@pytest.fixture(autouse=True, scope="module")
def _image_tools() -> None:
    """No silent skip: ./dev test installs these tools as root; elsewhere this is an error."""
    if MISSING or os.geteuid() != 0:
        pytest.fail(
            f"the image test needs root and {' '.join(MISSING) or 'podman buildah debootstrap'} "
            "(apt-get install podman buildah debootstrap), or deselect it with -m 'not image'"
        )


def sh(*args: str, timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{shlex.join(args)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="session")
def containers_conf(tmp_path_factory) -> None:
    """podman and buildah may not set rlimits in this sandbox: no default ulimits."""
    conf = tmp_path_factory.mktemp("containers") / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    os.environ["CONTAINERS_CONF"] = str(conf)


def make_base(workdir: Path) -> None:
    """A stand-in for python:3.11-slim-bookworm: Debian bookworm minbase with its python3."""
    rootfs = workdir / "rootfs"
    sh(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv",
        "bookworm",
        str(rootfs),
        "http://deb.debian.org/debian",
    )
    # what a slim image leaves out: package lists and caches, docs, manuals, locales
    junk_dirs = (
        "var/lib/apt/lists",
        "var/cache/apt",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    )
    for junk in junk_dirs:
        for child in (rootfs / junk).glob("*"):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    sh("podman", "import", "--change", 'CMD ["python3"]', "-", BASE, stdin=tar.stdout)
    assert tar.wait() == 0
    shutil.rmtree(rootfs)


@pytest.fixture(scope="session")
def image(containers_conf, tmp_path_factory) -> dict:
    """Built once per test run: xdist workers share a lock and the run's id."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    base_s = build_s = 0.0
    with open("/tmp/gmg-dbupdate-image-test.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        built = lock.read() == run_id and podman_has(IMAGE)
        started = time.monotonic()
        if not built and not podman_has(BASE):
            make_base(tmp_path_factory.mktemp("base"))
            base_s = time.monotonic() - started
        if not built:
            build_image()
            build_s = time.monotonic() - started - base_s
            lock.truncate(0)
            lock.write(run_id)
    (info,) = json.loads(sh("podman", "image", "inspect", IMAGE).stdout)
    return {"info": info, "base_s": base_s, "build_s": build_s}


def podman_has(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name]).returncode == 0


def build_image() -> None:
    revision = sh("git", "rev-parse", "HEAD", cwd=REPO).stdout.strip()
    build = [
        "podman",
        "build",
        "--isolation=chroot",
        "--format=docker",  # keeps SHELL (pipefail), as Docker's builder does
        "--build-arg",
        f"BASE_IMAGE={BASE}",
        "--build-arg",
        f"REVISION={revision}",
        "--build-arg",
        f"CREATED={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
        "--tag",
        IMAGE,
    ]
    # This machine's egress proxy re-signs TLS: pip in the build trusts it through the host's
    # CA bundle, mounted for the RUN steps only (it does not end up in the image).
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.exists():
        build += ["--volume", f"{bundle}:{bundle}:ro"]
    sh(*build, str(REPO))
    # earlier builds of this image, now untagged (images still in use are kept)
    label = "label=org.opencontainers.image.title=gmg-dbupdate"
    sh("podman", "image", "prune", "--force", "--filter", label)


@pytest.fixture
def container(image):
    """A fresh working container of the image; removed afterwards."""
    name = f"gmg-test-{uuid.uuid4().hex[:10]}"
    sh("buildah", "from", "--name", name, IMAGE)
    # buildah's chroot isolation has no PID namespace: let tini reap as a subreaper instead
    sh("buildah", "config", "--env", "TINI_SUBREAPER=1", name)
    yield name
    subprocess.run(["buildah", "rm", name], capture_output=True)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """Mounted at /data, the image's working directory, owned by the image's user."""
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, UID, UID)
    return data


def run_image(
    image: dict,
    container: str,
    *args: str,
    env: dict | None = None,
    data: Path | None = None,
    mounts: tuple[tuple[Path, str], ...] = (),
) -> Result:
    """The image's ENTRYPOINT with ``args`` (its CMD when none), as a container would."""
    config = image["info"]["Config"]
    command = [*config["Entrypoint"], *(args or config["Cmd"])]
    options = ["--isolation=chroot", "--network=host"]
    if data is not None:
        options += ["--mount", f"type=bind,source={data},destination=/data,rw"]
    for source, destination in mounts:
        options += ["--mount", f"type=bind,source={source},destination={destination},ro"]
    assignments = [f"{k}={v}" for k, v in (env or {}).items()]
    proc = subprocess.run(
        ["buildah", "run", *options, container, "--", "/usr/bin/env", *assignments, *command],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return checked(proc)


def checked(proc: subprocess.CompletedProcess) -> Result:
    """Only the job's own JSON lines on stderr (buildah adds its exit note), no password."""
    stderr = "\n".join(
        line
        for line in proc.stderr.splitlines()
        if not line.startswith(("subprocess exited with status", "Error: exit status"))
    )
    result = Result(proc.returncode, proc.stdout, stderr)
    for secret in (PASSWORD, mariadbserver.PASSWORD):
        assert secret not in proc.stdout + proc.stderr, "password leaked"
    result.events = parse_events(stderr)
    assert result.events and result.last["event"] in ("dbupdate.done", "dbupdate.failed"), result
    if result.last["event"] == "dbupdate.failed":
        assert result.last["exit_code"] == result.code, result
    return result


def split_password(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False), parsed.password


def secret_file(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "db-password"
    path.write_text(content + "\n")
    path.chmod(0o444)
    return path


# --- the image as built ---------------------------------------------------------------------


def test_image_is_built_as_operators_expect(image, container, record_property):
    info = image["info"]
    config = info["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "gmg"]
    assert config["Cmd"] == ["dbupdate"]
    assert config["WorkingDir"] == "/data"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["GMG_MIGRATIONS"] == "/opt/gmg/migrations"
    assert env["GMG_LEGACY_PYTHON"] == "/opt/gmg/legacy/bin/python"
    labels = config["Labels"]
    for key in ("title", "version", "revision", "created", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    # no compilers, package lists, pip or caches in the final stage; both runtimes in place
    probe = subprocess.run(
        [
            "buildah",
            "run",
            "--isolation=chroot",
            "--user=0:0",
            container,
            "--",
            "sh",
            "-c",
            "for t in gcc cc make pip pip3; do command -v $t; done;"
            " find /var/lib/apt/lists /var/cache/apt /root/.cache /tmp -mindepth 1 2>/dev/null;"
            " /opt/gmg/legacy/bin/python -c"
            " 'import migrate, sqlalchemy as s; print(s.__version__)';"
            " /opt/gmg/venv/bin/python -c 'import sqlalchemy as s; print(s.__version__)'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = probe.stdout.split()
    assert len(found) == 2, probe.stdout + probe.stderr
    assert found[0] == "1.4.54" and found[1].startswith("2.1."), probe.stdout + probe.stderr
    # every module of the sealed runtime beside the runner: both adapters' runners (runner.py
    # for sqlalchemy-migrate, registry.py for MediaGoblin's core__migrations) and lifetime.py
    sealed = subprocess.run(
        [
            "buildah",
            "run",
            "--isolation=chroot",
            container,
            "--",
            "/opt/gmg/venv/bin/python",
            "-c",
            "from gmg_dbupdate import legacy, registry;"
            " assert legacy.RUNNER.parent == registry.RUNNER.parent;"
            " print(*sorted(p.name for p in legacy.RUNNER.parent.glob('*.py')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    shipped = sorted(p.name for p in (REPO / "entrypoint" / "legacy").glob("*.py"))
    assert sealed.stdout.split() == shipped, sealed.stdout + sealed.stderr
    assert {"lifetime.py", "registry.py", "runner.py"} <= set(shipped)
    size = info["Size"]
    (base,) = json.loads(sh("podman", "image", "inspect", BASE).stdout)
    record_property("image_size_bytes", size)
    print(  # shown by pytest -rP (also under xdist)
        f"image {IMAGE}: {size / 1e6:.0f} MB ({(size - base['Size']) / 1e6:.0f} MB over the "
        f"{base['Size'] / 1e6:.0f} MB base); this worker made the base in "
        f"{image['base_s']:.0f} s and built the image in {image['build_s']:.0f} s"
    )
    assert size - base["Size"] < 150e6


# --- migrating real databases from inside the image -----------------------------------------


def test_fresh_sqlite_in_the_data_volume(image, container, data_dir):
    first = run_image(image, container, data=data_dir)  # the image's CMD: dbupdate
    assert first.code == 0, first
    assert first.events[0]["event"] == "dbupdate.start"
    assert first.events[0]["bundle"] == "/opt/gmg/migrations"
    shipped = Bundle.load(default_bundle_dir())
    assert first.last["bootstrapped"] == [shipped.core.name, *shipped.default_plugins]
    db = data_dir / "mediagoblin.db"
    assert db.stat().st_uid == UID
    assert version_rows(f"sqlite:///{db}") == shipped_default_heads()

    again = run_image(image, container, "dbupdate", data=data_dir)
    assert again.code == 0 and again.last["changed"] is False, again
    check = run_image(image, container, "dbupdate", "--check", data=data_dir)
    assert check.code == 0 and check.last["current"] is True, check


def test_postgres_with_a_password_file(image, container, pg_url, tmp_path):
    url, password = split_password(pg_url)
    secret = secret_file(tmp_path, password)
    env = {"DATABASE_URL": url, "DATABASE_PASSWORD_FILE": "/run/secrets/db-password"}
    mounts = ((secret, "/run/secrets/db-password"),)

    done = run_image(image, container, env=env, mounts=mounts)
    assert done.code == 0, done
    assert done.last["event"] == "dbupdate.done" and done.last["changed"] is True
    assert version_rows(pg_url) == shipped_default_heads()

    for verb in (("dbcheck", "--wait"), ("dbverify",)):
        result = run_image(image, container, *verb, env=env, mounts=mounts)
        assert result.code == 0, result


def test_failures_exit_with_their_codes_from_the_image(image, container, pg_url, tmp_path):
    url, _ = split_password(pg_url)
    wrong = secret_file(tmp_path, "not-the-password")
    denied = run_image(
        image,
        container,
        env={"DATABASE_URL": url, "DATABASE_PASSWORD_FILE": "/run/secrets/db-password"},
        mounts=((wrong, "/run/secrets/db-password"),),
    )
    assert denied.code == 77, denied

    unreachable = run_image(
        image,
        container,
        env={"DATABASE_URL": "postgresql://gmg@127.0.0.1:1/x", "GMG_WAIT_TIMEOUT": "2"},
    )
    assert unreachable.code == 69, unreachable

    bad = run_image(image, container, env={"DATABASE_URL": "mysql+mysqldb://u@h/d"})
    assert bad.code == 64, bad


def test_failure_summary_lands_in_the_termination_log(image, container, data_dir):
    log = data_dir / "termination-log"
    log.touch()
    os.chown(log, UID, UID)
    result = run_image(
        image,
        container,
        env={
            "DATABASE_URL": "postgresql://gmg@127.0.0.1:1/x",
            "GMG_WAIT_TIMEOUT": "1",
            "GMG_TERMINATION_LOG": "/data/termination-log",
        },
        data=data_dir,
    )
    assert result.code == 69, result
    summary = log.read_text()
    assert summary.strip() and len(summary.strip().splitlines()) == 1, summary


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_legacy_database_upgraded_inside_the_image(
    backend, request, image, container, data_dir, tmp_path
):
    """A real MediaGoblin 0.8.1 database (core__migrations at __main__ = 26, no alembic_version):
    the image's sealed registry runner walks it to 44, hands off to Alembic, and the result is
    MediaGoblin's own fresh head install, by the independent oracle."""
    if backend == "postgresql":
        db_url = request.getfixturevalue("pg_url")
        url, password = split_password(db_url)
        env = {"DATABASE_URL": url, "DATABASE_PASSWORD_FILE": "/run/secrets/db-password"}
        mounts = ((secret_file(tmp_path, password), "/run/secrets/db-password"),)
        options = {"env": {**env, "GMG_PLUGINS": "all"}, "mounts": mounts}
        kind = "pg"
    else:  # the image's embedded default: sqlite:///mediagoblin.db in the /data volume
        db = data_dir / "mediagoblin.db"
        db_url = f"sqlite:///{db}"
        options = {"env": {"GMG_PLUGINS": "all"}, "data": data_dir}
        kind = "sqlite"
    build_registry_db(db_url, 26)
    if backend == "sqlite":
        os.chown(db, UID, UID)
    result = run_image(image, container, **options)
    assert result.code == 0, result
    assert result.last["event"] == "dbupdate.done" and result.last["changed"] is True
    # registry steps reported by entrypoint/legacy/registry.py, run by the image's legacy python
    applied = [(e["component"], e["version"], e["name"]) for e in result.named("legacy.applied")]
    core = [v for c, v, _ in applied if c == "core"]
    assert core == list(range(27, 45)), applied
    assert applied[0] == ("core", 27, "create_generic_model_reference")
    handoffs = {e["component"]: e["revision"] for e in result.named("legacy.handoff")}
    assert handoffs["core"] == "52bf0ccbedc1", handoffs
    head_fresh = (SHARED / f"head_fresh.{kind}.fingerprint.txt").read_text(encoding="utf-8")
    assert diff(head_fresh, fingerprint(db_url)) == []

    again = run_image(image, container, "dbupdate", "--check", **options)
    assert again.code == 0 and again.last["current"] is True, again


def test_mysql_legacy_database_with_a_mounted_bundle(image, container, mysql_url, tmp_path):
    """MariaDB through the image: an app's own bundle mounted at GMG_MIGRATIONS, the password
    from a file. A database at sqlalchemy-migrate version 5 is walked by the image's sealed
    runtime (its PyMySQL), handed over and upgraded to every head; MediaGoblin's shipped bundle,
    which declares PostgreSQL and SQLite only, is refused with 64 on the same server."""
    build_legacy_db(mysql_url, {"core": 5, "image": 1})
    url, password = split_password(mysql_url)
    mounts = ((BUNDLE, "/bundle"), (secret_file(tmp_path, password), "/run/secrets/db-password"))
    env = {
        "DATABASE_URL": url,
        "DATABASE_PASSWORD_FILE": "/run/secrets/db-password",
        "GMG_MIGRATIONS": "/bundle",
        "GMG_PLUGINS": "image",
    }
    result = run_image(image, container, env=env, mounts=mounts)
    assert result.code == 0, result
    assert result.last["changed"] is True
    walked = [(e["component"], e["version"]) for e in result.named("legacy.applied")]
    assert walked == [("core", 6), ("core", 7), ("core", 8), ("image", 2)], walked
    handoffs = {e["component"]: e["revision"] for e in result.named("legacy.handoff")}
    assert handoffs == {"core": "ec5b83933f4a", "image": "7d7dd81902b6"}, handoffs
    wanted = heads()
    assert version_rows(mysql_url) == {wanted["core"], wanted["image"]}
    assert query(mysql_url, "SELECT version FROM migrate_version ORDER BY version") == [(2,), (8,)]

    for verb in (("dbupdate",), ("dbcheck",), ("dbverify",)):
        again = run_image(image, container, *verb, env=env, mounts=mounts)
        assert again.code == 0, again
    assert again.last["event"] == "dbupdate.done"

    shipped = dict(env)
    del shipped["GMG_MIGRATIONS"]
    refused = run_image(image, container, env=shipped, mounts=mounts)
    assert refused.code == 64, refused
    assert "mysql" in refused.last["error"].lower(), refused


# --- as a read-only Kubernetes pod runs it --------------------------------------------------


def run_like_a_pod(
    image: dict, container: str, view: Path, env: dict, term_on: str | None = None
) -> Result:
    """The image's ENTRYPOINT and CMD with its root filesystem mounted read-only, a fresh tmpfs
    on /tmp and a PID namespace whose PID 1 is tini: what ``readOnlyRootFilesystem: true`` and an
    emptyDir on /tmp give a pod. With ``term_on``, PID 1 gets SIGTERM once that event is logged,
    as the kubelet sends it. The shell first proves it is PID 1 and cannot write to the root."""
    config = image["info"]["Config"]
    root = sh("buildah", "mount", container).stdout.strip()
    inside = shlex.join(
        [
            "chroot",
            f"--userspec={UID}:{UID}",
            str(view),
            "/usr/bin/env",
            "-i",
            *config["Env"],
            *(f"{k}={v}" for k, v in env.items()),
            "/bin/sh",
            "-c",
            f'cd {config["WorkingDir"]} && echo "pid=$$" >&2'
            " && if touch /opt/gmg/x 2>/dev/null; then echo writable >&2; exit 99; fi"
            f" && exec {shlex.join(config['Entrypoint'] + config['Cmd'])}",
        ]
    )
    script = " && ".join(
        [
            f"mount --bind {root} {view}",
            f"mount -o remount,bind,ro {view}",
            f"mount -t tmpfs -o mode=1777 tmpfs {view}/tmp",
            f"mount -t proc proc {view}/proc",
            f"mount --rbind /dev {view}/dev",
            f"exec {inside}",
        ]
    )
    unshare = ["unshare", "--mount", "--pid", "--fork", "--propagation", "private"]
    started = time.monotonic()
    proc = subprocess.Popen(
        [*unshare, "sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if term_on and line.startswith("{") and json.loads(line)["event"] == term_on:
                children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text()
                os.kill(int(children.split()[0]), signal.SIGTERM)  # PID 1 inside: tini
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["buildah", "umount", container], capture_output=True)
    assert lines and lines[0] == "pid=1\n", "".join(lines)  # the shell execs tini: PID 1
    stderr = "".join(lines[1:])
    result = checked(subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr))
    result.elapsed = time.monotonic() - started
    return result


def test_read_only_root_with_tini_as_pid_1(image, container, pg_url, tmp_path):
    view = tmp_path / "root"
    view.mkdir()
    result = run_like_a_pod(image, container, view, {"DATABASE_URL": pg_url})
    assert result.code == 0, result
    assert result.last["changed"] is True
    # no volume at /data: the SQLite default cannot be made, rather than vanish with the pod
    nowhere = run_like_a_pod(image, container, view, {})
    assert nowhere.code == 77, nowhere


def test_sigterm_to_pid_1_reaches_the_job(image, container, tmp_path):
    """tini forwards the kubelet's SIGTERM: the job stops at once, 143, with its last line."""
    view = tmp_path / "root"
    view.mkdir()
    env = {"DATABASE_URL": "postgresql://gmg@127.0.0.1:1/x", "GMG_WAIT_TIMEOUT": "60"}
    result = run_like_a_pod(image, container, view, env, term_on="db.waiting")
    assert result.code == 143, result
    assert result.last["exit_code"] == 143
    assert result.elapsed < 30  # long before its 60 s wait deadline
