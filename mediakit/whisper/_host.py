"""The plugin host the compat layer runs on: discovered once per process, as ``mediakit`` does per call."""

from __future__ import annotations

from functools import lru_cache

import pluggy

from mediakit.plugins import disabled_from_env, load_plugins


@lru_cache(maxsize=1)
def _host(disabled: tuple[str, ...]):
    return load_plugins(disabled)


def plugin_manager() -> pluggy.PluginManager:
    """The installed plugins (less those named in ``MEDIAKIT_DISABLE_PLUGINS``)."""
    return _host(tuple(disabled_from_env())).pm
