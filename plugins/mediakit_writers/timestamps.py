"""Timestamps as subtitle formats spell them."""

from __future__ import annotations


def milliseconds(seconds: float) -> int:
    """Whole milliseconds, rounded half to even as openai-whisper does; negative times become 0."""
    return max(0, round(seconds * 1000.0))


def format_timestamp(seconds: float, *, always_include_hours: bool = False, decimal_marker: str = ".") -> str:
    """``[HH:]MM:SS<marker>mmm``; the hours appear when asked for or when the time reaches one hour.

    >>> format_timestamp(3725.5, decimal_marker=",")
    '01:02:05,500'
    >>> format_timestamp(65.0)
    '01:05.000'
    """
    hours, rest = divmod(milliseconds(seconds), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1_000)
    prefix = f"{hours:02d}:" if always_include_hours or hours > 0 else ""
    return f"{prefix}{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"
