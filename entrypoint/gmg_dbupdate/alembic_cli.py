"""``gmg alembic ARGS…``: Alembic's own command line over the bundle's configuration."""

from __future__ import annotations

from .bundle import Bundle
from .config import Settings
from .errors import ConfigError, DatabaseUnavailable, MigrationFailed, PermissionDenied
from .wait import classify_connect_error, first_line, is_transient


def run_alembic(settings: Settings, argv: list[str], *, with_plugins: bool) -> int:
    from alembic.config import CommandLine
    from alembic.util import CommandError

    bundle = Bundle.load(settings.bundle_dir)
    plugins = bundle.resolve_plugins(settings.plugins, settings.app_plugins) if with_plugins else ()
    cli = CommandLine(prog="gmg alembic")
    try:
        options = cli.parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0; a usage error exits 2
        if exc.code in (0, None):
            return 0
        raise ConfigError(f"gmg alembic: invalid arguments: {' '.join(argv)}") from None
    if not hasattr(options, "cmd"):
        raise ConfigError("gmg alembic: a command is required (heads, history, current, …)")
    options.raiseerr = True
    backend = settings.backend
    cfg = bundle.alembic_config(
        settings.url.sqlalchemy(),
        target_metadata=bundle.metadata(plugins),
        backend=backend,
        render_as_batch=backend.batch_alter,
    )
    cfg.cmd_opts = options
    try:
        cli.run_cmd(cfg, options)
    except CommandError as exc:
        raise ConfigError(f"alembic: {exc}") from None
    except Exception as exc:
        # The database's refusal or absence is not a crash: the codes every verb uses.
        if is_transient(exc):
            raise DatabaseUnavailable(f"database unreachable: {first_line(exc)}") from None
        refusal = classify_connect_error(exc)
        if refusal in (PermissionDenied, ConfigError):
            raise refusal(f"cannot connect: {first_line(exc)}") from None
        raise MigrationFailed(f"alembic {options.cmd[0].__name__} failed: {exc}") from exc
    return 0
