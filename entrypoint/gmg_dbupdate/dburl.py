"""A parsed database URL (``config.parse_url`` makes them): its parts, rendered masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .logs import scrub

SECRET_PARAMS = ("password", "sslpassword")  # libpq's; passfile and sslkey are paths


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL; ``backend`` is always its canonical name."""

    backend: str
    driver: str
    scheme: str  # as written (an alias such as postgres:// by its canonical name)
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = field(default=())

    @property
    def drivername(self) -> str:
        return f"{self.backend}+{self.driver}"

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; with the password masked, as logs show it."""
        from urllib.parse import quote, urlencode

        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + ("***" if hide_password else quote(self.password, safe=""))
            auth += "@"
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port is not None else ""
        database = f"/{self.database}" if self.database is not None else ""
        query = f"?{urlencode(self.query)}" if self.query else ""
        text = f"{self.scheme}://{auth}{host}{port}{database}{query}"
        return scrub(text) if hide_password else text

    def __str__(self) -> str:
        return self.render()

    def sqlalchemy(self) -> Any:
        """The same URL as SQLAlchemy's ``URL`` (imports SQLAlchemy)."""
        from sqlalchemy.engine import URL

        grouped: dict[str, list[str]] = {}
        for key, value in self.query:
            grouped.setdefault(key, []).append(value)
        query = {k: v[0] if len(v) == 1 else tuple(v) for k, v in grouped.items()}
        return URL.create(
            self.drivername,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=query,
        )
