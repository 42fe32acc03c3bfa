"""Unit tests of the decode pieces on fakes: filters, search, quality checks, segments, timing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mediakit.config import DecodeOptions
from mediakit.errors import ConfigError
from mediakit_decode.filters import SuppressBlank, SuppressTokens, TimestampRules, build_filters, suppress_token_ids
from mediakit_decode.longform import clip_frames, format_timestamp
from mediakit_decode.quality import compression_ratio, find_loop, is_repeated_segment
from mediakit_decode.search import BeamSearch, GreedySearch, rank
from mediakit_decode.segments import split_window
from mediakit_decode.timing import WordTiming, dtw, median_filter, merge_punctuations
from mediakit_decode.vad import merge_regions
from test_decode_fakes import one_thread  # noqa: F401  (fixture)
from test_decode_fakes import EOT, N_VOCAB, NO_SPEECH, NO_TIMESTAMPS, SOT, TS, FakeTokenizer, ts

TOK = FakeTokenizer()


@pytest.fixture(autouse=True)
def _fake_model_on_one_thread(one_thread):
    yield


def allowed(logits: torch.Tensor) -> set[int]:
    return set(torch.nonzero(torch.isfinite(logits[0])).flatten().tolist())


# -- filters -------------------------------------------------------------------------------------


def test_suppress_minus_one_means_non_speech_symbols_plus_specials():
    ids = suppress_token_ids("-1", TOK)
    assert {1, 2, SOT, NO_SPEECH, TOK.transcribe, TOK.translate, TOK.sot_prev, TOK.sot_lm} <= set(ids)
    assert -1 not in ids and EOT not in ids and NO_TIMESTAMPS not in ids
    assert set(suppress_token_ids("5,7", TOK)) >= {5, 7} and 1 not in suppress_token_ids("5,7", TOK)
    with pytest.raises(ConfigError, match="suppress_tokens"):
        suppress_token_ids("a,b", TOK)


def test_suppress_blank_only_at_the_first_step():
    logits = torch.zeros(2, N_VOCAB)
    SuppressBlank(TOK).apply(logits, torch.empty(2, 0, dtype=torch.long))
    assert math.isinf(logits[0, 0]) and math.isinf(logits[1, EOT]) and logits[0, 5] == 0
    logits = torch.zeros(1, N_VOCAB)
    SuppressBlank(TOK).apply(logits, torch.tensor([[ts(0)]]))
    assert torch.isfinite(logits).all()
    logits = torch.zeros(1, N_VOCAB)
    SuppressTokens([3, 4]).apply(logits, torch.tensor([[5]]))
    assert allowed(logits) == set(range(N_VOCAB)) - {3, 4}


def rules(sampled: list[int], max_initial: int | None = 50) -> set[int]:
    logits = torch.zeros(1, N_VOCAB)
    logits[0, :EOT + 1] = 10.0  # text likely enough that no timestamp is forced
    TimestampRules(TOK, max_initial).apply(logits, torch.tensor([sampled], dtype=torch.long).reshape(1, -1))
    return allowed(logits)


def test_first_token_is_a_timestamp_within_the_initial_bound():
    assert rules([], max_initial=50) == set(range(TS, TS + 51))


def test_timestamps_come_in_pairs_and_never_decrease():
    after_open = rules([ts(0.0)])
    assert not any(t >= TS for t in after_open) and 5 in after_open  # text must follow an opening timestamp
    after_text = rules([ts(0.0), 5, 6])
    assert ts(0.0) not in after_text and ts(0.02) in after_text and 7 in after_text
    closing = rules([ts(0.0), 5, ts(1.0)])  # a segment just closed: the next one opens, at 1.0 or later, or end
    assert closing & set(range(0, EOT)) == set() and EOT in closing
    assert ts(0.98) not in closing and ts(1.0) in closing and ts(2.0) in closing
    after_pair = rules([ts(0.0), 5, ts(1.0), ts(1.0)])
    assert not any(t >= TS for t in after_pair) and 5 in after_pair
    assert NO_TIMESTAMPS not in after_text


def test_timestamp_forced_when_timestamps_together_beat_every_text_token():
    logits = torch.zeros(1, N_VOCAB)
    logits[0, 5] = 3.0  # one text token clearly best, but 1501 timestamps at 0 sum to more
    TimestampRules(TOK, None).apply(logits, torch.tensor([[ts(0.0), 6]]))
    assert not any(t < TS for t in allowed(logits))
    logits = torch.zeros(1, N_VOCAB)
    logits[0, 5] = 20.0
    TimestampRules(TOK, None).apply(logits, torch.tensor([[ts(0.0), 6]]))
    assert 5 in allowed(logits)


def test_filters_follow_options():
    kinds = [type(f).__name__ for f in build_filters(TOK, DecodeOptions(), without_timestamps=False, precision=0.02)]
    assert kinds == ["SuppressBlank", "SuppressTokens", "TimestampRules"]
    opts = DecodeOptions(suppress_blank=False)
    kinds = [type(f).__name__ for f in build_filters(TOK, opts, without_timestamps=True, precision=0.02)]
    assert kinds == ["SuppressTokens"]


# -- search --------------------------------------------------------------------------------------


def toy_logits(history: tuple[int, ...]) -> torch.Tensor:
    """Vocabulary 0..3 (3 = end): first 0 (p .6) or 1 (p .4); after 0 anything is even; after 1, end (p .97)."""
    probs = {(): [0.6, 0.4, 0.0, 0.0], (0,): [0.25, 0.25, 0.25, 0.25], (1,): [0.01, 0.01, 0.01, 0.97]}
    p = torch.tensor(probs.get(history, [0.0, 0.0, 0.0, 1.0])) + 1e-9
    return p.log()


def test_beam_search_finds_the_more_probable_sequence_that_greedy_misses():
    beam = BeamSearch(beam_size=2, eot=3, n_windows=1)
    for _ in range(4):
        logits = torch.stack([toy_logits(h) for h in beam.histories])
        if beam.step(logits).completed:
            break
    candidates = beam.finish()[0]
    best = candidates[rank(candidates, None)]
    assert best[0] == (1,)
    assert best[1] == pytest.approx(math.log(0.4 * 0.97), abs=1e-4)

    greedy = GreedySearch(0.0, eot=3, n_rows=1)
    for _ in range(4):
        if greedy.step(torch.stack([toy_logits(tuple(h)) for h in greedy.histories])).completed:
            break
    assert greedy.finish()[0][0][0][0] == 0  # greedy commits to the locally best first token


def test_row_by_row_top_k_picks_what_the_batched_top_k_picks_ties_included():
    from mediakit_decode.search import ROWWISE_TOPK_ROWS, top_k

    torch.manual_seed(0)
    for rows in (1, 5, ROWWISE_TOPK_ROWS, ROWWISE_TOPK_ROWS + 3):
        values = torch.randn(rows, 51865).round(decimals=1)  # many exact ties
        values[:, 1000:40000] = float("-inf")  # suppressed tokens
        values[-1, 6:] = float("-inf")  # a row with only six finite entries
        got, want = top_k(values, 6), values.topk(6, dim=-1)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_chunked_top_k_finds_torch_top_k_without_sorting_whole_rows(monkeypatch):
    import mediakit_decode.search as search

    def no_fallback(values, k):
        raise AssertionError("fell back to torch's top-k on rows without ties")

    monkeypatch.setattr(search, "_torch_top_k", no_fallback)
    generator = torch.Generator().manual_seed(1)
    for rows, vocabulary in ((1, 51865), (5, 51865), (5, 51864), (40, 51865), (3, 2000)):
        values = torch.randn(rows, vocabulary, generator=generator)
        values[0, 512:518] += 10.0  # all the best in one chunk
        values[-1, -3:] += 10.0  # the best after the last whole chunk
        values[:, 1000:1800] = float("-inf")
        got, want = search.top_k(values, 6), values.topk(6, dim=-1)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_greedy_rows_stop_at_end_of_text_and_sum_only_real_tokens():
    search = GreedySearch(0.0, eot=3, n_rows=2)
    step = search.step(torch.tensor([[0.0, 0.0, 0.0, 5.0], [5.0, 0.0, 0.0, 0.0]]))
    assert step.next_tokens == [3, 0] and not step.completed
    step = search.step(torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]))
    assert step.next_tokens == [3, 3] and step.completed
    (first,), (second,) = search.finish()
    assert first[0] == () and second[0] == (0,)


def test_a_done_window_reports_itself_and_retired_windows_keep_their_candidates_in_order():
    search = GreedySearch(0.0, eot=3, n_rows=4, group=2)  # two windows of two rows
    step = search.step(torch.tensor([[0.0, 0.0, 0.0, 5.0]] * 2 + [[5.0, 0.0, 0.0, 0.0]] * 2))
    assert step.done == (0,) and not step.completed
    search.retire(step.done)
    assert search.windows == [1] and len(search.histories) == 2
    step = search.step(torch.tensor([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]))  # live rows only
    step = search.step(torch.tensor([[0.0, 0.0, 0.0, 5.0]] * 2))
    assert step.done == (0,) and step.completed
    first, second = search.finish()
    assert [c[0] for c in first] == [(), ()] and [c[0] for c in second] == [(0, 1), (0,)]

    beam = BeamSearch(beam_size=2, eot=3, n_windows=2)
    ends, goes_on = toy_logits((1,)), toy_logits((0,))
    beam.step(torch.stack([toy_logits(())] * 4))
    step = beam.step(torch.stack([ends, ends, goes_on, goes_on]))
    assert 0 in step.done and 1 not in step.done
    beam.retire([0])
    assert beam.windows == [1] and len(beam.histories) == 2 and len(beam.finished) == 1
    beam.step(torch.stack([goes_on, goes_on]))  # window 1 alone now
    assert {c[0] for c in beam.finish()[0]} == {(0,), (1,)}  # window 0's candidates, frozen when it retired


def test_sampling_is_reproducible_with_a_seeded_generator():
    def run(seed):
        g = torch.Generator().manual_seed(seed)
        s = GreedySearch(1.0, eot=99, n_rows=4, generator=g)
        return s.step(torch.zeros(4, 50)).next_tokens

    assert run(3) == run(3)


def test_rank_uses_length_normalisation_or_the_length_penalty():
    candidates = [((1,), -1.0), ((1, 2, 3, 4), -2.0)]
    assert rank(candidates, None) == 1  # -0.5 per token beats -1.0
    assert rank(candidates, 0.0) == 0  # penalty 1: raw sum


# -- quality -------------------------------------------------------------------------------------


def test_compression_ratio_flags_repetition():
    assert compression_ratio("the quick brown fox jumps over the lazy dog") < 2.4
    assert compression_ratio("thank you. " * 20) > 2.4
    assert compression_ratio("") == 0.0


def test_find_loop_spots_back_to_back_ngrams_but_not_short_repeats():
    assert find_loop([5, 6, 7, 8, 5, 6, 7, 8]) is None  # a phrase said twice is speech
    assert find_loop([9, 9, 9]) is None
    loop = find_loop([1, 2] + [5, 6, 7, 8] * 5 + [3])
    assert loop is not None and loop.start == 2 and loop.period == 4 and loop.repeats == 5


def test_repeated_segment_is_the_third_identical_text_in_a_row():
    assert not is_repeated_segment(" Thank you.", [" Thank you."])
    assert is_repeated_segment(" Thank you.", [" hello", " thank you", " Thank you!"])
    assert not is_repeated_segment(" Thank you.", [" Thank you.", " Bye."])


# -- segments ------------------------------------------------------------------------------------


def test_split_at_timestamp_pairs_and_seek_to_the_last_complete_segment():
    tokens = [ts(0), 5, 6, ts(2.0), ts(2.0), 7, ts(4.0), ts(4.0), 8]  # last segment unfinished
    split = split_window(tokens, TS, time_offset=10.0, segment_size=3000)
    assert [(s, e) for s, e, _ in split.spans] == [(10.0, 12.0), (12.0, 14.0)]
    assert split.spans[1][2] == [ts(2.0), 7, ts(4.0)]
    assert split.advance == 400 and not split.single_timestamp_ending


def test_single_timestamp_ending_consumes_the_window():
    tokens = [ts(0), 5, ts(2.0), ts(2.0), 7, ts(3.0)]
    split = split_window(tokens, TS, time_offset=0.0, segment_size=1500)
    assert [(s, e) for s, e, _ in split.spans] == [(0.0, 2.0), (2.0, 3.0)]
    assert split.advance == 1500 and split.single_timestamp_ending


def test_window_without_pairs_is_one_segment():
    split = split_window([ts(0), 5, 6, ts(7.5)], TS, time_offset=30.0, segment_size=3000)
    assert [(s, e) for s, e, _ in split.spans] == [(30.0, 37.5)] and split.advance == 3000
    split = split_window([5, 6], TS, time_offset=0.0, segment_size=1234)  # without timestamps
    assert split.spans[0][:2] == (0.0, 12.34)


# -- timing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [("sample_len", 0), ("beam_size", 0), ("best_of", 0), ("batch_size", -1), ("repetition_penalty", 0.0), ("no_repeat_ngram_size", -1)],
)
def test_option_checks_name_the_bad_option(field, value):
    from dataclasses import replace

    from mediakit_decode.decoder import check_options

    with pytest.raises(ConfigError, match=f"{field} must"):
        check_options(replace(DecodeOptions(), **{field: value}))


def test_repetition_penalty_lowers_each_chosen_token_once_as_ctranslate2_does():
    from mediakit_decode.filters import RepetitionPenalty

    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5], [2.0, -2.0, 1.0, 0.5]])
    sampled = torch.tensor([[0, 1, 0], [3, 3, 3]])
    RepetitionPenalty(1.5).apply(logits, sampled)
    assert torch.equal(logits, torch.tensor([[2.0 / 1.5, -3.0, 1.0, 0.5], [2.0, -2.0, 1.0, 0.5 / 1.5]]))
    first = torch.tensor([[2.0, -2.0]])
    RepetitionPenalty(1.5).apply(first, torch.empty((1, 0), dtype=torch.long))  # nothing chosen yet
    assert torch.equal(first, torch.tensor([[2.0, -2.0]]))


@pytest.mark.parametrize("size, banned", [(3, [7]), (2, [5, 7]), (1, [5, 6, 7, 8]), (6, [])])
def test_no_repeat_ngram_bans_what_would_repeat_an_ngram_already_chosen(size, banned):
    from mediakit_decode.filters import NoRepeatNgram

    logits = torch.zeros((1, 10))
    NoRepeatNgram(size).apply(logits, torch.tensor([[5, 6, 7, 8, 6, 5, 6]]))  # "5 6" came before 7, "6" before 7 and 5
    assert torch.isinf(logits[0]).nonzero().flatten().tolist() == banned


def test_hotwords_come_before_the_previous_text_and_leave_a_quarter_of_the_context():
    from mediakit_decode.window import initial_tokens

    class Tok:
        sot_prev, sot_sequence, sot_sequence_including_notimestamps = 1, (2, 3), (2, 3, 4)

    assert initial_tokens(Tok, [], False, 448, [7, 8]) == [1, 7, 8, 2, 3]  # no previous text: still introduced
    assert initial_tokens(Tok, list(range(100, 400)), True, 448, [7, 8]) == [1, 7, 8, *range(177, 400), 2, 3, 4]
    long = [9] * 150  # 448 - 112 - 2 - 1 - 150 = 183 positions left for the previous text
    assert initial_tokens(Tok, list(range(100, 400)), False, 448, long) == [1, *long, *range(217, 400), 2, 3]
    assert initial_tokens(Tok, [5], False, 448) == [1, 5, 2, 3] and initial_tokens(Tok, [], False, 448) == [2, 3]


def test_median_filter_removes_spikes_and_keeps_steps():
    x = torch.tensor([[0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]])
    y = median_filter(x, 3)
    assert y[0, 3] == 0.0 and y[0, 7] == 1.0 and y.shape == x.shape


def test_median_filter_in_blocks_gives_every_rows_own_sliding_median(monkeypatch):
    from mediakit_decode import timing

    monkeypatch.setattr(timing, "MEDIAN_BLOCK", 7 * 50 * 3)  # 3 rows a block: 17 rows make 6 blocks, the last short
    x = torch.randn(17, 50)
    padded = np.pad(x.numpy(), [(0, 0), (3, 3)], mode="reflect")
    expected = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7, axis=-1), axis=-1)
    assert np.array_equal(timing.median_filter(x, 7).numpy(), expected)


def test_median_filter_counts_nan_as_the_largest_value_as_sorting_does():
    x = torch.tensor([[1.0, 2.0, 3.0, float("nan"), 5.0, 6.0, 7.0, 8.0, 9.0, 4.0]])
    padded = np.pad(x.numpy(), [(0, 0), (3, 3)], mode="reflect")
    expected = np.sort(np.lib.stride_tricks.sliding_window_view(padded, 7, axis=-1), axis=-1)[..., 3]  # NaN sorts last
    assert np.array_equal(median_filter(x, 7).numpy(), expected, equal_nan=True)


def _dtw_by_cells(cost: np.ndarray) -> tuple[list[int], list[int]]:
    """openai-whisper's rule cell by cell: float32 sums; ties go to the diagonal, then up, then left."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    acc[0, 0] = 0
    step = np.zeros((n + 1, m + 1), dtype=int)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c0, c1, c2 = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
            t = 0 if c0 < c1 and c0 < c2 else 1 if c1 < c0 and c1 < c2 else 2
            acc[i, j] = np.float32(cost[i - 1, j - 1]) + (c0, c1, c2)[t]
            step[i, j] = t
    path, i, j = [], n, m
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        t = step[i, j] if i > 0 and j > 0 else (2 if i == 0 else 1)
        i, j = (i - 1, j - 1) if t == 0 else (i - 1, j) if t == 1 else (i, j - 1)
    tokens, frames = zip(*reversed(path))
    return list(tokens), list(frames)


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (12, 40), (40, 12), (25, 300)])
def test_dtw_takes_openai_whispers_path_cell_by_cell_ties_included(shape):
    rng = np.random.default_rng(sum(shape))
    cost = np.round(rng.standard_normal(shape), 0)  # whole numbers: many equal sums
    tokens, frames = dtw(cost)
    assert (list(tokens), list(frames)) == _dtw_by_cells(cost)


