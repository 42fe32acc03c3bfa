"""The whisper decoder end to end on a scripted fake model: seek loop, fallback, no-speech, guard, batching."""

from __future__ import annotations

import logging

import pytest
import torch

from mediakit.config import DecodeOptions
from mediakit.errors import ConfigError
from mediakit_decode.decoder import WhisperDecoder
from mediakit_decode.script import converter
from mediakit.testing import make_plugin_manager
from test_decode_fakes import one_thread  # noqa: F401  (fixture)
from test_decode_fakes import SOT_PREV, ZH, AligningRuntime, FakeRuntime, Window, fake_features, ts

FAST = dict(beam_size=2, best_of=2, language="en")


@pytest.fixture(autouse=True)
def _fake_model_on_one_thread(one_thread):
    yield


def decode(script, seconds=40.0, **options):
    runtime = FakeRuntime(script)
    progress: list[tuple[float, float]] = []
    result = WhisperDecoder(DecodeOptions(**{**FAST, **options})).decode(
        runtime, fake_features(seconds), lambda done, total: progress.append((done, total))
    )
    return result, runtime, progress


def spans(result):
    return [(s.start, s.end, s.text) for s in result.segments]


def test_plugin_registers_the_whisper_decoder():
    pm = make_plugin_manager(builtins=False)
    import mediakit_decode.plugin as plugin

    pm.register(plugin)
    names = []
    pm.hook.mediakit_register_decoders(register=lambda name, factory: names.append((name, factory)))
    assert names[0][0] == "whisper"
    assert isinstance(names[0][1](DecodeOptions()), WhisperDecoder)


