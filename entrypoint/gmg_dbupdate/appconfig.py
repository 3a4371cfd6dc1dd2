"""The app's own config file (MediaGoblin's ``mediagoblin.ini``), read as the app reads it.

``gmg -cf FILE`` (or ``GMG_CONFIG``) takes the database URL from ``[mediagoblin] sql_engine``
and the enabled plugins from the nested sections of ``[plugins]``. It is parsed with configobj,
the app's own parser, with ConfigParser-style interpolation and ``%(here)s`` set to the file's
directory, so a value means here exactly what it means to the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

# the app's default when the file names no sql_engine: a database beside the file
DEFAULT_SQL_ENGINE = "sqlite:///%(here)s/mediagoblin.db"


@dataclass(frozen=True)
class AppConfig:
    path: Path
    url: str
    plugins: tuple[str, ...]  # dotted module names, in the file's order


def read_app_config(path: Path) -> AppConfig:
    from configobj import ConfigObj, ConfigObjError, InterpolationError

    path = Path(path).absolute()
    try:
        config = ConfigObj(
            str(path), interpolation="ConfigParser", file_error=True, encoding="utf-8"
        )
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except (ConfigObjError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is malformed: {exc}") from None
    config.setdefault("DEFAULT", {})["here"] = str(path.parent)
    try:
        app = config.get("mediagoblin", {})
        url = app.get("sql_engine", DEFAULT_SQL_ENGINE) if hasattr(app, "get") else None
        if not isinstance(url, str):
            raise ConfigError(f"config file {path}: [mediagoblin] sql_engine must be a string")
        if "%(" in url:  # the default, interpolated the way the file's own values are
            app = config.setdefault("mediagoblin", {})
            app["sql_engine"] = url
            url = app["sql_engine"]
        plugins = config.get("plugins", {})
        scalars = [k for k in plugins if k not in plugins.sections] if plugins else []
    except InterpolationError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if scalars:
        raise ConfigError(
            f"config file {path}: [plugins] entries must be sections like "
            f"[[{scalars[0]}]], not {scalars[0]} = …"
        )
    return AppConfig(path=path, url=url, plugins=tuple(plugins.sections) if plugins else ())
