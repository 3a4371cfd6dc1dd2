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
    app, plugins = config.get("mediagoblin", {}), config.get("plugins", {})
    if not isinstance(app, dict) or not isinstance(plugins, dict):
        raise ConfigError(f"config file {path}: [mediagoblin] and [plugins] must be sections")
    scalars = [k for k in plugins if k not in plugins.sections] if plugins else []
    if scalars:
        raise ConfigError(
            f"config file {path}: [plugins] entries must be sections like "
            f"[[{scalars[0]}]], not {scalars[0]} = …"
        )
    # the default goes into the section so that it is interpolated like a value of the file
    section = config.setdefault("mediagoblin", {})
    if "sql_engine" not in section:
        section["sql_engine"] = DEFAULT_SQL_ENGINE
    try:
        url = section["sql_engine"]
    except InterpolationError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if not isinstance(url, str):
        raise ConfigError(f"config file {path}: [mediagoblin] sql_engine must be one string")
    return AppConfig(path=path, url=url, plugins=tuple(plugins.sections) if plugins else ())
