"""One structured event per line on stderr; Alembic's and the legacy runtime's messages too."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_secrets: set[str] = set()


def add_secret(secret: str | None) -> None:
    """Never print this string: it is replaced by *** in every event."""
    if secret:
        _secrets.add(secret)


def scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def _scrub_secrets(_logger: Any, _method: str, event_dict: dict) -> dict:
    return {k: _scrub_value(v) for k, v in event_dict.items()} if _secrets else event_dict


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
    level = logging.getLevelNamesMapping()[log_level.upper()]
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    if log_format == "console":
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
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic announces each of its autogenerate plugins at INFO on every start: noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(level, logging.WARNING))


def get_logger() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger()