def test_dtw_follows_the_cheap_diagonal_band():
    cost = np.ones((3, 6), dtype=np.float32)
    cost[0, 0:2] = cost[1, 2:4] = cost[2, 4:6] = 0.0
    tokens, frames = dtw(cost)
    assert list(tokens) == [0, 0, 1, 1, 2, 2] and list(frames) == [0, 1, 2, 3, 4, 5]


def test_punctuation_merges_into_neighbouring_words():
    words = [WordTiming(w, [i], i, i + 1, 1.0) for i, w in enumerate([" (", "Hello", ",", " world", "."])]
    merge_punctuations(words, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
    assert [w.word for w in words if w.word] == [" (Hello,", " world."]
    assert [w.tokens for w in words if w.word] == [[0, 1, 2], [3, 4]]


# -- small helpers -------------------------------------------------------------------------------


def test_clip_timestamps_and_region_merging():
    assert clip_frames("0", 5000, 100) == [(0, 5000)]
    assert clip_frames("1.5,3,10", 5000, 100) == [(150, 300), (1000, 5000)]
    assert merge_regions([(0, 5), (6, 20), (25, 40), (41, 50)], 30) == [(0, 20), (25, 50)]
    assert merge_regions([(0, 70)], 30) == [(0, 30), (30, 60), (60, 70)]


def test_verbose_timestamps_look_like_openai_whispers():
    assert format_timestamp(4.0) == "00:04.000" and format_timestamp(3725.5) == "01:02:05.500"


def test_speech_regions_intersect_the_clip_ranges():
    from mediakit_decode.decoder import intersect

    assert intersect([(0, 500), (800, 1500)], [(0, 5000)]) == [(0, 500), (800, 1500)]
    assert intersect([(0, 500), (800, 1500)], [(400, 900)]) == [(400, 500), (800, 900)]
    assert intersect([(0, 500)], [(600, 900)]) == []


def test_speech_regions_get_a_lead_in_that_respects_neighbours_and_the_window_length():
    from mediakit_decode.vad import widen

    assert widen([(0.3, 5.0), (5.5, 10.0), (20.0, 49.5)], 1.0, 30.0) == [(0.0, 5.0), (5.0, 10.0), (19.5, 49.5)]
    assert widen([(3.0, 4.0)], 1.0) == [(2.0, 4.0)]


def test_seek_loop_regions_are_joined_but_never_cut():
    assert merge_regions([(0, 5), (6, 20), (25, 70)], 30, split=False) == [(0, 20), (25, 70)]


def test_digital_silence_is_recognised_and_quiet_speech_is_not():
    import numpy as np

    from mediakit_decode.quality import is_silent

    assert is_silent(np.zeros(16000, np.float32))
    assert is_silent(np.full(16000, 3e-4, np.float32))  # dither-level noise
    assert is_silent(np.zeros(0, np.float32))
    quiet_voice = (0.01 * np.sin(np.arange(16000) / 5)).astype(np.float32)  # -40 dBFS
    assert not is_silent(quiet_voice)


def test_vad_leaves_torch_on_its_thread_count():
    # silero-vad sets torch to one thread when it is imported; every later step would run on one core
    import subprocess
    import sys

    code = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(2)\n"
        "from mediakit.config import VadOptions\n"
        "from mediakit_decode.vad import speech_regions\n"
        "speech_regions(np.zeros(16000, dtype=np.float32), 16000, VadOptions())\n"
        "print(torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "2"
