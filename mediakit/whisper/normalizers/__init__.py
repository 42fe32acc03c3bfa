"""openai-whisper's ``whisper.normalizers``: the text normalizers its WER figures are computed with."""

from .basic import BasicTextNormalizer as BasicTextNormalizer
from .english import EnglishTextNormalizer as EnglishTextNormalizer
