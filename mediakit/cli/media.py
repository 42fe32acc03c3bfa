"""``mediakit probe`` and ``mediakit extract``: look inside a media file, copy its audio out."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ..config import DemuxOptions
from ..pipeline import demuxer_for
from ..records import MediaInfo, StreamInfo
from .common import get_host

_SOURCE_HELP = "A media file, - for standard input, or a URL."
FfmpegOption = Annotated[
    Optional[str],
    typer.Option(
        "--ffmpeg",
        metavar="PATH",
        help="The ffmpeg binary to run, or 'bundled' for imageio-ffmpeg's [default: $MEDIAKIT_FFMPEG, else ffmpeg on PATH, else bundled].",
        show_default=False,
    ),
]


def probe(
    file: Annotated[str, typer.Argument(help=_SOURCE_HELP, show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    ffmpeg: FfmpegOption = None,
) -> None:
    """Show the container and streams of a media file (what `ffmpeg -i` tells), without decoding it."""
    info = demuxer_for(get_host().pm, file, DemuxOptions(ffmpeg=ffmpeg)).probe(file)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(format_info(info))


def extract(
    file: Annotated[str, typer.Argument(help=_SOURCE_HELP, show_default=False)],
    output: Annotated[
        Optional[str],
        typer.Option("--output", "-o", help="Output file, or a directory for <name>.<ext> [default: <name>.<ext> here]."),
    ] = None,
    audio_stream: Annotated[
        Optional[int],
        typer.Option("--audio_stream", "--audio-stream", min=0, help="Which audio stream (0 = first); default: the default stream."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    ffmpeg: FfmpegOption = None,
) -> None:
    """Copy an audio stream out without re-encoding, into a file type that fits its codec (aac -> .m4a, ...)."""
    demuxer = demuxer_for(get_host().pm, file, DemuxOptions(audio_stream=audio_stream, ffmpeg=ffmpeg))
    written = demuxer.extract(file, output, overwrite=True) if force else demuxer.extract(file, output)
    typer.echo(written)


def format_info(info: MediaInfo) -> str:
    """The facts a user reads off ``ffmpeg -i``, as an aligned plain-text table."""
    lines = [
        f"File:       {info.source}",
        f"Container:  {info.container}",
        f"Duration:   {_clock(info.duration)}",
        f"Start:      {'-' if info.start_time is None else f'{info.start_time:.3f} s'}",
        f"Bit rate:   {_rate(info.bit_rate)}",
        f"Streams:    {len(info.streams)} ({len(info.audio_streams)} audio)",
    ]
    if info.reader:
        lines.append(f"Read by:    {info.reader}")
    headers = ("#", "TYPE", "AUDIO", "CODEC", "LANG", "DETAILS", "")
    audio_position = {s.index: k for k, s in enumerate(info.audio_streams)}
    rows = [headers] + [
        (
            str(s.index),
            s.type,
            str(audio_position[s.index]) if s.index in audio_position else "-",
            s.codec,
            s.language or "-",
            _details(s),
            ", ".join(f for f in ("default" if s.default else "", repr(s.title) if s.title else "") if f),
        )
        for s in info.streams
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines.append("")
    lines.extend("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
    lines.append("")
    lines.append("AUDIO is the number --audio_stream takes.")
    return "\n".join(lines)


def _details(s: StreamInfo) -> str:
    parts = []
    if s.sample_rate:
        parts.append(f"{s.sample_rate} Hz")
    if s.channels:
        layout = f" ({s.channel_layout})" if s.channel_layout and not s.channel_layout.endswith("channels") else ""
        parts.append(f"{s.channels} ch{layout}")
    if s.width and s.height:
        parts.append(f"{s.width}x{s.height}")
    if s.bit_rate:
        parts.append(_rate(s.bit_rate))
    if s.duration is not None:
        parts.append(f"{s.duration:.2f} s")
    return ", ".join(parts) or "-"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:05.2f} ({seconds:.2f} s)"


def _rate(bits: int | None) -> str:
    return "-" if not bits else f"{bits / 1000:g} kb/s"


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
    app.command("extract")(extract)
