"""Parse the input dump ffmpeg prints for ``ffmpeg -i FILE`` into a :class:`~mediakit.records.MediaInfo`.

imageio-ffmpeg ships no ffprobe, so this reads the lines people read::

    Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'talk.mp4':
      Duration: 00:00:11.00, start: 0.000000, bitrate: 139 kb/s
      Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s (default)
        Metadata:
          title           : Commentary

The dump is also on stderr when decoding fails, so the same parser lists the streams an input has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from mediakit.records import MediaInfo, StreamInfo

_INPUT = re.compile(r"^Input #0, (?P<format>.+?), from '(?P<name>.*)':\s*$")
_STREAM = re.compile(
    r"^(?P<indent>\s+)Stream #\d+:(?P<index>\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\((?P<lang>[^)]*)\))?"
    r":\s*(?P<type>\w+):\s*(?P<desc>.*)$"
)
_DISPOSITION = re.compile(
    r"\s*\((default|dub|original|comment|lyrics|karaoke|forced|hearing impaired|visual impaired|clean effects"
    r"|attached pic|timed thumbnails|non[- ]diegetic|captions|descriptions|metadata|dependent|still image"
    r"|multilayer)\)\s*$"
)
_SECTION = re.compile(r"^[A-Z][a-z]+(?: [a-z]+)*:$")  # "Metadata:", "Side data:", "Chapters:"
_METADATA_ENTRY = re.compile(r"^\s+(?P<key>[^:]+?)\s*:\s?(?P<value>.*)$")
_CLOCK = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?) (k|M)?b/s$")
_HZ = re.compile(r"^(\d+) Hz$")
_SIZE = re.compile(r"^(\d+)x(\d+)\b")
_N_CHANNELS = re.compile(r"^(\d+) channels\b")

#: Channel counts of ffmpeg's named layouts (libavutil/channel_layout.c).
LAYOUT_CHANNELS = {
    "mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4, "quad": 4, "quad(side)": 4,
    "3.1": 4, "5.0": 5, "5.0(side)": 5, "4.1": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.0(front)": 6,
    "3.1.2": 6, "hexagonal": 6, "6.1": 7, "6.1(back)": 7, "6.1(front)": 7, "7.0": 7, "7.0(front)": 7,
    "7.1": 8, "7.1(wide)": 8, "7.1(wide-side)": 8, "5.1.2": 8, "7.1(top)": 8, "octagonal": 8, "cube": 8,
    "5.1.4": 10, "7.1.2": 10, "7.1.4": 12, "7.2.3": 12, "9.1.4": 14, "hexadecagonal": 16, "binaural": 2,
    "downmix": 2, "22.2": 24,
}  # fmt: skip


def parse_input_dump(text: str, source: str) -> MediaInfo | None:
    """Return what the ``Input #0`` block of ffmpeg's stderr says, or ``None`` when there is none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _INPUT.match(line)), None)
    if start is None:
        return None
    container = _INPUT.match(lines[start]).group("format")  # type: ignore[union-attr]
    duration = start_time = bit_rate = None
    streams: list[_Stream] = []
    current: _Stream | None = None
    section = ""  # the sub-block an indented line belongs to: "metadata", "side data", "chapters"...
    for line in lines[start + 1 :]:
        if not line[:1].isspace():  # the dump ended (Output #0, Stream mapping, an error...)
            if line.startswith("[") and " @ 0x" in line:
                continue  # a log line from a demuxer or decoder, printed in the middle of the dump
            break
        stripped = line.strip()
        stream = _STREAM.match(line)
        if stream:
            current = _Stream.parse(stream)
            streams.append(current)
            section = ""
        elif stripped.startswith("Duration:"):
            duration, start_time, bit_rate = _duration_line(stripped)
        elif _SECTION.match(stripped):
            section = stripped[:-1].lower()
        elif stripped.startswith(("Chapter #", "Program ")):
            current, section = None, ""
        elif section == "metadata" and current is not None:
            entry = _METADATA_ENTRY.match(line)
            if entry:
                current.metadata.setdefault(entry.group("key").lower(), entry.group("value").strip())
    return MediaInfo(
        source=source,
        container=container,
        duration=duration,
        start_time=start_time,
        bit_rate=bit_rate,
        streams=tuple(s.info() for s in streams),
    )


def no_audio_message(info: MediaInfo) -> str:
    """Why ``info`` cannot be transcribed: it has no audio stream (and what it has instead)."""
    if info.container == "tty":  # ffmpeg shows text files (.txt, .ans...) as ANSI-art video
        return f"{info.source}: a text file, not media (ffmpeg reads it as ANSI art, with no audio stream)"
    return f"{info.source}: no audio stream; it has: {describe_streams(info)}"


def missing_stream_message(info: MediaInfo, audio_stream: int) -> str:
    """``audio_stream`` is past the last audio stream: say which there are."""
    audio = info.audio_streams
    listed = ", ".join(f"[{k}] {describe_stream(s, audio_only=True)}" for k, s in enumerate(audio))
    return f"{info.source}: no audio stream {audio_stream} (audio streams count from 0); it has {len(audio)}: {listed}"


