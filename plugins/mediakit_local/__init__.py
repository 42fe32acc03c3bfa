"""The built-in ``local`` runner: the batch in this process, one input after another (the default)."""

from .runner import LocalRunner

__all__ = ["LocalRunner"]
