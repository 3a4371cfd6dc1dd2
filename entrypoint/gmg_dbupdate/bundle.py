"""The app's schema bundle: one handle on its manifest, its Python, its history and its index.

A thin facade: ``manifest`` parses and validates, ``modules`` imports models and foundations,
``history`` reads and checks the revision graph, ``index`` caches what a no-op run needs.
The manifest's fields (``core``, ``plugins``, ``version_table``, …) read through.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from . import index
from .errors import BundleError
from .history import History, check_handoff, read_history
from .manifest import Component, Manifest, load_manifest
from .modules import BundleModules

ALEMBIC_ENV_DIR = Path(__file__).resolve().parent / "alembic_env"


class Bundle:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.modules = BundleModules(manifest)

    @classmethod
    def load(cls, root: Path) -> Bundle:
        manifest = load_manifest(root)
        if manifest.backends is not None:
            from .config import BACKENDS

            unknown = [name for name in manifest.backends if name not in BACKENDS]
            if unknown:
                raise BundleError(
                    f"bundle manifest: backends names unknown backend(s) {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(BACKENDS))})"
                )
        return cls(manifest)

    def __getattr__(self, name: str) -> Any:  # the manifest's fields and lookups
        if name == "manifest":
            raise AttributeError(name)
        return getattr(self.manifest, name)

    # --- models and foundations ----------------------------------------------------------

    def metadata(self, names: list[str] | tuple[str, ...]) -> Any:
        return self.modules.metadata(names)

    def table_names(self) -> dict[str, set[str]]:
        return self.modules.table_names()

    def lay_foundations(self, component: Component, connection: Any, metadata: Any) -> bool:
        return self.modules.lay_foundations(component, connection, metadata)

    # --- history -------------------------------------------------------------------------

    @cached_property
    def script(self) -> Any:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        try:
            return ScriptDirectory.from_config(self.alembic_config())
        except CommandError as exc:
            raise BundleError(f"bundle's Alembic history is broken: {exc}") from None

    @cached_property
    def branches(self) -> History:
        """The checked revision graph (declared heads, owners, positions)."""
        return read_history(self.manifest, self.script)

    def check_handoff(self) -> None:
        check_handoff(self.manifest, self.branches)

    # --- the index -----------------------------------------------------------------------

    def write_index(self) -> Path:
        return index.write_index(self.manifest, self.branches, self.table_names())

    def load_index(self) -> bool:
        """Take the history and the table names from a current index."""
        found = index.read_index(self.manifest)
        if found is None:
            return False
        history, tables = found
        self.__dict__["branches"] = history
        self.modules.use_table_names(tables)
        return True

    # --- Alembic -------------------------------------------------------------------------

    def alembic_config(self, url: Any = None, **attributes: Any) -> Any:
        from alembic.config import Config

        cfg = Config(stdout=sys.stdout)  # Alembic's default is the stdout of its import time
        cfg.set_main_option("script_location", str(ALEMBIC_ENV_DIR))
        cfg.set_main_option("path_separator", "os")
        # every shipped component, enabled or not: a stamped revision must always resolve
        folders = [str(f) for c in self.manifest.components for f in c.versions]
        cfg.set_main_option("version_locations", os.pathsep.join(folders))
        cfg.set_main_option("version_table", self.manifest.version_table.name)
        if self.manifest.version_table.schema is not None:
            cfg.set_main_option("version_table_schema", self.manifest.version_table.schema)
        if url is not None:
            plain = url.render_as_string(hide_password=False)
            cfg.set_main_option("sqlalchemy.url", plain.replace("%", "%%"))
        cfg.attributes.update(attributes)
        return cfg
