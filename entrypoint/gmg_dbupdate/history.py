"""The revision graph: who owns each revision, each component's heads, where a database stands.

Built once from Alembic's script directory (``read_history``) or from the bundle index, and
checked against the manifest: the graph the app ships is taken as it is (unlabelled branches,
several heads, branches rooted on another component's revision), and only what is really
broken is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError
from .manifest import Manifest


@dataclass(frozen=True)
class History:
    heads: dict[str, tuple[str, ...]]  # component -> its declared (and checked) heads
    owner: dict[str, str]  # revision id -> component name
    down: dict[str, tuple[str, ...]]  # revision id -> its down revisions
    requires: dict[str, tuple[str, ...]]  # revision id -> down revisions and depends_on

    def applied(self, rows: list[str]) -> set[str]:
        """Every revision a version table holding ``rows`` stands for.

        Alembic keeps only the tips: a plugin row whose revision descends from (or depends on)
        a core revision stands for that core revision too, so positions are read from the graph.
        """
        seen: set[str] = set()
        todo = [r for r in rows if r in self.owner]
        while todo:
            revision = todo.pop()
            if revision not in seen:
                seen.add(revision)
                todo.extend(self.requires[revision])
        return seen

    def positions(self, rows: list[str]) -> dict[str, frozenset[str]]:
        """Component -> the revisions its branch is at (a fork may leave several)."""
        applied = self.applied(rows)
        positions: dict[str, frozenset[str]] = {}
        for component in sorted(set(self.owner[r] for r in applied)):
            mine = {r for r in applied if self.owner[r] == component}
            below = {d for r in mine for d in self.down[r]}
            positions[component] = frozenset(mine - below)
        return positions

    def bases(self, component: str) -> list[str]:
        """The component's first revisions: none of their down revisions is its own."""
        mine = {r for r, owner in self.owner.items() if owner == component}
        return sorted(r for r in mine if not set(self.down[r]) & mine)

    def tips(self, revisions: list[str] | tuple[str, ...]) -> list[str]:
        """``revisions`` less those another of them already stands for (a head that another
        head depends on): Alembic refuses to be asked for both."""
        implied = {r for other in revisions for r in self.applied([other]) if r != other}
        return [r for r in dict.fromkeys(revisions) if r not in implied]

    def at_heads(self, component: str, position: frozenset[str]) -> bool:
        return position == frozenset(self.heads[component])


