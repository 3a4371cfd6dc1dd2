"""Pure logic: error classification, URL masking, settings precedence, history checks."""

from __future__ import annotations

import json

import psycopg2
import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from gmg_dbupdate import config, errors
from gmg_dbupdate.logs import add_secret, add_secrets, scrub
from gmg_dbupdate.state import STATE, reset
from gmg_dbupdate.wait import classify_connect_error


def _op_error(message: str, pgcode: str | None = None) -> OperationalError:
    orig = psycopg2.OperationalError(message)
    if pgcode is not None:
        orig = type("E", (psycopg2.OperationalError,), {"pgcode": pgcode})(message)
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "127.0.0.1", port 5999 failed: Connection refused\n'
        "\tIs the server running",
        'could not translate host name "db" to address: Name or service not known',
        'connection to server at "10.0.0.1", port 5432 failed: timeout expired',
        "FATAL:  the database system is starting up",
        "FATAL:  the database system is shutting down",
        "FATAL:  sorry, too many clients already",
        "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
        "server closed the connection unexpectedly",
    ],
)
def test_transient_connect_errors_are_retried(message):
    assert classify_connect_error(_op_error(message)) is None


def test_sqlstate_starting_up_is_transient():
    assert classify_connect_error(_op_error("starting", pgcode="57P03")) is None
    assert classify_connect_error(_op_error("too many", pgcode="53300")) is None


@pytest.mark.parametrize(
    ("message", "pgcode", "expected"),
    [
        ('FATAL:  password authentication failed for user "gmg"', None, errors.PermissionDenied),
        ("FATAL:  no pg_hba.conf entry for host", None, errors.PermissionDenied),
        ('FATAL:  role "nobody" does not exist', None, errors.PermissionDenied),
        ("fe_sendauth: no password supplied", None, errors.PermissionDenied),
        ('FATAL:  permission denied for database "x"', None, errors.PermissionDenied),
        ("anything", "28P01", errors.PermissionDenied),
        ('FATAL:  database "nope" does not exist', None, errors.ConfigError),
        ("anything", "3D000", errors.ConfigError),
        ("anything", "42501", errors.PermissionDenied),
    ],
)
def test_permanent_connect_errors_fail_at_once(message, pgcode, expected):
    kind = classify_connect_error(_op_error(message, pgcode))
    assert kind is expected
    assert kind.exit_code in (64, 77)


def test_sqlite_errors_are_classified_by_their_backend():
    import sqlite3

    assert classify_connect_error(sqlite3.OperationalError("database is locked")) is None
    for message in ("unable to open database file", "attempt to write a readonly database"):
        kind = classify_connect_error(sqlite3.OperationalError(message))
        assert kind is errors.PermissionDenied
    assert classify_connect_error(sqlite3.IntegrityError("UNIQUE")) is errors.DbUpdateError


def test_unexpected_database_errors_are_not_retried():
    exc = ProgrammingError("SELECT 1", {}, psycopg2.ProgrammingError("syntax error"))
    assert classify_connect_error(exc) is errors.DbUpdateError


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("no password here", "no password here"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("sqlite:////data/x.db", "sqlite:////data/x.db"),
        # mistyped: one slash, no colon, a password with an unencoded / or space or @
        ("postgresql:/user:Secret@host/db", "postgresql:/user:***@host/db"),
        ("postgresql//user:Secret@host/db", "postgresql//user:***@host/db"),
        ("postgresql://user:Se/cret@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:Se cret@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:Se@cr:et@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:/Secret@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:Secret@host:notaport/db", "postgresql://user:***@host:notaport/db"),
        (
            "malformed database URL: 'mysql://u:Secret@h/db'",
            "malformed database URL: 'mysql://u:***@h/db'",
        ),
        # query-string and keyword secrets libpq accepts; paths are not secrets
        ("postgresql://u@h/db?password=Secret", "postgresql://u@h/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&sslpassword=Secret&sslkey=/k.pem",
            "postgresql://u@h/db?sslmode=require&sslpassword=***&sslkey=/k.pem",
        ),
        ("postgresql://u@h/db?passfile=/run/pgpass", "postgresql://u@h/db?passfile=/run/pgpass"),
        ("host=h password='Se cret' dbname=d", "host=h password=*** dbname=d"),
        ("{'user': 'u', 'password': 'Secret'}", "{'user': 'u', 'password': ***}"),
        ("PASSWORD=Secret", "PASSWORD=***"),
        (
            "FATAL:  password authentication failed for user",
            "FATAL:  password authentication failed for user",
        ),
    ],
)
def test_scrub_masks_any_url_shaped_text(text, masked):
    assert scrub(text) == masked
    assert "Secret" not in scrub(text) and "Se cret" not in scrub(text)


