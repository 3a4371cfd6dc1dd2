"""The databases the engine speaks, each on its bare driver: see ``base.Backend``."""

from __future__ import annotations

import importlib

from .base import AUTH, MISSING_DATABASE, OTHER, PERMISSION, TRANSIENT, Backend, runner_name

__all__ = [
    "AUTH",
    "MISSING_DATABASE",
    "OTHER",
    "PERMISSION",
    "TRANSIENT",
    "Backend",
    "backend_for",
    "error_kind",
    "runner_name",
]

# backend name (config.BACKENDS) -> module:class; imported only when a URL names it
_CLASSES = {
    "postgresql": "postgresql:PostgresBackend",
    "sqlite": "sqlite:SqliteBackend",
    "mysql": "mysql:MySQLBackend",
}


def _class(name: str) -> type[Backend]:
    module, _, attribute = _CLASSES[name].partition(":")
    return getattr(importlib.import_module(f".{module}", __name__), attribute)


def backend_for(url, *, connect_timeout: float) -> Backend:
    """The backend a parsed URL (``config.DbUrl``) names."""
    return _class(url.backend)(url, connect_timeout=connect_timeout)


def error_kind(exc: BaseException) -> str | None:
    """What a database error means (``TRANSIENT``, ``AUTH``, …), whichever driver raised it;
    None if it is not a database driver's error at all (SQLAlchemy's are unwrapped)."""
    orig = getattr(exc, "orig", None) or exc
    for name in _CLASSES:
        kind = _class(name).error_kind(orig)
        if kind is not None:
            return kind
    return None
