"""Bring installed components to their branch heads with Alembic."""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from sqlalchemy import Connection

from .bundle import Bundle
from .errors import DbUpdateError, MigrationFailed
from .logs import get_logger


def upgrade(
    connection: Connection,
    bundle: Bundle,
    components: list[str],
    *,
    limit: int | None = None,
    plans: dict[frozenset[str], list] | None = None,
    into: list[str] | None = None,
) -> list[str]:
    """Upgrade each named component to all its heads (or its next ``limit`` revisions);
    return the revisions applied.

    ``plans`` (a dict the caller keeps across calls with the same components) remembers the
    steps still ahead from each set of heads reached: a revision-by-revision upgrade plans its
    path once, not once per revision (planning is linear in the history's length).

    ``into``: the list the applied revisions are appended to as they are applied (kept by a
    caller whose run may fail after some of them committed, and be tried again)."""
    log = get_logger()
    applied: list[str] = []
    done = into if into is not None else applied
    plan: list = []
    mark = [time.monotonic()]

    def on_version_apply(*, ctx, step, heads, run_args) -> None:
        now = time.monotonic()
        revision = step.up_revision_id
        applied.append(revision)
        if done is not applied:
            done.append(revision)
        if plans is not None:  # the heads now reached, and what is still ahead from them
            plans[frozenset(heads)] = plan[len(applied) :]
        log.info(
            "migration.applied",
            component=bundle.branches.owner.get(revision),
            revision=revision,
            down_revision=list(step.down_revision_ids) or None,
            message=step.up_revision.doc if step.up_revision is not None else None,
            duration_s=round(now - mark[0], 3),
        )
        mark[0] = now

    # One Alembic environment run for every branch, over the bundle's already-loaded scripts
    # (command.upgrade would re-read every script once per branch).
    from alembic.runtime.environment import EnvironmentContext

    script = bundle.script
    # every head, in one run: Alembic orders the steps by down revisions and depends_on
    targets = tuple(bundle.branches.tips([h for c in components for h in bundle.branches.heads[c]]))
    cfg = bundle.alembic_config(connection=connection, on_version_apply=on_version_apply)

    def steps(current, _context):
        known = plans.get(frozenset(current)) if plans is not None else None
        plan[:] = known if known is not None else script._upgrade_revs(targets, current)
        return plan if limit is None else plan[:limit]

    mark[0] = time.monotonic()
    try:
        with EnvironmentContext(cfg, script, fn=steps, destination_rev=targets):
            script.run_env()
    except DbUpdateError:  # already says what it is: the fence refused (ddl.Guard)
        raise
    except Exception as exc:
        revision, path = _failing_revision(bundle, exc)
        component = bundle.branches.owner.get(revision or "", ", ".join(components))
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationFailed(
            f"migration {revision or '?'} of {component} failed: {type(exc).__name__}: {detail}",
            component=component,
            revision=revision,
            script=path,
        ) from exc
    return applied


def _failing_revision(bundle: Bundle, exc: BaseException) -> tuple[str | None, str | None]:
    """The innermost frame inside a revision script names the revision that failed."""
    paths = {str(Path(s.path).resolve()): s.revision for s in bundle.script.walk_revisions()}
    found: tuple[str | None, str | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__ or sys.exc_info()[2]):
        path = str(Path(frame.filename).resolve())
        if path in paths:
            found = (paths[path], path)
    return found
