"""Chinese script conversion (Simplified <-> Traditional) with OpenCC."""

from __future__ import annotations

import functools
from typing import Callable

from mediakit.errors import ConfigError, StageError

SCRIPTS = {"simplified": "t2s", "traditional": "s2t"}
CHINESE = {"zh", "yue"}


@functools.lru_cache(maxsize=2)
def converter(script: str) -> Callable[[str], str]:
    """A text converter to ``script`` (simplified or traditional)."""
    try:
        config = SCRIPTS[script]
    except KeyError as err:
        raise ConfigError(f"zh_script must be one of {', '.join(SCRIPTS)}, got {script!r}") from err
    try:
        import opencc
    except ImportError as err:
        raise StageError("zh_script needs the opencc package: pip install opencc") from err
    return opencc.OpenCC(config).convert
