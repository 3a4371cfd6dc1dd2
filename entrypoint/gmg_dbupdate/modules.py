"""The bundle's own Python: models (for bootstrap and verify) and foundations, imported by path."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import BundleError
from .manifest import Component, Manifest


def use_pythonpath(manifest: Manifest) -> None:
    """The manifest's ``pythonpath`` folders go first on ``sys.path``: models, foundations and
    revision scripts may import the bundle's own helper packages (the legacy runner gets the
    same folders in its job)."""
    for folder in reversed(manifest.pythonpath):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


class BundleModules:
    """Imports each models/foundations file once; a file that does not import is a 64."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._modules: dict[Path, ModuleType] = {}
        self._owned: dict[str, set[str]] | None = None
        use_pythonpath(manifest)

    def _define(self, models: Path | str, metadata: Any) -> None:
        """Add a component's models to ``metadata``: a file's ``define(metadata)``, or the
        tables of the MetaData (or declarative base) that ``package.module:attribute`` names."""
        if isinstance(models, Path):
            self._module(models).define(metadata)
            return
        from sqlalchemy import MetaData

        name, _, attribute = models.partition(":")
        try:
            target: Any = importlib.import_module(name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except Exception as exc:
            raise BundleError(
                f"bundle models {models} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        source = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
        if not isinstance(source, MetaData):
            raise BundleError(
                f"bundle models {models} is neither a MetaData nor a declarative base "
                f"(a {type(target).__name__})"
            )
        if not metadata.tables:  # the app's constraint naming convention, if it has one
            metadata.naming_convention = dict(source.naming_convention)
        for table in source.sorted_tables:
            if table.key not in metadata.tables:
                table.to_metadata(metadata)

    def _module(self, path: Path) -> ModuleType:
        if path not in self._modules:
            name = f"gmg_bundle_{self.manifest.name}_{path.parent.name}_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise BundleError(f"cannot load bundle module {path}")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise BundleError(
                    f"bundle module {path} failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            self._modules[path] = module
        return self._modules[path]

    def metadata(self, names: list[str] | tuple[str, ...]) -> Any:
        """One MetaData holding the models of core plus the named plugins."""
        from sqlalchemy import MetaData

        metadata = MetaData()
        for component in self.manifest.components:
            if not component.plugin or component.name in names:
                self._define(component.models, metadata)
        return metadata

    def table_names(self) -> dict[str, set[str]]:
        """Tables each component's models define (used to recognise our tables in a DB)."""
        if self._owned is None:
            from sqlalchemy import MetaData

            owned: dict[str, set[str]] = {}
            metadata = MetaData()
            for component in self.manifest.components:
                before = set(metadata.tables)
                self._define(component.models, metadata)
                owned[component.name] = set(metadata.tables) - before
            self._owned = owned
        return self._owned

    def use_table_names(self, owned: dict[str, set[str]]) -> None:
        """Take the table names from a verified index instead of importing the models."""
        self._owned = owned

    def lay_foundations(self, component: Component, connection: Any, metadata: Any) -> bool:
        if component.foundations is None:
            return False
        self._module(component.foundations).lay(connection, metadata)
        return True
