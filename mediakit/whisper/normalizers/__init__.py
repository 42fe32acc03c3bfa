"""openai-whisper's ``whisper.normalizers``: the text normalizers its WER figures are computed with."""

from .basic import BasicTextNormalizer
from .english import EnglishTextNormalizer

__all__ = ["BasicTextNormalizer", "EnglishTextNormalizer"]
