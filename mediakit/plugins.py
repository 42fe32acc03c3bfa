"""Plugin discovery: the ``mediakit`` entry-point group, one plugin at a time, failures isolated.

A plugin that fails to import, or implements a hook that does not exist, is reported and skipped;
it never breaks the host. Any plugin, the built-ins included, can be disabled by name.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Iterable

import pluggy

from . import hookspecs
from .errors import PluginLoadError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mediakit"
DISABLE_ENV = "MEDIAKIT_DISABLE_PLUGINS"

#: Which stage each hook belongs to, for ``mediakit plugins list``.
HOOK_STAGES = {
    "mediakit_make_demuxer": "demux",
    "mediakit_make_featurizer": "features",
    "mediakit_register_models": "model",
    "mediakit_load_model_path": "model",
    "mediakit_model_weights": "model",
    "mediakit_list_models": "model",
    "mediakit_register_decoders": "decode",
    "mediakit_register_writers": "writer",
    "mediakit_register_runners": "runner",
    "mediakit_unavailable": "plugin",  # about the plugin itself, no stage: not shown among the stages
}
STAGE_ORDER = ("demux", "features", "model", "decode", "writer", "runner")


@dataclass(frozen=True)
class PluginInfo:
    """What ``mediakit plugins list`` shows for one plugin."""

    name: str  # entry-point name, also the name to disable it by
    module: str  # the entry point's target
    distribution: str | None  # the installed distribution that declares it
    version: str | None
    status: str  # "ok", "failed", "disabled" or "unavailable" (loaded, but a requirement is missing)
    reason: str | None = None  # why it failed, was disabled or is unavailable
    hooks: tuple[str, ...] = ()

    @property
    def stages(self) -> tuple[str, ...]:
        found = {HOOK_STAGES[h] for h in self.hooks if h in HOOK_STAGES}
        return tuple(s for s in STAGE_ORDER if s in found)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "stages": list(self.stages),
            "hooks": list(self.hooks),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PluginHost:
    """A plugin manager with the plugins it found, and what became of each."""

    pm: pluggy.PluginManager
    plugins: tuple[PluginInfo, ...] = field(default=())

    @property
    def failed(self) -> tuple[PluginInfo, ...]:
        return tuple(p for p in self.plugins if p.status == "failed")


def new_plugin_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows the mediakit hook specs."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def disabled_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[str, ...]:
    """Plugin names listed in ``MEDIAKIT_DISABLE_PLUGINS`` (comma-separated)."""
    raw = environ.get(DISABLE_ENV, "")
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def load_plugins(
    disabled: Iterable[str] = (),
    *,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> PluginHost:
    """Discover and register every plugin of the ``mediakit`` entry-point group.

    :param disabled: plugin names not to load (the built-ins are plugins like any other).
    :param entry_points: for tests; defaults to the installed distributions' entry points.
    """
    pm = new_plugin_manager()
    blocked = set(disabled)
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    infos: list[PluginInfo] = []
    seen: dict[str, PluginInfo] = {}
    for ep in entry_points:
        dist_name, version = _distribution_of(ep)
        earlier = seen.get(ep.name)
        if earlier is not None:
            if (earlier.distribution, earlier.module) == (dist_name, ep.value):
                continue  # the same distribution found twice on sys.path
            reason = f"duplicate plugin name {ep.name!r}: already provided by {earlier.distribution or earlier.module}"
            log.warning("plugin %r from %s skipped: %s", ep.name, dist_name, reason)
            infos.append(PluginInfo(ep.name, ep.value, dist_name, version, "failed", reason))
            continue
        info = _load_one(pm, ep, dist_name, version, blocked)
        seen[ep.name] = info
        infos.append(info)
    return PluginHost(pm=pm, plugins=tuple(infos))


def register_plugin(pm: pluggy.PluginManager, plugin: object, name: str) -> tuple[str, ...]:
    """Register ``plugin`` under ``name``; return the hooks it implements.

    Raises :class:`PluginLoadError` naming the plugin when it implements a hook that does not exist
    or a hook with the wrong arguments; the plugin is then left unregistered.
    """
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as err:
        raise PluginLoadError(f"plugin {name!r}: {err}") from err
    unknown = sorted(
        caller.name for caller in (pm.get_hookcallers(plugin) or []) if caller.spec is None
    )
    if unknown:
        pm.unregister(plugin)
        raise PluginLoadError(f"plugin {name!r} implements unknown hook(s): {', '.join(unknown)}")
    return tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or []))


def _load_one(
    pm: pluggy.PluginManager,
    ep: metadata.EntryPoint,
    dist_name: str | None,
    version: str | None,
    blocked: set[str],
) -> PluginInfo:
    if ep.name in blocked:
        pm.set_blocked(ep.name)
        return PluginInfo(ep.name, ep.value, dist_name, version, "disabled", "disabled by the user")
    try:
        plugin = ep.load()
    except Exception as err:  # any import-time failure of third-party code
        reason = f"import failed: {type(err).__name__}: {err}"
        log.warning("plugin %r (%s) skipped: %s", ep.name, dist_name or ep.value, reason)
        return PluginInfo(ep.name, ep.value, dist_name, version, "failed", reason)
    try:
        hooks = register_plugin(pm, plugin, ep.name)
    except PluginLoadError as err:
        log.warning("plugin %r (%s) skipped: %s", ep.name, dist_name or ep.value, err)
        return PluginInfo(ep.name, ep.value, dist_name, version, "failed", str(err))
    missing = unavailable_reason(pm, plugin)
    if missing is not None:
        return PluginInfo(ep.name, ep.value, dist_name, version, "unavailable", missing, hooks)
    return PluginInfo(ep.name, ep.value, dist_name, version, "ok", None, hooks)


def unavailable_reason(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """What ``plugin``'s own ``mediakit_unavailable`` hook says (``None``: it can work, or it has no such hook)."""
    for impl in pm.hook.mediakit_unavailable.get_hookimpls():
        if impl.plugin is plugin:
            try:
                reason = impl.function()
            except Exception as err:  # a plugin's bug in its own check
                return f"its availability check failed: {type(err).__name__}: {err}"
            return None if reason is None else " ".join(str(reason).split())
    return None


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version
