"""Every failure the job knows about carries its exit code (see CONTRACT.md)."""

from __future__ import annotations

OK = 0
PENDING = 1
USAGE = 64  # EX_USAGE: bad invocation, configuration or bundle
DATAERR = 65  # EX_DATAERR: database state refused
UNAVAILABLE = 69  # EX_UNAVAILABLE: database unreachable until the deadline
SOFTWARE = 70  # EX_SOFTWARE: a migration or bootstrap failed; unexpected crash
TEMPFAIL = 75  # EX_TEMPFAIL: lock not acquired before the deadline
NOPERM = 77  # EX_NOPERM: authentication or permission failure
SIGINT_EXIT = 130
SIGTERM_EXIT = 143


class DbUpdateError(Exception):
    """Base of the hierarchy: ``exit_code`` is what the process exits with."""

    exit_code = SOFTWARE

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.context = context


class ConfigError(DbUpdateError):
    exit_code = USAGE


class BundleError(DbUpdateError):
    exit_code = USAGE


class StateRefused(DbUpdateError):
    exit_code = DATAERR


class DatabaseUnavailable(DbUpdateError):
    exit_code = UNAVAILABLE


class MigrationFailed(DbUpdateError):
    exit_code = SOFTWARE


class LockTimeout(DbUpdateError):
    exit_code = TEMPFAIL


class LockLost(DbUpdateError):
    """The lock session ended while this runner worked: it commits nothing, another may run."""

    exit_code = TEMPFAIL


class PermissionDenied(DbUpdateError):
    exit_code = NOPERM


class Interrupted(BaseException):
    """A stop signal. Not an ``Exception``: no ``except Exception`` on its way up (a retry, a
    conversion into a failure of its own) takes it for an error; ``cli.main`` exits 128 + N."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(f"interrupted by {name}")
        self.exit_code = 128 + signum
        self.context = {"signal": name}
