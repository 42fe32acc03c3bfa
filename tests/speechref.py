"""What the tests compare transcripts with: the JFK clip's reference and the normalisation the issues use.

A module of its own (not ``conftest``): several test folders have a conftest.py, and ``from conftest
import ...`` would get whichever of them was imported last.
"""

from __future__ import annotations

import re

JFK_REFERENCE = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def normalize(text: str) -> str:
    """Lower-case, drop punctuation, collapse spaces: how the issue compares transcripts."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split())
