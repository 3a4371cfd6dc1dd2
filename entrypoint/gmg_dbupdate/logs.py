"""One structured event per line on stderr; Alembic's and the legacy runtime's messages too.

structlog renders every event once the migration machinery is loaded (``activate``). Before
that, on the no-op path that never loads it, JSON events are written by ``_write_json``, which
produces the same line structlog would (``tests/test_units.py`` compares the two): importing
structlog costs about as much CPU as the rest of a no-op run, because it imports asyncio.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any

from .state import STATE

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

# The userinfo of anything URL-shaped, parsed or not (``postgresql:/u:pw@h``, ``pg//u:pw@h``):
# after a scheme or ``//``, a user name, a colon, then everything to the last @ of the line (a
# password may hold an unencoded ``/``, ``@``, ``:`` or space).
_USERINFO = re.compile(r"(?P<lead>[A-Za-z][\w+.-]*:/*|//)(?P<user>[^\s:/@'\"]*):(?P<password>.*)@")
# ``key=value`` secrets, in a query string (``?sslpassword=…&``), a libpq keyword DSN
# (``password='a b'``) or a dict's repr (``'password': '…'``). libpq's secrets are ``password``
# and ``sslpassword`` (the client key's passphrase); ``passfile`` and ``sslkey`` are paths.
_KEYED = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|pwd|passphrase|secret|token)['\"]?\s*[=:]\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&#]+)",
    re.IGNORECASE,
)
_NOT_IN_A_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"


def add_secret(secret: str | None) -> None:
    """Never print this string: it is replaced by *** in every event."""
    if secret:
        from urllib.parse import quote

        STATE.secrets.update({secret, quote(secret, safe="")})


def add_secrets(secrets: Iterable[str]) -> None:
    for secret in secrets:
        add_secret(secret)


def scrub(text: str) -> str:
    """The one masker: every string that is logged, raised or written passes through it.

    Works on text that may hold a URL without parsing it: userinfo passwords, secret query or
    keyword parameters, and any known secret as a whole token (a password ``postgres`` never
    masks the ``postgres`` inside ``postgresql``).
    """
    if ":" in text and "@" in text:
        text = _USERINFO.sub(_mask_userinfo, text)
    if "=" in text or ":" in text:
        text = _KEYED.sub(lambda m: m["key"] + "***", text)
    for secret in sorted(STATE.secrets, key=len, reverse=True):
        if secret in text:
            text = re.sub(_NOT_IN_A_WORD.format(re.escape(secret)), "***", text)
    return text


def _mask_userinfo(match: re.Match) -> str:
    return f"{match['lead']}{match['user']}:***@"


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def _scrub_secrets(_logger: Any, _method: str, event_dict: dict) -> dict:
    return {k: _scrub_value(v) for k, v in event_dict.items()}


def _name_foreign_event(_logger: Any, _method: str, event_dict: dict) -> dict:
    """A stdlib record's text becomes ``message``; its event is ``<library>.log``."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict["message"] = str(event_dict.pop("event", ""))
        event_dict["event"] = record.name.split(".")[0] + ".log"
        event_dict["logger"] = record.name
    return event_dict


def _lead_with_essentials(_logger: Any, _method: str, event_dict: dict) -> dict:
    head = {k: event_dict.pop(k) for k in ("timestamp", "level", "event") if k in event_dict}
    return {**head, **event_dict}


def configure(log_format: str = "json", log_level: str = "info") -> None:
    """Choose format and level; structlog itself is set up only if the run needs it.

    Once structlog is loaded in this process (a module that needs it activates it when it is
    imported, and is not imported again), it renders every later run from the start: each
    configuration binds the ``sys.stderr`` of its own time.
    """
    STATE.log_format, STATE.log_level = log_format, log_level
    if STATE.logger is not None or STATE.structlog_loaded or log_format != "json":
        STATE.logger = None
        activate()


def activate() -> None:
    """Hand all rendering to structlog, and route stdlib logging (Alembic's) through it."""
    if STATE.logger is not None:
        return
    import logging

    import structlog

    level = _LEVELS[STATE.log_level]
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    if STATE.log_format == "console":
        renderer: Any = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _scrub_secrets,
            _lead_with_essentials,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _name_foreign_event],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _scrub_secrets,
                _lead_with_essentials,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if STATE.log_handler is not None:  # the last configuration's, bound to its own stderr
        root.removeHandler(STATE.log_handler)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces each of its autogenerate plugins at INFO on every start: noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(level, logging.WARNING))
    STATE.log_handler = handler
    STATE.logger = structlog.get_logger()
    STATE.structlog_loaded = True


def _write_json(level: str, event: str, fields: dict) -> None:
    """The line structlog's JSON chain renders for ``event``, without importing structlog."""
    from datetime import UTC, datetime

    timestamp = datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")
    line = {"timestamp": timestamp, "level": level, "event": event, **fields}
    line = {k: _scrub_value(v) for k, v in line.items()}
    sys.stderr.write(json.dumps(line, default=repr) + "\n")
    sys.stderr.flush()


class _Logger:
    """``get_logger()``: structlog once active; until then, JSON lines written directly."""

    def _log(self, level: str, event: str, fields: dict) -> None:
        if STATE.logger is None:
            if _LEVELS[level] >= _LEVELS[STATE.log_level]:
                _write_json(level, event, fields)
            return
        getattr(STATE.logger, level)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        activate()  # tracebacks are rendered by structlog
        STATE.logger.exception(event, **fields)


_LOGGER = _Logger()


def get_logger() -> _Logger:
    return _LOGGER
