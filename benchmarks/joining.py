"""Long recordings joined from the shared speech set's clips, and per-clip scoring of their transcripts.

Used by ``benchmarks/joined.py`` and by the tests of issue 24 (speech a long recording must not lose):

    clips = load_clips(SHARED, ["en_picovoice_test.wav", "en_mfa_spontaneous_two_channel_stereo.wav"])
    joined = join([clips[n] for n in names], gaps=[Gap("noise", 2.0)])
    scores = score_clips(joined, transcript.text)   # one ClipScore per clip, errors attributed by alignment

Gaps between clips are silence, white noise, synthetic music (chords with harmonics, notes changing
every half second) or a non-speech clip of the set; all are generated from a fixed seed.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import english  # noqa: E402

RATE = 16000


@dataclass(frozen=True)
class Clip:
    name: str
    samples: np.ndarray  # (n,) float32, 16 kHz mono
    reference: str


@dataclass(frozen=True)
class Gap:
    kind: str  # silence, noise, music, or a file name of the set (non-speech)
    seconds: float
    level_db: float = -30.0  # RMS of noise and music, dBFS


@dataclass(frozen=True)
class Joined:
    samples: np.ndarray  # (n,) float32, 16 kHz mono
    clips: tuple[Clip, ...]
    spans: tuple[tuple[float, float], ...]  # (start s, end s) of each clip in the recording
    gaps: tuple[tuple[float, float, str], ...]  # (start s, end s, kind) of each non-speech gap

    @property
    def duration(self) -> float:
        return len(self.samples) / RATE


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def read_16k(path: Path) -> np.ndarray:
    """The first audio stream of ``path`` as 16 kHz mono float32 (ffmpeg's mixdown)."""
    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    pcm = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0


def read_manifest(data: Path) -> dict[str, dict[str, str]]:
    with open(data / "manifest.tsv", newline="", encoding="utf-8") as handle:
        return {r["file"]: r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}


def load_clips(data: Path, names: Sequence[str]) -> dict[str, Clip]:
    manifest = read_manifest(data)
    return {name: Clip(name, read_16k(data / name), manifest[name]["reference"]) for name in names}


def english_clips(data: Path) -> list[str]:
    """The set's English clips that have a reference (the long LibriVox clip has none)."""
    return [n for n, r in read_manifest(data).items() if r["language"] == "en" and r["reference"] != "-"]


def make_gap(gap: Gap, seed: int, data: Path | None = None) -> np.ndarray:
    n = int(round(gap.seconds * RATE))
    rng = np.random.default_rng(seed)
    rms = 10 ** (gap.level_db / 20)
    if gap.kind == "silence":
        return np.zeros(n, dtype=np.float32)
    if gap.kind == "noise":
        return (rng.standard_normal(n) * rms).astype(np.float32)
    if gap.kind == "music":
        return _music(n, rng, rms)
    if data is None:
        raise ValueError(f"gap {gap.kind!r} needs the data directory")
    sound = read_16k(data / gap.kind)
    reps = int(np.ceil(n / max(1, len(sound))))
    return np.tile(sound, reps)[:n].astype(np.float32)


def _music(n: int, rng: np.random.Generator, rms: float) -> np.ndarray:
    """Chords of three notes with four harmonics, a new chord every 0.5 s, soft attack and decay."""
    out = np.zeros(n, dtype=np.float64)
    note = int(0.5 * RATE)
    t = np.arange(note) / RATE
    envelope = np.minimum(1.0, t / 0.02) * np.exp(-3.0 * t)
    for start in range(0, n, note):
        root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        chord = np.zeros(note)
        for ratio in (1.0, 1.26, 1.5):
            for harmonic in range(1, 5):
                chord += np.sin(2 * np.pi * root * ratio * harmonic * t + rng.uniform(0, 2 * np.pi)) / harmonic
        piece = (chord * envelope)[: n - start]
        out[start : start + len(piece)] += piece
    out *= rms / max(1e-9, float(np.sqrt(np.mean(out**2))))
    return out.astype(np.float32)


def join(clips: Sequence[Clip], gaps: Sequence[Gap] = (Gap("silence", 0.5),), seed: int = 0, data: Path | None = None,
         lead: Gap | None = None) -> Joined:
    """``clips`` in order with ``gaps[i % len(gaps)]`` between clip i and i + 1 (and ``lead`` before the first)."""
    pieces: list[np.ndarray] = []
    spans, gap_spans = [], []
    position = 0

    def add_gap(gap: Gap, index: int) -> None:
        nonlocal position
        sound = make_gap(gap, seed * 1000 + index, data)
        pieces.append(sound)
        gap_spans.append((position / RATE, (position + len(sound)) / RATE, gap.kind))
        position += len(sound)

    if lead is not None:
        add_gap(lead, 999)
    for i, clip in enumerate(clips):
        if i > 0:
            add_gap(gaps[(i - 1) % len(gaps)], i)
        pieces.append(clip.samples)
        spans.append((position / RATE, (position + len(clip.samples)) / RATE))
        position += len(clip.samples)
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return Joined(samples.astype(np.float32), tuple(clips), tuple(spans), tuple(gap_spans))


@dataclass(frozen=True)
class ClipScore:
    name: str
    words: int  # reference words
    errors: int  # substitutions + deletions + insertions attributed to the clip
    deletions: int

    @property
    def wer(self) -> float:
        return 100.0 * self.errors / max(1, self.words)


def score_clips(joined: Joined, hypothesis: str) -> list[ClipScore]:
    """Align the whole hypothesis with the clips' references in order (English normaliser) and attribute
    each error to a clip: a substitution or deletion to its reference word's clip, an insertion to the
    clip of the reference word before it (the first clip's when none)."""
    reference: list[str] = []
    owner: list[int] = []
    for i, clip in enumerate(joined.clips):
        words = english(clip.reference).split()
        reference.extend(words)
        owner.extend([i] * len(words))
    hyp = english(hypothesis).split()
    errors = [0] * len(joined.clips)
    deletions = [0] * len(joined.clips)
    for op, ref_index in _alignment(reference, hyp):
        clip = owner[ref_index] if ref_index >= 0 else 0
        if op != "=":
            errors[clip] += 1
        if op == "d":
            deletions[clip] += 1
    totals = [owner.count(i) for i in range(len(joined.clips))]
    return [ClipScore(c.name, totals[i], errors[i], deletions[i]) for i, c in enumerate(joined.clips)]


def _alignment(ref: list[str], hyp: list[str]) -> list[tuple[str, int]]:
    """Levenshtein alignment: (op, reference index) with op in = s d i; an insertion carries the index of
    the reference word before it (-1 at the start)."""
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    ops: list[tuple[str, int]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "s", i - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            ops.append(("d", i - 1))
            i -= 1
        else:
            ops.append(("i", i - 1))
            j -= 1
    return ops[::-1]


def text_in_gaps(joined: Joined, segments) -> list[str]:
    """Texts of segments that lie wholly inside a gap (non-speech), with a 0.3 s tolerance."""
    out = []
    for seg in segments:
        for start, end, _ in joined.gaps:
            if seg.start >= start - 0.3 and seg.end <= end + 0.3 and seg.text.strip():
                out.append(seg.text.strip())
    return out


def far_field(clip: Clip, seed: int = 0, t60: float = 0.8) -> Clip:
    """The clip as heard across a room: convolved with a synthetic reverberation tail (exponentially
    decaying noise reaching -60 dB after ``t60`` seconds, direct sound kept, energy unchanged). Whispered
    and falsetto speech through it is what Silero stops calling speech."""
    rng = np.random.default_rng(seed)
    n = int(t60 * RATE)
    response = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    response[0] = 1.0
    response /= np.sqrt(np.sum(response**2))
    wet = np.convolve(clip.samples, response)[: len(clip.samples)].astype(np.float32)
    return Clip(clip.name + "+far", wet, clip.reference)
