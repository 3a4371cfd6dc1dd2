"""Settings from flags, then the environment, then defaults; validated before any connection.

Also the one database-URL parser (``parse_url``): with ``backends/``, the only place that
knows backends by name.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .appconfig import read_app_config
from .dburl import SECRET_PARAMS, DbUrl
from .errors import ConfigError
from .logs import scrub

if TYPE_CHECKING:
    from .backends import Backend

DEFAULT_URL = "sqlite:///mediagoblin.db"
DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_LOCK_TIMEOUT = 300.0
DEFAULT_DDL_LOCK_TIMEOUT = 2.0  # issue 15: how long one DDL statement may queue for its lock
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")
# backend -> the drivers it accepts, the first being the one a bare scheme means
BACKENDS = {"postgresql": ("psycopg2",), "sqlite": ("pysqlite",), "mysql": ("pymysql",)}
# scheme -> backend; mariadb:// keeps its name in the scheme (SQLAlchemy's MariaDB dialect)
_BACKEND_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}
# The userinfo as SQLAlchemy's make_url reads it: the password ends at the first @.
_SQLALCHEMY_USERINFO = re.compile(r"[\w+]+://[^:/]*:(?P<password>[^@]*)@")


def default_bundle_dir() -> Path:
    """The bundle shipped beside the engine (a source checkout, or the image's copy)."""
    return Path(__file__).resolve().parents[2] / "migrations"


def render_url(url: DbUrl) -> str:
    """The URL as logs show it: the password masked, in the userinfo or the query string."""
    return url.render()


@dataclass(frozen=True)
class Settings:
    url_text: str  # as given: flag, DATABASE_URL, DATABASE_URL_FILE or the default
    password_override: str | None  # from DATABASE_PASSWORD_FILE
    bundle_dir: Path
    plugins: str | None  # raw --plugins value; resolved against the bundle later
    app_plugins: tuple[str, ...] | None  # module names the app's config file enables
    wait_timeout: float
    lock_timeout: float
    log_format: str
    log_level: str
    ddl_lock_timeout: float = DEFAULT_DDL_LOCK_TIMEOUT  # issue 15 (ddl.py)
    statement_timeout: float | None = None  # issue 15: off unless given

    @cached_property
    def url(self) -> DbUrl:
        url = parse_url(self.url_text)
        if self.password_override is None:
            return url
        from dataclasses import replace

        return replace(url, password=self.password_override)

    def check_url(self) -> None:
        """Parse (and so validate) the URL now, not at its first use."""
        self.url  # noqa: B018

    @cached_property
    def secrets(self) -> frozenset[str]:
        """Every secret these settings carry, for the masker: the password file's, the URL's
        password and its secret query parameters. Read from the text, without SQLAlchemy (a
        no-op run never loads it), and as both SQLAlchemy and libpq read an ambiguous
        userinfo (``u:pa@ss@host``)."""
        from urllib.parse import parse_qsl, unquote, urlsplit

        text = self.url_text.strip()
        found = {self.password_override}
        if userinfo := _SQLALCHEMY_USERINFO.match(text):
            found.add(unquote(userinfo["password"]))
        with contextlib.suppress(ValueError):  # not URL-shaped enough: parse_url refuses it
            found.add(unquote(urlsplit(text).password or ""))
        query = text.partition("?")[2]
        found.update(value for key, value in parse_qsl(query) if key in SECRET_PARAMS)
        return frozenset(secret for secret in found if secret)

    @cached_property
    def backend(self) -> Backend:
        from .backends import backend_for

        return backend_for(self.url, connect_timeout=min(10, self.wait_timeout))


def _read_secret(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"cannot read {what} {path}: {reason}") from None


def _timeout(raw: str | float | None, default: float, what: str) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{what} must be a positive number of seconds, got {raw!r}")
    return value


def _optional_timeout(raw: str | None, what: str) -> float | None:
    """A timeout that is off unless given (``0`` or ``off`` also turn it off)."""
    if raw is None or raw.strip().lower() in ("", "0", "off"):
        return None
    return _timeout(raw, 0.0, what)


def _choice(raw: str | None, default: str, choices: tuple[str, ...], what: str) -> str:
    value = (raw or default).lower()
    if value not in choices:
        raise ConfigError(f"{what} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _pick(args: Mapping[str, object], key: str, env: Mapping[str, str], var: str) -> str | None:
    value = args.get(key)
    if value is None:
        value = env.get(var) or None
    return None if value is None else str(value)


def log_choice(args: Mapping[str, object], env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Log format and level: flag, then environment, then default; a bad value is a 64."""
    env = os.environ if env is None else env
    log_format = _pick(args, "log_format", env, "GMG_LOG_FORMAT")
    log_level = _pick(args, "log_level", env, "GMG_LOG_LEVEL")
    return (
        _choice(log_format, "json", LOG_FORMATS, "log format"),
        _choice(log_level, "info", LOG_LEVELS, "log level"),
    )


def parse_url(raw: str) -> DbUrl:
    """The one URL parser: ``backend[+driver]://user:password@host:port/database?query``.

    SQLAlchemy's URL syntax, read without importing SQLAlchemy; the userinfo ends at the last
    ``@`` of the authority, as libpq reads it, so an unencoded ``@`` in a password is kept.
    """
    from urllib.parse import parse_qsl, unquote, urlsplit

    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][\w+]*", scheme):
        raise ConfigError(f"malformed database URL: {scrub(text)!r}")
    backend_name, _, driver = scheme.lower().partition("+")
    backend_name = _BACKEND_ALIASES.get(backend_name, backend_name)
    if backend_name not in BACKENDS:
        raise ConfigError(
            f"unsupported database backend {backend_name!r} in {scrub(text)} "
            f"(supported: {', '.join(sorted(BACKENDS))})"
        )
    drivers = BACKENDS[backend_name]
    driver = driver or drivers[0]
    if driver not in drivers:
        raise ConfigError(f"unsupported driver {driver!r} for {backend_name} in {scrub(text)}")
    try:
        parts = urlsplit("x://" + rest)
        port = parts.port
    except ValueError:
        raise ConfigError(f"malformed database URL: {scrub(text)!r}") from None
    userinfo, at, _hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    written = scheme.lower()
    url = DbUrl(
        backend=backend_name,
        driver=driver,
        scheme=written.replace("postgres", "postgresql", 1)
        if written.partition("+")[0] == "postgres"
        else written,
        username=unquote(user) if at and user else None,
        password=unquote(password) if at and colon else None,
        host=parts.hostname or None,
        port=port,
        database=unquote(path) or None,
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
    )
    if url.backend != "sqlite" and not url.database:
        raise ConfigError(f"database URL names no database: {url.render()}")
    if url.backend == "sqlite" and url.database and url.database != ":memory:":
        if "\x00" in url.database:
            raise ConfigError(f"SQLite database path holds a NUL byte: {url.render()!r}")
        path = Path(url.database)
        if path.is_dir():
            raise ConfigError(f"SQLite database path is a directory: {path}")
        if not path.parent.is_dir():
            raise ConfigError(f"directory of the SQLite database does not exist: {path.parent}")
    return url


def resolve(
    args: Mapping[str, object], env: Mapping[str, str] | None = None, *, parse: bool = True
) -> Settings:
    """Build the settings: a flag wins over the environment, which wins over the app's config
    file (``conf_file`` / ``GMG_CONFIG``), which wins over the default.

    ``parse`` validates the URL with SQLAlchemy at once (the fast path defers that).
    """
    env = os.environ if env is None else env
    conf_file = args.get("conf_file") or env.get("GMG_CONFIG")
    app = None if conf_file is None else read_app_config(Path(str(conf_file)))

    raw_url = args.get("database_url")
    if raw_url is None:
        if env.get("DATABASE_URL"):
            raw_url = env["DATABASE_URL"]
        elif env.get("DATABASE_URL_FILE"):
            raw_url = _read_secret(env["DATABASE_URL_FILE"], "DATABASE_URL_FILE")
        elif app is not None:
            raw_url = app.url
        else:
            raw_url = DEFAULT_URL
    password = None
    if env.get("DATABASE_PASSWORD_FILE"):
        password = _read_secret(env["DATABASE_PASSWORD_FILE"], "DATABASE_PASSWORD_FILE")

    bundle = args.get("migrations") or env.get("GMG_MIGRATIONS") or default_bundle_dir()
    plugins = _pick(args, "plugins", env, "GMG_PLUGINS")
    wait_timeout = _timeout(
        _pick(args, "wait_timeout", env, "GMG_WAIT_TIMEOUT"), DEFAULT_WAIT_TIMEOUT, "wait timeout"
    )
    lock_timeout = _timeout(
        _pick(args, "lock_timeout", env, "GMG_LOCK_TIMEOUT"), DEFAULT_LOCK_TIMEOUT, "lock timeout"
    )
    log_format, log_level = log_choice(args, env)

    settings = Settings(
        url_text=str(raw_url),
        password_override=password,
        bundle_dir=Path(str(bundle)),
        plugins=None if plugins is None else str(plugins),
        app_plugins=None if app is None else app.plugins,
        wait_timeout=wait_timeout,
        lock_timeout=lock_timeout,
        log_format=log_format,
        log_level=log_level,
        ddl_lock_timeout=_timeout(
            _pick(args, "ddl_lock_timeout", env, "GMG_DDL_LOCK_TIMEOUT"),
            DEFAULT_DDL_LOCK_TIMEOUT,
            "DDL lock timeout",
        ),
        statement_timeout=_optional_timeout(
            _pick(args, "statement_timeout", env, "GMG_STATEMENT_TIMEOUT"), "statement timeout"
        ),
    )
    if parse:
        settings.url  # noqa: B018 - a malformed URL is refused before anything else
    return settings
