"""Bring the schema to the bundle's heads: the one step that loads SQLAlchemy and Alembic.

Run under the lock, with the state the pipeline read under it. The legacy phase (if any) runs in
the sealed runtime, script by script; then the Alembic phase, in the manifest's transactions
(``transactions.py``; one by default): hand legacy components over to Alembic, drop retired
revisions' rows, install what is missing from the models and upgrade every installed component
to its heads. Every transaction takes the lock's fence first and confirms it just before COMMIT.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import classify, interrupts, registry, transactions
from .bootstrap import install
from .errors import MigrationFailed
from .logs import activate, get_logger
from .upgrade import upgrade

if TYPE_CHECKING:
    from .backends.base import Fence
    from .job import Job


def converge(job: Job, state: classify.DbState, fence: Fence | None) -> dict:
    """Returns the ``dbupdate.done`` fields (``changed``, ``applied``, …)."""
    try:
        return _converge(job, state, fence)
    except MigrationFailed as exc:
        if job.backend.transactional_ddl:
            raise  # the failing transaction rolled back, DDL included
        raise _half_applied(exc, job.backend.label or job.backend.name) from exc


def _half_applied(exc: MigrationFailed, database: str) -> MigrationFailed:
    """Where DDL is not transactional (MySQL, MariaDB) each DDL statement commits itself: the
    statements of the failing step that ran before the failure stay, its version row does not.
    The failure says so, so that the operator repairs the schema before running again (a new
    run would take the step as not done and run it again from its start)."""
    context = dict(exc.context)
    if context.get("revision"):
        what = f"revision {context['revision']}"
    elif context.get("version") is not None:
        what = f"legacy script {str(context.get('script', context['version'])).rsplit('/', 1)[-1]}"
    else:
        what = "the failing step"
    note = (
        f"; {database} does not roll DDL back: {what} may be left half-applied (its DDL "
        "before the failure committed, its version row was not written); check the schema "
        "before running again"
    )
    return MigrationFailed(f"{exc}{note}", **context, half_applied=True)


def _converge(job: Job, state: classify.DbState, fence: Fence | None) -> dict:
    activate()  # from here on structlog renders every event, Alembic's log records too
    backend = job.backend
    walked = _walk_legacy(job, state, fence)
    engine = backend.engine()
    try:
        with engine.connect() as connection:
            dbapi = connection.connection.driver_connection
            with interrupts.cancellable(backend.canceller(dbapi)):
                # The Alembic phase, in the manifest's transactions (default: one), each
                # fenced at its start and confirmed before COMMIT, its DDL lock waits bounded.
                handed_over, retired, bootstrapped, applied = transactions.converge(
                    connection,
                    fence,
                    job,
                    state,
                    hand_over=lambda c, _bundle, _enabled: _hand_over(job, c),
                    converge_all=lambda c, _bundle, s, _enabled: _install_and_upgrade(job, c, s),
                )
    finally:
        engine.dispose()
    return classify.outcome(applied, walked, handed_over, bootstrapped, retired)


def _state(job: Job, dbapi: Any) -> classify.DbState:
    state = classify.inspect_state(job.backend, dbapi, job.bundle)
    classify.refuse_unusable(state, job.bundle)
    return state


def _walk_legacy(job: Job, state: classify.DbState, fence: Fence | None) -> list[str]:
    """Run the legacy scripts of core and enabled plugins up to their handoff versions."""
    bundle = job.bundle
    steps, registry_steps = [], []
    for name, version in state.legacy.items():
        repo = registry.legacy_side(bundle, name)
        if (name == bundle.core.name or name in job.enabled) and version < repo.target(version):
            if bundle.component(name).legacy is None:
                registry_steps.append(registry.step(name, repo, version))
            else:
                steps.extend(repo.steps(name, version))  # one per repository, in order
    if not steps and not registry_steps:
        return []
    from .legacy import run_legacy
    from .registry import RUNNER as REGISTRY_RUNNER

    done: list[dict] = []
    # The only phase that commits more than once: the backend guards it (a SQLite snapshot).
    with job.backend.guard_legacy() as committed:
        if registry_steps:
            extra = registry.job(bundle.manifest, registry_steps)
            done += run_legacy(job.settings, [], fence, committed, REGISTRY_RUNNER, extra)
        if steps:
            extra = {"pythonpath": [str(p) for p in bundle.manifest.pythonpath]}
            done += run_legacy(job.settings, steps, fence, on_applied=committed, extra=extra)
    several = {c.name for c in bundle.legacy_components if len(c.legacy.repositories) > 1}
    return [_walked_label(e, several) for e in done]


def _walked_label(event: dict, several: set[str]) -> str:
    """``core:9``; ``core:expand_repo:74`` for a component of several repositories."""
    parts = [event["component"]]
    if event["component"] in several:
        parts.append(Path(event["repository"]).name)
    return ":".join([*parts, str(event["version"])])


def _hand_over(job: Job, connection) -> tuple[classify.DbState, list]:
    """Stamp the Alembic revision each legacy component's handoff version equals."""
    from alembic import command

    bundle, log = job.bundle, get_logger()
    state = _state(job, connection.connection.driver_connection)  # the legacy phase moved it
    stamps, names = [], []
    for name, version in state.legacy.items():
        if name == bundle.core.name or name in job.enabled:
            revision = registry.legacy_side(bundle, name).handoff[version]
            stamps.append(revision)
            names.append(name)
            log.info("legacy.handoff", component=name, legacy_version=version, revision=revision)
    # A revision another stamp depends on is implied by it (Alembic refuses the overlap).
    implied = {r for other in stamps for r in bundle.branches.applied([other]) if r != other}
    stamps = [r for r in stamps if r not in implied]
    if stamps:
        command.stamp(bundle.alembic_config(connection=connection), stamps)
    return _state(job, connection.connection.driver_connection), names


def _install_and_upgrade(job: Job, connection, state) -> tuple[list[str], list[str]]:
    bundle, enabled = job.bundle, job.enabled
    if state.kind == classify.FRESH:
        components = [bundle.core, *(bundle.plugins[n] for n in enabled)]
        install(connection, bundle, components, enabled)
        return [c.name for c in components], []

    behind = [
        name
        for name in [bundle.core.name, *enabled]
        if state.installed(name) and not bundle.branches.at_heads(name, state.versions[name])
    ]
    applied = upgrade(connection, bundle, behind) if behind else []
    missing = [
        bundle.plugins[n] for n in enabled if not state.installed(n) and n not in state.legacy
    ]
    if missing:
        transactions.install_missing(connection, job, missing)
    return [c.name for c in missing], applied
