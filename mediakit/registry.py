"""Named stages collected from the ``mediakit_register_*`` hooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import pluggy

from .errors import PluginLoadError, StageNotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """One named factory and the plugin that registered it."""

    name: str
    factory: Callable[..., Any]
    plugin: str
    extra: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True)
class Registry:
    """Every name registered for one stage kind (``model``, ``decoder``, ``output format``)."""

    kind: str
    entries: tuple[Registration, ...]

    @property
    def names(self) -> list[str]:
        return sorted(e.name for e in self.entries)

    def get(self, name: str) -> Registration:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise StageNotFoundError(self.kind, name, self.names)


def collect(pm: pluggy.PluginManager, hook_name: str, kind: str) -> Registry:
    """Call ``hook_name(register)`` on every plugin, in pluggy's call order; the first name wins.

    A plugin whose registration hook raises is reported and skipped, like one that fails to import.
    """
    caller = getattr(pm.hook, hook_name)
    entries: dict[str, Registration] = {}
    # pluggy calls implementations from the end of this list: installed plugins before trylast built-ins.
    for impl in reversed(caller.get_hookimpls()):
        plugin_name = impl.plugin_name

        def register(name: str, factory: Callable[..., Any], **extra: Any) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginLoadError(f"plugin {plugin_name!r} registered an invalid {kind} {name!r}")
            if name in entries:
                log.debug("%s %r from %r shadowed by %r", kind, name, plugin_name, entries[name].plugin)
                return
            entries[name] = Registration(name, factory, plugin_name, tuple(sorted(extra.items())))

        try:
            impl.function(register=register)
        except Exception as err:  # a third-party plugin's bug must not break the host
            log.warning("plugin %r failed in %s and was skipped: %s: %s", plugin_name, hook_name, type(err).__name__, err)
    return Registry(kind, tuple(entries.values()))
