"""Coverage and repair pieces without a model (issue 24): speech stretches from Silero's probabilities,
what words leave uncovered, the merge order, and the repaired flag in the JSON output."""

from __future__ import annotations

import json

import numpy as np

from mediakit.config import DecodeOptions
from mediakit.records import Segment, Transcript
from mediakit_decode.coverage import SpeechMap, Stretch, accounts, covered_spans, uncovered, within
from mediakit_decode.repair import merge
from mediakit_decode.segments import Draft

FRAME = 0.032


def speech_map(pattern: list[tuple[float, float]], duration: float = 20.0) -> SpeechMap:
    """Probabilities from (seconds, probability) steps: each holds until the next."""
    probs = np.zeros(int(duration / FRAME), dtype=np.float32)
    for (start, p), (end, _) in zip(pattern, pattern[1:] + [(duration, 0.0)]):
        probs[int(start / FRAME) : int(end / FRAME)] = p
    return SpeechMap(probs, FRAME, duration)


def test_quiet_speech_is_a_stretch_but_not_a_sure_one():
    speech = speech_map([(0.0, 0.0), (2.0, 0.9), (5.0, 0.0), (8.0, 0.2), (10.0, 0.0)])
    stretches = speech.stretches()
    assert [(round(s.start, 1), round(s.end, 1), s.sure) for s in stretches] == [(1.8, 5.2, True), (7.8, 10.2, False)]


def test_speech_holds_through_low_probabilities_once_started():
    # whispering: 0.2 at the onset, then 0.05 for two seconds; still one stretch
    speech = speech_map([(0.0, 0.0), (1.0, 0.2), (1.5, 0.05), (3.5, 0.0)])
    assert [(round(s.start, 1), round(s.end, 1)) for s in speech.stretches()] == [(0.8, 3.7)]


def test_noise_under_the_threshold_is_no_stretch():
    assert speech_map([(0.0, 0.1)]).stretches() == []


def test_words_leave_the_skipped_sentence_uncovered():
    speech = speech_map([(0.0, 0.0), (1.0, 1.0), (9.0, 0.0)])
    words = [(1.0 + 0.4 * i, 1.3 + 0.4 * i) for i in range(5)]  # 1.0 .. 3.0 s has words, 3.0 .. 9.0 none
    gaps = uncovered(speech, speech.stretches(), covered_spans(words))
    assert [(round(g.start, 1), round(g.end, 1), g.sure) for g in gaps] == [(3.1, 9.2, True)]


def test_a_long_word_covers_only_its_ends_and_pauses_are_not_gaps():
    speech = speech_map([(0.0, 0.0), (1.0, 1.0), (6.0, 0.0)])
    # one word stretched over 1..6 s by the alignment: its middle is not covered
    assert uncovered(speech, speech.stretches(), covered_spans([(1.0, 6.0)]))
    # words every 0.6 s with short pauses: nothing is uncovered
    words = [(0.8 + 0.6 * i, 1.2 + 0.6 * i) for i in range(10)]
    assert uncovered(speech, speech.stretches(), covered_spans(words)) == []


def test_within_keeps_the_requested_ranges_only():
    speech = speech_map([(0.0, 1.0)], duration=10.0)
    cut = within(speech, speech.stretches(), [(2.0, 4.0), (6.0, 7.0)])
    assert [(s.start, s.end) for s in cut] == [(2.0, 4.0), (6.0, 7.0)]


def test_a_segment_written_over_two_sentences_does_not_account_for_its_span():
    # tiny.en on falsetto then read speech: one sentence's 22 tokens over both clips' 10.8 s
    over = Draft(seek=0, start=0.0, end=10.8, tokens=[], text=" Mr. Quilter")
    assert not accounts([over], [list(range(22))])
    # read speech (3 to 4 tokens a second), a short tail, and a sentence ending in a pause all do
    read = Draft(seek=0, start=0.0, end=4.68, tokens=[], text=" There is")
    tail = Draft(seek=0, start=4.68, end=5.68, tokens=[], text=" he was.")
    paused = Draft(seek=0, start=5.68, end=13.44, tokens=[], text=" ma'am")
    assert accounts([read, tail, paused], [list(range(18)), [1, 2, 3], list(range(18))])
    assert not accounts([read, over], [list(range(18)), list(range(22))])  # one is enough to align the window


class FixedWords:
    def __init__(self, spans):
        self.spans = spans

    def words_of(self, draft):
        return self.spans.get(id(draft))


