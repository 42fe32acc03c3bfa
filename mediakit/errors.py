"""The mediakit error family.

Every error a user can cause (bad input, unknown name, broken plugin) is a :class:`MediakitError`.
The CLI turns one into a single ``Error: ...`` line and exit status 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class MediakitError(Exception):
    """Base class of every error mediakit reports to a user."""


class ConfigError(MediakitError):
    """An option or option combination is invalid."""


class PluginLoadError(MediakitError):
    """A plugin could not be imported or registered."""


class StageNotFoundError(MediakitError):
    """No plugin provides the stage asked for (an unknown model, decoder or format name)."""

    def __init__(self, kind: str, name: str, available: list[str]):
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        listed = ", ".join(self.available) if self.available else "none installed"
        super().__init__(f"unknown {kind} {name!r}; available: {listed}")


class StageError(MediakitError):
    """A stage failed while it ran (a model that cannot load, a decoder that cannot decode)."""


class InputError(MediakitError):
    """An input file cannot be read, decoded or is not media; the message names the file."""


class ModelNotFoundError(StageNotFoundError):
    """A model name that no plugin, cache or download source can provide."""