def test_seek_loop_follows_timestamps_and_conditions_on_previous_text():
    script = {
        0: Window([ts(0), 5, 6, ts(5), ts(5), 7, ts(10), ts(10), 8, 9]),  # last segment unfinished
        1000: Window([ts(0), 8, 9, ts(3)]),  # resumes at 10 s; single timestamp ending
    }
    result, runtime, progress = decode(script)
    assert spans(result) == [(0.0, 5.0, " w5 w6"), (5.0, 10.0, " w7"), (10.0, 13.0, " w8 w9")]
    assert result.text == " w5 w6 w7 w8 w9" and result.language == "en"
    assert [s.seek for s in result.segments] == [0, 0, 1000]
    assert [s.id for s in result.segments] == [0, 1, 2]
    assert runtime.calls["encode"] == 2
    # the second window's prompt is the first window's kept tokens
    assert runtime.prompts[-1] == [SOT_PREV, ts(0), 5, 6, ts(5), ts(5), 7, ts(10)]
    assert progress[-1] == (40.0, 40.0) and [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert result.to_dict()["segments"][0]["tokens"] == [ts(0), 5, 6, ts(5)]


def test_without_condition_on_previous_text_no_prompt_is_sent():
    script = {0: Window([ts(0), 5, ts(5), ts(5), 6, ts(10)]), 3000: Window([ts(0), 7, ts(1)])}
    result, runtime, _ = decode(script, seconds=40.0, condition_on_previous_text=False)
    assert runtime.prompts == [[], []] and result.text == " w5 w6 w7"


def test_initial_prompt_is_the_first_windows_context():
    _, runtime, _ = decode({0: Window([ts(0), 5, ts(1)])}, seconds=5.0, initial_prompt="w40 w41")
    assert runtime.prompts[0] == [SOT_PREV, 40, 41]


def test_silent_window_is_skipped_only_when_also_improbable():
    silent = {0: Window([ts(0), 5, 6, ts(2)], no_speech=True, confident=False)}
    result, _, _ = decode(silent, seconds=10.0, temperature=(0.0,))
    assert result.segments == () and result.text == ""
    confident = {0: Window([ts(0), 5, 6, ts(2)], no_speech=True)}
    result, _, _ = decode(confident, seconds=10.0)
    assert result.text == " w5 w6"
    assert result.segments[0].no_speech_prob > 0.6


def test_fallback_climbs_the_ladder_reusing_the_windows_cross_attention():
    loop = [ts(0)] + [5, 6, 7, 8] * 12 + [ts(9)]  # compression ratio well over 2.4
    result, runtime, _ = decode({0: Window(loop)}, seconds=10.0, repetition_guard=False)
    (segment,) = result.segments
    assert segment.temperature == 1.0 and segment.compression_ratio > 2.4
    assert segment.text == " w5 w6 w7 w8" * 12
    assert runtime.calls["encode"] == 1 and runtime.calls["new_state"] == 1  # one window, six temperatures


def test_repetition_guard_keeps_one_copy_of_a_loop():
    loop = [ts(0)] + [5, 6, 7, 8] * 5 + [ts(9)]  # too short for the compression ratio, caught by the guard
    result, _, _ = decode({0: Window(loop)}, seconds=10.0)
    assert result.text == " w5 w6 w7 w8"


def test_repetition_guard_drops_a_segment_repeated_a_third_time_and_resets_the_prompt():
    script = {0: Window([ts(0), 5, 6, ts(2), ts(2), 5, 6, ts(4), ts(4), 5, 6, ts(6), ts(6), 9, ts(8)])}
    result, _, _ = decode(script, seconds=10.0)
    assert [s.text for s in result.segments] == [" w5 w6", " w5 w6", " w9"]
    result, _, _ = decode(script, seconds=10.0, repetition_guard=False)
    assert [s.text for s in result.segments] == [" w5 w6"] * 3 + [" w9"]


def test_language_detection_pools_windows():
    runtime = FakeRuntime({0: Window([ts(0), 5, ts(1)])}, language_token=ZH)
    options = DecodeOptions(beam_size=1, language_detection_segments=2)
    result = WhisperDecoder(options).decode(runtime, fake_features(45.0))
    assert result.language == "zh" and result.language_probs["zh"] > 0.99
    # one batch of two windows for detection; the transcription's windows (0-30 s, then 30-45 s after
    # the single timestamp ending) are the same frames, so they are not encoded again
    assert runtime.calls["encode"] == 1


def test_a_window_encoded_for_language_detection_is_reused_in_batched_mode():
    script = {0: Window([ts(0), 5, ts(2)]), 3000: Window([ts(0), 6, ts(2)])}
    runtime = FakeRuntime(script, language_token=ZH)
    encoded = []
    encode = runtime.encode
    runtime.encode = lambda mel: encoded.append(int(mel[0, 0, 0])) or encode(mel)
    options = DecodeOptions(beam_size=1, batch_size=4, vad=False)
    result = WhisperDecoder(options).decode(runtime, fake_features(40.0))
    assert result.language == "zh"
    assert spans(result) == [(0.0, 2.0, " w5"), (30.0, 32.0, " w6")]  # each window decoded from its own frames
    assert encoded == [0, 3000]  # the detection's window, then only the 30-40 s window


def test_clip_timestamps_limit_the_decoded_range():
    script = {1000: Window([ts(0), 5, ts(4)]), 0: Window([ts(0), 9, ts(4)])}
    result, runtime, _ = decode(script, clip_timestamps="10,20")
    assert spans(result) == [(10.0, 14.0, " w5")] and runtime.calls["encode"] == 1


def test_without_timestamps_a_window_is_one_segment():
    result, _, _ = decode({0: Window([5, 6])}, seconds=12.0, without_timestamps=True)
    assert spans(result) == [(0.0, 12.0, " w5 w6")]


def test_verbose_logs_each_segment_like_openai_whisper(caplog):
    with caplog.at_level(logging.INFO, logger="mediakit_decode"):
        decode({0: Window([ts(0), 5, 6, ts(4)])}, seconds=5.0, verbose=True)
    assert "[00:00.000 --> 00:04.000]  w5 w6" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mediakit_decode"):
        decode({0: Window([ts(0), 7, ts(3)])}, seconds=5.0, verbose=True, batch_size=2, vad=False)
    assert "[00:00.000 --> 00:03.000]  w7" in caplog.text


@pytest.fixture()
def rests_allowed(monkeypatch):
    """Batched windows may end their text early and leave a rest (no window's text is kept open)."""
    import mediakit_decode.batched as batched

    monkeypatch.setattr(batched, "_open_until", lambda job, chunk: None)


def test_batched_mode_decodes_windows_together_without_prompts(rests_allowed):
    script = {
        0: Window([ts(0), 5, ts(3), ts(3), 6]),  # stops after a pair: the rest from 3 s goes to the next round
        300: Window([ts(0), 6, ts(2)]),
        3000: Window([ts(0), 7, ts(2)]),
    }
    result, runtime, progress = decode(script, batch_size=4, vad=False)
    assert spans(result) == [(0.0, 3.0, " w5"), (3.0, 5.0, " w6"), (30.0, 32.0, " w7")]
    assert runtime.calls["encode"] == 2 and runtime.prompts == [[], []]  # round one: both windows together
    assert progress[-1] == (40.0, 40.0)


def test_a_rest_joins_the_next_batch_with_the_windows_still_waiting(rests_allowed):
    script = {
        0: Window([ts(0), 5, ts(3), ts(3), 6]),  # leaves the rest from 3 s
        300: Window([ts(0), 6, ts(2)]),
        3000: Window([ts(0), 7, ts(2)]),
        6000: Window([ts(0), 8, ts(2)]),
    }
    result, runtime, progress = decode(script, seconds=70.0, batch_size=2, vad=False)
    assert spans(result) == [(0.0, 3.0, " w5"), (3.0, 5.0, " w6"), (30.0, 32.0, " w7"), (60.0, 62.0, " w8")]
    assert runtime.calls["encode"] == 2  # [0-30 s, 30-60 s], then [60-70 s, the rest from 3 s]
    assert [p[0] for p in progress] == [60.0, 70.0, 70.0]


def test_a_batched_window_goes_on_instead_of_leaving_a_rest():
    # the model would end after the pair at 3 s; its next choice transcribes the rest of the window
    script = {0: Window([ts(0), 5, ts(3), ts(3)], then=(6, ts(5)))}
    result, runtime, _ = decode(script, seconds=10.0, batch_size=4, vad=False)
    assert spans(result) == [(0.0, 3.0, " w5"), (3.0, 5.0, " w6")]
    assert runtime.calls["encode"] == 1  # no second window for the rest


def test_a_batched_window_may_end_early_when_the_rest_would_be_short_or_without_timestamps():
    near_end = {0: Window([ts(0), 5, ts(9.5), ts(9.5)], then=(6, ts(9.8)))}  # 0.5 s left: under MIN_REST
    result, runtime, _ = decode(near_end, seconds=10.0, batch_size=4, vad=False)
    assert spans(result) == [(0.0, 9.5, " w5")] and runtime.calls["encode"] == 1
    plain = {0: Window([5], then=(6,))}
    result, _, _ = decode(plain, seconds=10.0, batch_size=4, vad=False, without_timestamps=True)
    assert result.text == " w5"


def test_early_ends_finds_the_rows_that_would_leave_a_rest():
    from mediakit_decode.window import early_ends

    tb = ts(0)
    sampled = torch.tensor([
        [tb, 5, 6, 5, tb + 150, tb + 150],  # ends in a pair at 3 s: a rest from 3 s
        [tb, 5, tb + 150, tb + 150, 6, 7],  # unfinished text after the pair: a rest from 3 s
        [tb, 5, 6, 7, tb + 150, 7],  # no pair: the whole window is one segment
        [tb, 5, tb + 150, tb + 150, 6, 7],  # as row 1, but its window allows ending there
        [tb, 5, tb + 100, tb + 100, 6, tb + 150],  # a lone closing timestamp: no rest
        [tb, tb, 5, 6, 7, 8],  # the pair at 0 s: nothing to go back to
    ])  # fmt: skip
    limits = torch.tensor([450, 450, 450, 100, 450, 450])
    assert early_ends(sampled, tb, limits).tolist() == [True, True, False, False, False, False]


def test_batched_mode_keeps_unfinished_text_when_the_rest_is_too_short():
    result, runtime, _ = decode({0: Window([ts(0), 5, ts(29.5), ts(29.5), 6])}, seconds=30.0, batch_size=4, vad=False)
    assert spans(result) == [(0.0, 29.5, " w5"), (29.5, 30.0, " w6")] and runtime.calls["encode"] == 1


def test_batched_mode_finds_speech_with_vad_unless_told_not_to(monkeypatch):
    import mediakit_decode.decoder as decoder
    from mediakit.config import BATCHED_VAD, VadOptions

    seen = []
    monkeypatch.setattr(decoder, "speech_regions_of", lambda source, options, most, *shared: seen.append(options) or [(1.0, 4.0)])
    result, runtime, _ = decode({0: Window([ts(0), 5, ts(2)])}, seconds=40.0, batch_size=4)
    assert seen == [BATCHED_VAD] and BATCHED_VAD.min_silence_duration_ms == 160 and BATCHED_VAD.threshold == 0.15
    assert spans(result) == [(0.0, 2.0, " w5")]  # the region, widened by its 1 s lead-in, starts at 0
    decode({0: Window([ts(0), 5, ts(2)])}, seconds=40.0, batch_size=4, vad_options=VadOptions(threshold=0.3))
    assert seen[-1] == VadOptions(threshold=0.3)  # the caller's options win
    decode({0: Window([ts(0), 5, ts(2)])}, seconds=40.0)
    decode({0: Window([ts(0), 5, ts(2)])}, seconds=40.0, batch_size=4, vad=False)
    assert len(seen) == 2  # sequential mode and vad=False: no VAD


def test_batched_windows_leave_the_batch_when_done_and_match_their_lone_decoding():
    long = list(range(10, 30))
    script = {0: Window([ts(0), 5, ts(1)]), 1000: Window([ts(0), *long, ts(9)]), 2000: Window([ts(0), 8, ts(2)])}
    three = dict(seconds=30.0, batch_size=4, vad=False, beam_size=3)
    result, runtime, _ = decode(script, clip_timestamps="0,10,10,20,20,30", **three)
    assert spans(result) == [(0.0, 1.0, " w5"), (10.0, 19.0, "".join(f" w{t}" for t in long)), (20.0, 22.0, " w8")]
    assert runtime.rows_per_call[-1] == 3 and max(runtime.rows_per_call) == 9  # only the long window's beams at the end
    assert runtime.rows_per_call.count(9) < 5  # the short windows left after their few steps
    alone, _, _ = decode({1000: script[1000]}, clip_timestamps="10,20", **three)
    assert spans(alone) == [spans(result)[1]]


def test_vad_on_silence_decodes_nothing():
    result, runtime, _ = decode({0: Window([ts(0), 5, ts(3)])}, seconds=5.0, vad=True)
    assert result.text == "" and result.segments == () and runtime.calls["encode"] == 0


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="task"):
        WhisperDecoder(DecodeOptions(task="summarise"))
    with pytest.raises(ConfigError, match="zh_script"):
        WhisperDecoder(DecodeOptions(zh_script="klingon"))
    with pytest.raises(ConfigError, match="clip_timestamps"):
        WhisperDecoder(DecodeOptions(clip_timestamps="a,b"))