def test_merge_puts_repairs_where_their_words_are_and_cuts_back_overlaps():
    # the seek loop's segment claims 0..10.8 s but its words start at 4.2 s: the repair (0.7..2.7) goes first
    late = Draft(seek=0, start=0.0, end=10.8, tokens=[], text=" Mr. Quilter")
    after = Draft(seek=0, start=10.8, end=15.0, tokens=[], text=" Had he")
    repaired = Draft(seek=0, start=0.7, end=2.7, tokens=[], text=" I really")
    words = FixedWords({id(late): (4.2, 10.5), id(after): (10.9, 14.8), id(repaired): (0.8, 2.6)})
    merged = merge([late, after], [repaired], words)
    assert [d.text for d in merged] == [" I really", " Mr. Quilter", " Had he"]
    assert late.start >= repaired.end


def test_json_has_the_repaired_key_only_on_repaired_segments():
    plain = Segment(id=0, seek=0, start=0.0, end=1.0, text=" a")
    fixed = Segment(id=1, seek=0, start=1.0, end=2.0, text=" b", repaired=True)
    data = json.loads(json.dumps(Transcript(text=" a b", segments=(plain, fixed), language="en").to_dict()))
    assert "repaired" not in data["segments"][0]  # openai-whisper's keys, byte for byte
    assert data["segments"][1]["repaired"] is True
    assert Segment.from_dict(data["segments"][1]).repaired and not Segment.from_dict(data["segments"][0]).repaired


def test_repair_is_on_by_default_and_can_be_turned_off():
    assert DecodeOptions().repair is True
    assert DecodeOptions(repair=False).repair is False


def test_stretch_duration():
    assert Stretch(1.0, 3.5, True).duration == 2.5


def test_claimed_windows_are_aligned_from_their_kept_encoder_outputs(monkeypatch):
    """A window left unaligned (its text accounts for it) is aligned later from its kept encoder output;
    only windows whose output was dropped (beyond the budget, oldest first) are encoded again."""
    import torch
    from types import SimpleNamespace

    from mediakit_decode import coverage

    aligned_from = []

    def fake_word_spans(runtime, tokenizer, tokens, features, size, state=None):
        aligned_from.append(float(features[0, 0]))
        return [(" word", len(tokens), 0.0, 1.0)]

    class Job:
        tokenizer = SimpleNamespace(eot=50257)
        frames_per_second = 100
        runtime = None

        def __init__(self):
            self.encoded = []

        def encode_ranges(self, source, ranges):
            self.encoded.append(ranges)
            return torch.zeros(1, 4, 2)

    monkeypatch.setattr(coverage, "word_spans", fake_word_spans)
    monkeypatch.setattr(coverage, "KEPT_FEATURES_BYTES", 2 * 4 * 2 * 4)  # two windows' (4, 2) float32 outputs
    job = Job()
    words = coverage.WordSpans(job, defer=True)
    for i in range(3):
        draft = Draft(seek=i * 3000, start=i * 30.0, end=i * 30.0 + 3.0, tokens=list(range(10)), text=" read speech")
        words.observe(i * 30.0, 3000, torch.full((4, 2), float(i + 1)), [draft])
    assert len(words.claimed) == 3 and words.aligned == 0

    assert words.align_near(None, [Stretch(0.0, 95.0, True)]) == 3
    assert job.encoded == [[(0, 3000)]]  # the oldest output was dropped: window 0 alone is encoded again
    assert words.encoded_again == 1 and words.aligned == 3
    assert aligned_from == [0.0, 2.0, 3.0]  # windows 1 and 2 from the outputs the seek loop had


def test_batched_mode_keeps_the_outputs_of_windows_the_repair_aligns(monkeypatch):
    import torch
    from types import SimpleNamespace

    from mediakit_decode import repair

    monkeypatch.setattr(repair, "KEPT_FEATURES_BYTES", 4 * 2 * 4)  # one (4, 2) float32 output
    job = SimpleNamespace(tokenizer=SimpleNamespace(eot=50257), primed={})
    keep = repair.keep_unaccounted(job)
    read = Draft(seek=0, start=0.0, end=3.0, tokens=list(range(12)), text=" read speech")  # 4 tokens/s
    skipped = Draft(seek=3000, start=30.0, end=50.0, tokens=[1, 2, 3], text=" one sentence over two")
    keep(0, 3000, torch.ones(4, 2), [read])
    assert job.primed == {}  # its text accounts for its span: never aligned
    features = torch.ones(4, 2)
    keep(3000, 3000, features, [skipped])
    features += 1  # a row of the batch: reused by the next batch
    assert list(job.primed) == [(3000, 3000)] and torch.equal(job.primed[(3000, 3000)], torch.ones(4, 2))
    keep(6000, 3000, torch.ones(4, 2), [Draft(seek=6000, start=60.0, end=80.0, tokens=[1, 2, 3], text=" again")])
    assert list(job.primed) == [(3000, 3000)]  # beyond the budget: encoded again if aligned
