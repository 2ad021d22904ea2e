"""The one list of families: the built-in ones, plus any installed package's, found and loaded lazily.

A third-party family is a package whose `pyproject.toml` declares::

    [project.entry-points."longsynth.generators"]
    toy = "toy_family:ToyGenerator"

Nothing is imported until a family is asked for, so `longsynth --help` does not pay for every
family's imports. Two families with one name are refused with an error naming both, rather than one
silently replacing the other; a built-in family is also declared as an entry point of this package,
and the same target declared twice is one family.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass

from ..errors import PluginError, SpecError
from .base import Generator

GROUP = "longsynth.generators"
BUILT_IN = {
    "babilong": "longsynth.generators.babilong:BabilongGenerator",
    "holobench": "longsynth.generators.holobench:HoloBenchGenerator",
    "longbio": "longsynth.generators.longbio:LongBioGenerator",
    "needle": "longsynth.generators.needle:NeedleGenerator",
    "needlebench": "longsynth.generators.needlebench:NeedleBenchGenerator",
    "ruler": "longsynth.generators.ruler:RulerGenerator",
    "nextlong": "longsynth.generators.nextlong:NextLongGenerator",
}


@dataclass(frozen=True)
class Source:
    target: str  # "module:attribute"
    origin: str  # who declares it: "longsynth" or the distribution's name


class Registry:
    """Families by name: declared (built-in table and entry points), loaded on first use."""

    def __init__(self, built_in: dict[str, str], group: str):
        self.built_in = built_in
        self.group = group
        self._sources: dict[str, list[Source]] | None = None
        self._loaded: dict[str, type[Generator]] = {}

    def refresh(self) -> None:
        """Forget what was found (after installing a family in a running process)."""
        self._sources = None
        self._loaded = {}

    def _declared(self) -> dict[str, list[Source]]:
        if self._sources is None:
            sources: dict[str, list[Source]] = {n: [Source(t, "longsynth")] for n, t in self.built_in.items()}
            for entry in importlib.metadata.entry_points(group=self.group):
                origin = entry.dist.name if getattr(entry, "dist", None) is not None else "an unknown package"
                known = sources.setdefault(entry.name, [])
                if all(s.target != entry.value for s in known):
                    known.append(Source(entry.value, origin))
            self._sources = dict(sorted(sources.items()))
        return self._sources

    def names(self) -> list[str]:
        return list(self._declared())

    def get(self, name: str) -> type[Generator]:
        if name in self._loaded:
            return self._loaded[name]
        sources = self._declared().get(name)
        if not sources:
            raise SpecError(f"unknown generator {name!r}; known generators: {', '.join(self.names())}")
        if len(sources) > 1:
            both = " and ".join(f"{s.target} (from {s.origin})" for s in sources)
            raise PluginError(f"two families are named {name!r}: {both}; uninstall one of the packages")
        cls = self._load(name, sources[0])
        self._loaded[name] = cls
        return cls

    def all(self) -> dict[str, type[Generator]]:
        return {name: self.get(name) for name in self.names()}

    @staticmethod
    def _load(name: str, source: Source) -> type[Generator]:
        module_name, _, attribute = source.target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"family {name!r} ({source.target}, from {source.origin}) does not load: {type(exc).__name__}: {exc}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Generator)):
            raise PluginError(f"family {name!r} ({source.target}) is not a longsynth Generator subclass")
        if getattr(cls, "name", None) != name:
            raise PluginError(
                f"family {source.target} is registered as {name!r} but calls itself {getattr(cls, 'name', None)!r}"
            )
        return cls


REGISTRY = Registry(BUILT_IN, GROUP)


def get_generator_class(name: str) -> type[Generator]:
    return REGISTRY.get(name)
