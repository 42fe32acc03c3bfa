"""docs/hooks.md documents every hook with the signature it really has."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mediakit import hookspecs
from mediakit.plugins import HOOK_STAGES

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def _specs() -> dict[str, object]:
    return {n: f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("mediakit_")}


def test_every_hook_has_a_section_with_its_signature():
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"(?ms)^## (mediakit_\w+)\n(.*?)(?=^## |\Z)", text))
    for name, fn in _specs().items():
        assert name in sections, f"docs/hooks.md has no section for {name}"
        expected = f"def {name}{inspect.signature(fn)}".replace("'", "")
        assert expected in sections[name], f"docs/hooks.md shows another signature for {name}: want {expected}"
    assert set(sections) <= set(_specs()), f"docs/hooks.md documents hooks that do not exist: {set(sections) - set(_specs())}"


def test_every_hook_has_a_full_docstring_and_a_stage():
    for name, fn in _specs().items():
        doc = inspect.getdoc(fn) or ""
        assert "Called" in doc and "Built-in" in doc and (":return:" in doc), f"{name} docstring is incomplete"
        assert name in HOOK_STAGES, f"{name} belongs to no stage"