def test_a_known_secret_is_masked_as_a_whole_token_only(monkeypatch):
    monkeypatch.setattr(STATE, "secrets", set())
    add_secret("postgres")
    add_secret("p/w")
    assert scrub("postgresql://postgres@h/postgres") == "postgresql://***@h/***"
    assert scrub("error near postgres_fdw: postgres") == "error near postgres_fdw: ***"
    assert scrub("p%2Fw and p/w") == "*** and ***"


def test_rendered_urls_hide_the_password():
    url = config.parse_url("postgres://gmg:hunter2@db:5432/mediagoblin")
    assert url.drivername == "postgresql+psycopg2"
    assert "hunter2" not in config.render_url(url)
    url = config.parse_url("postgresql://gmg@db/mg?password=hunter2&sslpassword=hunter3")
    assert "hunter" not in config.render_url(url)


def test_flag_beats_env_beats_default(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/env.db", "GMG_WAIT_TIMEOUT": "5"}
    settings = config.resolve({"database_url": f"sqlite:///{tmp_path}/flag.db"}, env)
    assert settings.url.database.endswith("flag.db") and settings.wait_timeout == 5
    settings = config.resolve({"wait_timeout": "7"}, env)
    assert settings.url.database.endswith("env.db") and settings.wait_timeout == 7
    settings = config.resolve({}, {})
    assert str(settings.url) == config.DEFAULT_URL
    assert (settings.wait_timeout, settings.lock_timeout) == (60, 300)
    assert (settings.log_format, settings.log_level) == ("json", "info")


def test_password_file_overrides_url_password(tmp_path):
    (tmp_path / "pw").write_text("  from-file\n")
    settings = config.resolve(
        {},
        {
            "DATABASE_URL": "postgresql://u:inline@h/db",
            "DATABASE_PASSWORD_FILE": str(tmp_path / "pw"),
        },
    )
    assert settings.url.password == "from-file"


def test_url_file_is_trimmed(tmp_path):
    (tmp_path / "url").write_text("\n postgresql://u@h/db \n")
    settings = config.resolve({}, {"DATABASE_URL_FILE": str(tmp_path / "url")})
    assert settings.url.host == "h" and settings.url.database == "db"


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "inf", "nan"])
def test_timeouts_must_be_positive_numbers(bad):
    with pytest.raises(errors.ConfigError):
        config.resolve({"wait_timeout": bad}, {})


def test_resolve_plugins():
    from conftest import BUNDLE
    from gmg_dbupdate.bundle import Bundle

    bundle = Bundle.load(BUNDLE)
    assert bundle.resolve_plugins(None) == bundle.default_plugins
    assert bundle.resolve_plugins("all") == tuple(bundle.plugins)
    assert bundle.resolve_plugins("none") == ()
    names = list(bundle.plugins)
    assert bundle.resolve_plugins(f" {names[-1]} , {names[0]}") == (names[0], names[-1])
    with pytest.raises(errors.ConfigError, match="bogus"):
        bundle.resolve_plugins("bogus")