def test_zh_script_converts_between_scripts():
    assert converter("simplified")("廣州市房地產") == "广州市房地产"
    assert converter("traditional")("广州市房地产") == "廣州市房地產"


def test_batched_fallback_redecodes_only_the_failing_window_from_copied_caches():
    loop = [ts(0)] + [5, 6, 7, 8] * 12 + [ts(9)]
    script = {0: Window(loop), 3000: Window([ts(0), 7, ts(2)])}
    result, runtime, _ = decode(script, batch_size=4, repetition_guard=False, vad=False)
    assert [(s.text[:12], s.temperature) for s in result.segments] == [(" w5 w6 w7 w8", 1.0), (" w7", 0.0)]
    assert runtime.calls["new_state"] == 1 and runtime.calls["encode"] == 1


def test_word_timestamps_are_aligned_offset_and_snap_the_segments():
    # window at 30 s: words w5 w6 | w7; the aligner puts aligned token k at 0.5 k s from the window start
    script = {0: Window([ts(0), 4, ts(30)]), 3000: Window([ts(0), 5, 6, ts(2), ts(2), 7, ts(3)])}
    runtime = AligningRuntime(script)
    options = DecodeOptions(**{**FAST, "word_timestamps": True})
    result = WhisperDecoder(options).decode(runtime, fake_features(40.0))
    later = [s for s in result.segments if s.seek == 3000]
    words = [w for s in later for w in s.words]
    assert [w.word for w in words] == [" w5", " w6", " w7"]
    assert all(30.0 <= w.start <= w.end <= 40.0 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert all(s.start == s.words[0].start and s.end == s.words[-1].end for s in later)
    assert all(w.probability == pytest.approx(0.01) for w in words)  # uniform fake logits over 100 text tokens


def test_digitally_silent_window_is_not_decoded():
    from dataclasses import replace

    import numpy as np

    features = fake_features(12.0)
    silent = replace(features, audio=replace(features.audio, samples=np.zeros_like(features.audio.samples)))
    runtime = FakeRuntime({0: Window([ts(0.0), 5, 6, ts(4.0)])})
    transcript = WhisperDecoder(DecodeOptions(**FAST)).decode(runtime, silent)
    assert transcript.segments == ()
    assert runtime.calls["encode"] == 0
