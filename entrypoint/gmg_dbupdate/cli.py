"""The ``gmg`` console script: thin verbs, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from . import backends, errors, interrupts
from .config import LOG_FORMATS, LOG_LEVELS, Settings, log_choice, resolve
from .errors import ConfigError, DbUpdateError, StateRefused
from .logs import add_secrets, configure, get_logger, scrub
from .state import reset

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit 2 is not in our contract
        raise ConfigError(f"{self.prog}: {message}")


def _logging_flags() -> argparse.ArgumentParser:
    flags = _Parser(add_help=False)
    flags.add_argument("--log-format", metavar="|".join(LOG_FORMATS))
    flags.add_argument("--log-level", metavar="|".join(LOG_LEVELS))
    return flags


def _bundle_flag() -> argparse.ArgumentParser:
    flags = _Parser(add_help=False)
    flags.add_argument("--migrations", metavar="DIR", help="schema bundle (env GMG_MIGRATIONS)")
    return flags


def _database_flags() -> argparse.ArgumentParser:
    flags = _Parser(add_help=False)
    flags.add_argument("--database-url", metavar="URL", help="database URL (env DATABASE_URL)")
    flags.add_argument("--plugins", metavar="A,B", help="enabled plugins, all or none")
    flags.add_argument("--wait-timeout", metavar="S", help="seconds to wait for the database")
    flags.add_argument("--lock-timeout", metavar="S", help="seconds to wait for the lock")
    flags.add_argument("--ddl-lock-timeout", metavar="S", help="seconds one DDL may queue")
    flags.add_argument("--statement-timeout", metavar="S", help="per statement (default off)")
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gmg", description="Database migrations as an init job.")
    parser.add_argument(  # MediaGoblin's own global flag, so its operators' commands work
        "-cf",
        "--conf_file",
        metavar="FILE",
        help="the app's config file (mediagoblin.ini): URL and plugins (env GMG_CONFIG)",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    common = [_database_flags(), _bundle_flag(), _logging_flags()]

    dbupdate = verbs.add_parser(
        "dbupdate", parents=common, help="bring the schema to the current state"
    )
    dbupdate.add_argument(
        "--check", action="store_true", help="read-only: exit 0 if current, 1 if pending"
    )
    dbupdate.set_defaults(run=_dbupdate)

    dbcheck = verbs.add_parser(
        "dbcheck", parents=common, help="read-only: is the schema current? (for app pods)"
    )
    dbcheck.add_argument(
        "--wait",
        action="store_true",
        help="poll until the schema is current (exit 0), 69 at --wait-timeout",
    )
    dbcheck.set_defaults(run=_dbcheck)

    dbverify = verbs.add_parser(
        "dbverify", parents=common, help="compare the live schema with the models"
    )
    dbverify.set_defaults(run=_dbverify)

    index = verbs.add_parser(
        "bundle-index",
        parents=[_bundle_flag(), _logging_flags()],
        help="write the bundle's index (lets a no-op run skip loading scripts)",
    )
    index.set_defaults(run=_bundle_index)

    alembic = verbs.add_parser(
        "alembic",
        parents=common,
        help="Alembic's CLI over the bundle (heads, history, current, revision…)",
    )
    alembic.add_argument(
        "--with-plugins",
        action="store_true",
        help="load plugin models into the target metadata (for revision --autogenerate)",
    )
    alembic.add_argument("alembic_args", nargs=argparse.REMAINDER, metavar="ARGS")
    alembic.set_defaults(run=_alembic)
    return parser


def _configure_before_settings(argv: Sequence[str]) -> None:
    """What fails before the settings exist (a usage error, a bad value) is logged as the
    flags or the environment ask if they ask validly, else as JSON."""
    try:
        flags, _rest = _logging_flags().parse_known_args(argv)
        configure(*log_choice(vars(flags)))
    except ConfigError:
        configure()


def _write_termination_message(message: str) -> None:
    """Kubernetes mounts this file; elsewhere it is absent and must not be created."""
    path = os.environ.get("GMG_TERMINATION_LOG", DEFAULT_TERMINATION_LOG)
    if not os.path.isfile(path):
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(message[:4000] + "\n")
    except OSError:
        pass  # read-only: the log line is enough


def _dbupdate(settings: Settings, args: argparse.Namespace) -> int:
    from . import pipeline

    if args.check:
        result = pipeline.check(settings)
        get_logger().info("dbupdate.done", **result)
        return errors.OK if result["current"] else errors.PENDING
    get_logger().info("dbupdate.done", **pipeline.run(settings))
    return errors.OK


def _dbcheck(settings: Settings, args: argparse.Namespace) -> int:
    from . import pipeline

    result = pipeline.wait_until_current(settings) if args.wait else pipeline.check(settings)
    get_logger().info("dbupdate.done", **result)
    return errors.OK if result["current"] else errors.PENDING


def _dbverify(settings: Settings, args: argparse.Namespace) -> int:
    from .pipeline import verify

    result = verify(settings)
    for line in result["differences"]:
        print(line)
    equal = not result["differences"]
    get_logger().info(
        "dbupdate.done" if equal else "dbverify.drift",
        equal=equal,
        differences=len(result["differences"]),
        compared=len(result["compared"]),
        ignored=result["ignored"],
        duration_s=result["duration_s"],
    )
    if not equal:
        raise StateRefused(
            f"schema differs from the models in {len(result['differences'])} place(s) "
            "(listed on stdout)"
        )
    return errors.OK


def _bundle_index(settings: Settings, args: argparse.Namespace) -> int:
    from .bundle import Bundle

    bundle = Bundle.load(settings.bundle_dir)
    bundle.check_handoff()  # never index a broken history
    path = bundle.write_index()
    get_logger().info("dbupdate.done", index=str(path), heads=bundle.branches.heads)
    return errors.OK


def _alembic(settings: Settings, args: argparse.Namespace) -> int:
    from .alembic_cli import run_alembic

    return run_alembic(settings, args.alembic_args, with_plugins=args.with_plugins)


def main(argv: Sequence[str] | None = None) -> int:
    """One run, from a clean state: it may be called again in the same process."""
    argv = list(sys.argv[1:] if argv is None else argv)
    reset()
    _configure_before_settings(argv)
    log = get_logger()
    with interrupts.handling():
        try:
            args = build_parser().parse_args(argv)
            settings = resolve(vars(args), parse=False)
            configure(settings.log_format, settings.log_level)
            add_secrets(settings.secrets)
            code = args.run(settings, args)
            interrupts.settle()  # done: a signal from here on is recorded, not raised
            return code
        except BaseException as exc:
            interrupts.settle()  # the failure is reported whatever arrives now
            signum = interrupts.received()
            if signum is not None:  # whatever surfaced (a cancelled statement, say), a signal won
                name = signal.Signals(signum).name
                return _fail(log, 128 + signum, f"interrupted by {name}", {"signal": name})
            if isinstance(exc, DbUpdateError):
                return _fail(log, exc.exit_code, str(exc), exc.context)
            if not isinstance(exc, Exception):
                raise
            if backends.error_kind(exc) == backends.PERMISSION:
                # The role may connect but not read or change what it must: 77, not a crash.
                first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                return _fail(log, errors.NOPERM, f"permission denied: {first}", {})
            log.exception("dbupdate.crashed")  # an unexpected crash is still a clean, logged 70
            return _fail(log, errors.SOFTWARE, f"{type(exc).__name__}: {exc}", {})


def _fail(log, code: int, message: str, context: dict) -> int:
    message = scrub(message)
    fields = {k: v for k, v in context.items() if v is not None}
    log.error("dbupdate.failed", exit_code=code, error=message, **fields)
    _write_termination_message(f"gmg dbupdate failed (exit {code}): {message}")
    return code


def entry() -> None:
    code = main()
    interrupts.settle()
    # Every connection, lock and file is closed by now. Tearing the interpreter down (every
    # module of SQLAlchemy and Alembic, every revision script loaded) would only add a few
    # tenths of a second to each pod start, so the process ends here, its output flushed.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)