def test_positions_follow_depends_on():
    """A plugin row that depends_on a core revision stands for that core revision too."""
    from conftest import BUNDLE
    from gmg_dbupdate.bundle import Bundle

    branches = Bundle.load(BUNDLE).branches
    for revision, needs in branches.requires.items():
        applied = branches.applied([revision])
        assert revision in applied and set(needs) <= applied
    everything = branches.positions([h for hs in branches.heads.values() for h in hs])
    assert everything == {c: frozenset(hs) for c, hs in branches.heads.items()}


def test_light_json_lines_match_structlogs(capsys, monkeypatch):
    """Before structlog is loaded (the no-op path) events are written by hand: same lines."""
    import logging
    import re

    import structlog

    from gmg_dbupdate import logs

    reset()
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    fields = {"url": "postgresql://u:s3cret@h/db", "n": 3, "x": 1.5, "l": ["a", None], "o": {1, 2}}
    lines = []
    for active in (False, True):
        reset()
        monkeypatch.setattr(STATE, "structlog_loaded", False)  # the light writer first
        logs.configure("json", "info")
        logs.add_secret("s3cret")
        if active:
            logs.activate()
        logs.get_logger().info("some.event", **fields)
        logs.get_logger().debug("hidden.event", n=1)  # below the level: nothing written
        logs.get_logger().warning("other.event", nested={"k": "s3cret"})
        lines.append(capsys.readouterr().err.splitlines())
    reset()
    structlog.reset_defaults()  # activate() pointed structlog at this test's captured stream
    light, full = ([json.loads(line) for line in batch] for batch in lines)
    assert len(light) == len(full) == 2
    for a, b in zip(light, full, strict=True):
        assert list(a) == list(b)  # same keys in the same order: timestamp, level, event, …
        stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
        assert re.match(stamp, a.pop("timestamp")) and re.match(stamp, b.pop("timestamp"))
        assert a == b
    assert light[0]["url"] == "postgresql://u:***@h/db" and light[1]["nested"] == {"k": "***"}


def test_bare_driver_errors_are_classified_like_wrapped_ones():
    for message in ("Connection refused", "FATAL:  the database system is starting up"):
        assert classify_connect_error(psycopg2.OperationalError(message)) is None
    bad = psycopg2.OperationalError('FATAL:  password authentication failed for user "x"')
    assert classify_connect_error(bad) is errors.PermissionDenied
    assert classify_connect_error(psycopg2.ProgrammingError("syntax")) is errors.DbUpdateError
    assert classify_connect_error(ValueError("not the database")) is None


def test_a_signal_is_never_swallowed_before_the_database_is_reached(monkeypatch, tmp_path):
    """SIGTERM while the bundle loads must surface as Interrupted (→ 143)."""
    from gmg_dbupdate import pipeline
    from gmg_dbupdate.bundle import Bundle
    from gmg_dbupdate.errors import Interrupted

    def interrupted(*_args, **_kw):
        raise Interrupted(15, "SIGTERM")

    monkeypatch.setattr(Bundle, "load", interrupted)
    settings = config.resolve({"database_url": "postgresql://u@h/db"}, {}, parse=False)
    with pytest.raises(Interrupted):
        pipeline.run(settings)
    with pytest.raises(Interrupted):
        pipeline.check(settings)


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        # the userinfo ends at the last @ of the authority, as libpq reads it
        ("postgresql://u:pa@ss@host/db", ("postgresql", "u", "pa@ss", "host", None, "db")),
        ("postgres://u:p%2Fw@h:5433/db", ("postgresql", "u", "p/w", "h", 5433, "db")),
        ("postgresql://[::1]:5432/db", ("postgresql", None, None, "::1", 5432, "db")),
        ("sqlite:///rel/x.db", ("sqlite", None, None, None, None, "rel/x.db")),
        ("sqlite:////abs/x.db", ("sqlite", None, None, None, None, "/abs/x.db")),
        ("sqlite://", ("sqlite", None, None, None, None, None)),
        ("sqlite:///:memory:", ("sqlite", None, None, None, None, ":memory:")),
    ],
)
def test_one_url_parser(url, parts, monkeypatch):
    monkeypatch.setattr("pathlib.Path.is_dir", lambda self: str(self) in ("rel", "/abs"))
    parsed = config.parse_url(url)
    got = (parsed.backend, parsed.username, parsed.password, parsed.host, parsed.port)
    assert (*got, parsed.database) == parts
    assert "pa@ss" not in parsed.render() and "p/w" not in parsed.render()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "malformed database URL"),
        ("postgresql://u@h:notaport/db", "malformed database URL"),
        ("oracle://u@h/db", "unsupported database backend 'oracle'"),
        ("postgresql+psycopg://u@h/db", "unsupported driver 'psycopg'"),
        ("postgresql://u@h", "names no database"),
        ("sqlite:////no/such/dir/x.db", "directory of the SQLite database does not exist"),
        ("sqlite:////", "SQLite database path is a directory"),
        ("sqlite:////tmp", "SQLite database path is a directory"),
        ("sqlite:///%00x.db", "NUL byte"),
    ],
)
def test_bad_urls_are_refused_with_64(url, message):
    with pytest.raises(errors.ConfigError, match=message) as caught:
        config.parse_url(url)
    assert caught.value.exit_code == 64