def load_scripts(script: Any) -> list[Any]:
    """Every revision of the script directory; a script that does not import is a 64."""
    from alembic.util import CommandError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            revisions = list(script.walk_revisions())
        except CommandError as exc:
            raise BundleError(f"bundle's Alembic history is broken: {exc}") from None
        except Exception as exc:  # the script's own error: syntax, a failing import, …
            raise BundleError(
                f"revision script {_failing_file(exc) or '?'} does not import: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    for warning in caught:
        if "more than once" in str(warning.message):  # one revision id in two files
            raise BundleError(f"bundle's Alembic history is broken: {warning.message}")
    return revisions


def _failing_file(exc: BaseException) -> str | None:
    import traceback

    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename
    frames = traceback.extract_tb(exc.__traceback__)
    scripts = [f.filename for f in frames if "alembic" not in Path(f.filename).parts]
    return scripts[-1] if scripts else None


def read_history(manifest: Manifest, script: Any) -> History:
    """Index the graph and check it against the manifest's declared heads and bases."""
    from alembic.util import CommandError, to_tuple

    by_dir = {folder: c.name for c in manifest.components for folder in c.versions}
    owner: dict[str, str] = {}
    down: dict[str, tuple[str, ...]] = {}
    requires: dict[str, tuple[str, ...]] = {}
    labels: dict[str, str] = {}  # a branch label -> the revision whose file declares it
    for rev in load_scripts(script):
        labels.update(dict.fromkeys(getattr(rev, "_orig_branch_labels", ()) or (), rev.revision))
        name = by_dir.get(Path(rev.path).resolve().parent)
        if name is None:
            raise BundleError(f"revision {rev.revision} lies outside the bundle: {rev.path}")
        owner[rev.revision] = name
        down[rev.revision] = to_tuple(rev.down_revision, default=())
        try:
            dependencies = tuple(
                script.revision_map.get_revision(d).revision
                for d in to_tuple(rev.dependencies, default=())
            )
        except CommandError as exc:
            raise BundleError(f"revision {rev.revision}: bad depends_on: {exc}") from None
        requires[rev.revision] = down[rev.revision] + dependencies
    history = History(
        heads={c.name: c.heads for c in manifest.components},
        owner=owner,
        down=down,
        requires=requires,
    )
    check(manifest, history, labels)
    return history


def check(manifest: Manifest, history: History, labels: dict[str, str] | None = None) -> None:
    """Refuse what is broken: undeclared or false heads, bases that differ, retired clashes."""
    for component in manifest.components:
        mine = {r for r, o in history.owner.items() if o == component.name}
        if not mine:
            raise BundleError(f"component {component.name!r} has no Alembic revisions")
        below = {d for r in mine for d in history.down[r]}
        tips = mine - below
        undeclared = sorted(tips - set(component.heads))
        if undeclared:
            raise BundleError(
                f"component {component.name!r} has undeclared heads {undeclared} (the manifest "
                f"declares {list(component.heads)}); declare them or merge them"
                f"{_unlisted(component.versions, manifest)}",
                revisions=undeclared,
            )
        false = sorted(set(component.heads) - tips)
        if false:
            where = {r: history.owner.get(r) for r in false}
            raise BundleError(
                f"component {component.name!r} declares head(s) {false} that are not heads of "
                f"its revisions (owner: {where}){_unlisted(component.versions, manifest)}",
                revisions=false,
            )
        bases = history.bases(component.name)
        # ``base`` names revisions, or branch labels that a first revision's file declares
        declared = {(labels or {}).get(b, b) for b in component.base or ()}
        if component.base is not None and declared != set(bases):
            raise BundleError(
                f"component {component.name!r} declares base {list(component.base)}, but its "
                f"first revisions are {bases}"
            )
    for revision, retired in manifest.retired.items():
        if revision in history.owner:
            raise BundleError(
                f"retired revision {revision} is still shipped (in {history.owner[revision]!r})"
            )
        if retired.down_revision is not None and retired.down_revision not in history.owner:
            raise BundleError(
                f"retired revision {revision} has down_revision {retired.down_revision}, "
                "which this bundle does not ship"
            )


def _unlisted(folders: tuple[Path, ...], manifest: Manifest) -> str:
    """A hint for revisions kept in subfolders (``versions/<release>/expand``) that no
    component's ``versions`` lists: Alembic reads only the folders named."""
    listed = {f for c in manifest.components for f in c.versions}
    hidden = {
        f"{folder.name}/{script.parent.relative_to(folder).as_posix()}"
        for folder in folders
        for script in folder.rglob("*.py")
        if script.parent not in listed and "__pycache__" not in script.parts
    }
    if not hidden:
        return ""
    return "; revisions in subfolders that versions does not list are not read: " + ", ".join(
        sorted(hidden)[:3]
    )


def check_handoff(manifest: Manifest, history: History) -> None:
    """Every handoff revision must exist in its component's branch, in legacy order."""
    for component in manifest.legacy_components:
        mapped = component.legacy.ordered_handoff()
        for revision in mapped:
            if history.owner.get(revision) != component.name:
                raise BundleError(
                    f"legacy handoff of {component.name!r} names revision {revision!r}, "
                    f"which is not in the {component.name!r} Alembic branch"
                )
        for older, newer in zip(mapped, mapped[1:], strict=False):
            if older not in history.applied([newer]):
                raise BundleError(
                    f"legacy handoff of {component.name!r}: {newer} does not descend "
                    f"from {older}, but its legacy version is later"
                )