def describe_streams(info: MediaInfo) -> str:
    """One line listing every stream, for error messages: ``#0 video h264 64x48, #1 audio aac 44100 Hz stereo eng``."""
    return ", ".join(describe_stream(s) for s in info.streams) or "none"


def describe_stream(s: StreamInfo, audio_only: bool = False) -> str:
    """``#1 audio aac 44100 Hz stereo eng``; ``audio_only`` drops the index and type: ``aac 44100 Hz stereo eng``."""
    parts = [s.codec] if audio_only else [f"#{s.index}", s.type, s.codec]
    if s.width and s.height:
        parts.append(f"{s.width}x{s.height}")
    if s.sample_rate:
        parts.append(f"{s.sample_rate} Hz")
    if s.channel_layout:
        parts.append(s.channel_layout)
    if s.language:
        parts.append(s.language)
    if s.title:
        parts.append(repr(s.title))
    return " ".join(parts)


def default_audio_index(info: MediaInfo) -> int | None:
    """The audio stream ffmpeg maps when told nothing: default disposition first, then most channels.

    Returns its position among the audio streams (what ``-map 0:a:N`` and ``audio_stream`` count).
    """
    audio = info.audio_streams
    if not audio:
        return None
    scores = [(s.default, s.channels or 0, -k) for k, s in enumerate(audio)]
    return -max(scores)[2]


@dataclass
class _Stream:
    index: int
    type: str
    codec: str
    language: str | None
    default: bool
    parts: list[str]
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, match: re.Match[str]) -> "_Stream":
        desc = match.group("desc")
        dispositions = []
        while found := _DISPOSITION.search(desc):
            dispositions.append(found.group(1))
            desc = desc[: found.start()]
        parts = _split_top_level(desc)
        codec = parts[0].split()[0] if parts and parts[0].split() else "unknown"
        language = match.group("lang")
        return cls(
            index=int(match.group("index")),
            type=match.group("type").lower(),
            codec=codec,
            language=None if language in (None, "", "und") else language,
            default="default" in dispositions,
            parts=parts[1:],
        )

    def info(self) -> StreamInfo:
        stream = StreamInfo(
            index=self.index,
            type=self.type,
            codec=self.codec,
            language=self.language,
            default=self.default,
            title=self.metadata.get("title") or None,
            duration=_clock(self.metadata.get("duration", "")),
        )
        if self.type == "audio":
            stream = replace(stream, **_audio_fields(self.parts))
        elif self.type == "video":
            stream = replace(stream, **_video_fields(self.parts))
        return stream


def _audio_fields(parts: list[str]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for k, part in enumerate(parts):
        hz = _HZ.match(part)
        if hz and "sample_rate" not in fields:
            fields["sample_rate"] = int(hz.group(1))
            if k + 1 < len(parts):  # the layout follows the rate: "mono", "5.1(side)", "3 channels"
                layout = parts[k + 1]
                channels = _channels(layout)
                if channels is not None:
                    fields["channel_layout"], fields["channels"] = layout, channels
        elif (rate := _bit_rate(part)) is not None:
            fields["bit_rate"] = rate
    return fields


def _video_fields(parts: list[str]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for part in parts:
        size = _SIZE.match(part)
        if size and "width" not in fields:
            fields["width"], fields["height"] = int(size.group(1)), int(size.group(2))
        elif (rate := _bit_rate(part)) is not None:
            fields["bit_rate"] = rate
    return fields


def _channels(layout: str) -> int | None:
    if layout in LAYOUT_CHANNELS:
        return LAYOUT_CHANNELS[layout]
    counted = _N_CHANNELS.match(layout)
    if counted:
        return int(counted.group(1))
    if re.fullmatch(r"[A-Z]+[A-Za-z0-9]*(\+[A-Z]+[A-Za-z0-9]*)+", layout):  # a custom layout: FL+FR+LFE
        return layout.count("+") + 1
    return None


def _duration_line(line: str) -> tuple[float | None, float | None, int | None]:
    # "Duration: 00:00:11.00, start: 0.000000, bitrate: 139 kb/s" (start and bitrate may be missing or N/A)
    values: dict[str, str] = {}
    for part in line.split(", "):
        key, _, value = part.partition(": ")
        values[key.strip().lower()] = value.strip()
    duration = _clock(values.get("duration", ""))
    try:
        start = float(values["start"]) if "start" in values else None
    except ValueError:
        start = None
    return duration, start, _bit_rate(values.get("bitrate", ""))


def _clock(value: str) -> float | None:
    found = _CLOCK.match(value.strip())
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _bit_rate(value: str) -> int | None:
    found = _RATE.match(value.strip())
    if not found:
        return None
    scale = {"k": 1000, "M": 1_000_000, None: 1}[found.group(2)]
    return int(round(float(found.group(1)) * scale))


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets: ``yuv420p(tv, bt709)`` stays one part."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current).strip())
    return [p for p in parts if p]