def test_query_string_secrets_are_handed_to_the_scrubber(monkeypatch):
    monkeypatch.setattr(STATE, "secrets", set())
    url = "postgresql://u@h/db?sslmode=require&password=Plain1&sslpassword=Plain2&passfile=/p"
    add_secrets(config.resolve({"database_url": url}, {}).secrets)
    assert scrub("echoed: Plain1 and Plain2, file /p") == "echoed: *** and ***, file /p"


def test_settings_own_their_secrets(tmp_path):
    (tmp_path / "pw").write_text("From-File\n")
    settings = config.resolve(
        {"database_url": "postgresql://u:pa%40ss@h/db?sslpassword=Key-Pw&password=Q-Pw"},
        {"DATABASE_PASSWORD_FILE": str(tmp_path / "pw")},
        parse=False,
    )
    assert settings.secrets == {"From-File", "pa@ss", "Key-Pw", "Q-Pw"}
    # an unencoded @ in the password: SQLAlchemy's reading and libpq's, both masked
    ambiguous = config.resolve({"database_url": "postgresql://u:pa@ss@h/db"}, {}, parse=False)
    assert ambiguous.secrets == {"pa", "pa@ss"}
    assert config.resolve({"database_url": "sqlite:///x.db"}, {}, parse=False).secrets == set()


def test_main_runs_again_in_the_same_process_from_a_clean_state(tmp_path):
    """What one run leaves (a signal, a secret, console logging, its handlers) is not the
    next run's: ``main()`` starts from a clean state and puts the signal handlers back."""
    import signal

    from conftest import run_gmg
    from gmg_dbupdate import interrupts

    url = f"sqlite:///{tmp_path / 'mediagoblin.db'}"
    handlers = {signum: signal.getsignal(signum) for signum in interrupts.STOP_SIGNALS}
    console = run_gmg("dbupdate", "--database-url", url, "--log-format", "console", json_logs=False)
    assert console.code == 0 and "dbupdate.done" in console.stderr
    assert not console.stderr.lstrip().startswith("{")
    assert {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS} == handlers

    STATE.received.append(signal.SIGTERM)  # as if the last run had been stopped
    STATE.secrets.add("dbupdate")  # and had masked a word of this run's events
    again = run_gmg("dbupdate", "--database-url", url)  # JSON lines again, checked
    assert again.code == 0 and again.last["changed"] is False
    assert again.last["event"] == "dbupdate.done"
    assert {s: signal.getsignal(s) for s in interrupts.STOP_SIGNALS} == handlers
