"""The Alembic phase, cut into transactions as the manifest says (``transaction``).

- ``run`` (the default): the whole phase is one transaction (hand-over stamps, retired rows,
  every upgrade, new plugins' tables): a failure leaves the database exactly as it was, but
  every table a revision locks stays locked until the last revision commits.
- ``component``: one transaction per component's upgrade, committed before the next starts.
- ``revision``: one transaction per revision, its version row inside it.

A component may set its own mode; consecutive components in ``run`` mode share one transaction.
When any mode other than ``run`` is in play, the hand-over stamps and retired rows commit first,
in a transaction of their own, and the new plugins' tables join the last ``run`` group, or get a
transaction of their own. A fresh install is always one transaction (tables, stamps,
foundations: nothing else uses those tables yet).

Every transaction is a unit of ``ddl.Policy``: fenced, its DDL lock waits bounded, retried alone.
Alembic's ``transaction_per_migration`` is not used: Alembic honours it only on a connection that
is not yet in a transaction, and then begins and commits by itself; driving one revision per
transaction here keeps each commit where the engine confirms its fence and retries a refused
revision alone. Where DDL is not transactional (MySQL/MariaDB) Alembic begins and commits one
transaction per revision by itself on a connection that is not in one; there one Alembic run
serves a component, and ``ddl.Guard`` fences and bounds each of those transactions all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import classify, registry
from .backends.base import Fence
from .bootstrap import install
from .ddl import Policy
from .facts import read_facts
from .retired import retire
from .upgrade import upgrade


def converge(
    connection: Any,
    fence: Fence | None,
    job: Any,
    state: classify.DbState,
    *,
    hand_over: Callable,
    converge_all: Callable,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Run the phase; returns (handed_over, retired, bootstrapped, applied).

    ``hand_over(connection, bundle, enabled)`` and ``converge_all(connection, bundle, state,
    enabled)`` are ``converge.py``'s own steps; ``job`` is the pipeline's (settings, bundle,
    enabled plugins, backend). DDL lock waits are bounded where the backend has a lock queue
    that a waiting DDL stalls (``Backend.ddl_rules``).
    """
    settings, bundle, enabled, backend = job.settings, job.bundle, job.enabled, job.backend
    rules = backend.ddl_rules(settings, fence) if fence is not None else None
    tables = set().union(*bundle.table_names().values()) if rules is not None else set()
    policy = Policy(connection, fence, settings, tables, rules=rules)
    try:
        if _modes(job) == {"run"}:

            def whole(c):
                current, handed, gone = state, [], []
                if current.legacy:
                    current, handed = hand_over(c, bundle, enabled)
                if current.retired:  # before Alembic reads the version table
                    gone = retire(c, bundle)
                return (handed, gone, *converge_all(c, bundle, current, enabled))

            return policy.unit("run", whole)
        return _split(policy, job, state, hand_over)
    finally:
        policy.close()


def mode_of(job: Any, component: str | None = None) -> str:
    """The component's transaction mode (the bundle's default for None); always ``revision``
    where DDL is not transactional: each revision then commits with its version row."""
    if not job.backend.transactional_ddl:
        return "revision"
    manifest = job.bundle.manifest
    return manifest.transaction if component is None else manifest.transaction_of(component)


def _modes(job: Any) -> set[str]:
    names = [job.bundle.core.name, *job.enabled]
    return {mode_of(job)} | {mode_of(job, n) for n in names}


def _split(policy: Policy, job: Any, state, hand_over):
    bundle, enabled = job.bundle, job.enabled
    handed, gone = [], []
    if state.legacy or state.retired:

        def prelude(c):
            current, names, removed = state, [], []
            if current.legacy:
                current, names = hand_over(c, bundle, enabled)
            if current.retired:
                removed = retire(c, bundle)
            return current, names, removed

        state, handed, gone = policy.unit("prelude", prelude)
    if state.kind == classify.FRESH:
        components = [bundle.core, *(bundle.plugins[n] for n in enabled)]
        policy.unit("install", lambda c: install(c, bundle, components, enabled))
        return handed, gone, [c.name for c in components], []

    behind = [
        name
        for name in [bundle.core.name, *enabled]
        if state.installed(name) and not bundle.branches.at_heads(name, state.versions[name])
    ]
    missing = [
        bundle.plugins[n] for n in enabled if not state.installed(n) and n not in state.legacy
    ]
    applied: list[str] = []
    group: list[str] = []  # consecutive components in "run" mode: one transaction

    def flush(with_missing: bool = False) -> None:
        names = list(group)
        group.clear()

        def work(c):
            done = upgrade(c, bundle, names) if names else []
            if with_missing:
                install_missing(c, job, missing)
            return done

        applied.extend(policy.unit(", ".join(names) or "install", work))

    for name in behind:
        mode = mode_of(job, name)
        if mode == "run":
            group.append(name)
            continue
        if group:
            flush()
        if mode == "component":
            applied.extend(policy.unit(name, lambda c, n=name: upgrade(c, bundle, [n])))
        elif not job.backend.transactional_ddl:
            # Alembic itself commits each revision with its version row where DDL is not
            # transactional (it begins one transaction per revision on a connection that is
            # not in one), so one run of it serves the component: the fence and lock waits
            # are set per transaction by ddl.Guard, a refused revision is tried again from
            # where the committed ones left the heads.
            done: list[str] = []
            policy.unit(name, lambda c, n=name, d=done: upgrade(c, bundle, [n], into=d))
            applied.extend(done)
        else:  # one revision per transaction, until none is left; the path planned once
            plans: dict = {}

            def one(c, n=name, p=plans):
                return upgrade(c, bundle, [n], limit=1, plans=p)

            while step := policy.unit(name, one):
                applied.extend(step)
    if missing and mode_of(job) == "run" or group:
        flush(with_missing=bool(missing) and mode_of(job) == "run")
    if missing and mode_of(job) != "run":
        policy.unit("install", lambda c: install_missing(c, job, missing))
    return handed, gone, [c.name for c in missing], applied


def install_missing(connection, job: Any, missing) -> None:
    bundle = job.bundle
    install(connection, bundle, missing, job.enabled)
    rows = read_facts(job.backend, connection.connection.driver_connection, bundle.manifest)
    registry.record_installed(connection, bundle.manifest, missing, rows.registry)
