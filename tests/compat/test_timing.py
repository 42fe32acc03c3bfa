"""whisper.timing: openai-whisper's dtw and median filter tests (scipy-free), and word alignment on tiny.en."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("N, M", [(10, 20), (32, 16), (123, 1500), (234, 189)])
def test_dtw_finds_the_planted_path(N, M):
    from mediakit.whisper.timing import dtw, dtw_cpu, dtw_cuda

    rng = np.random.default_rng(N * M)
    steps = np.concatenate([np.zeros(N - 1), np.ones(M - 1)])
    rng.shuffle(steps)
    x = rng.random((N, M)).astype(np.float32)
    i, j, k, trace = 0, 0, 0, []
    while True:  # a monotonic path made cheaper than any other
        x[i, j] -= 1
        trace.append((i, j))
        if k == len(steps):
            break
        if k + 1 < len(steps) and steps[k] != steps[k + 1]:
            i, j, k = i + 1, j + 1, k + 2
            continue
        i, j, k = i + int(steps[k] == 0), j + int(steps[k] == 1), k + 1
    trace = np.array(trace).T
    assert np.array_equal(dtw_cpu(x), trace)
    assert np.array_equal(dtw_cuda(torch.from_numpy(x)), trace)
    assert np.array_equal(dtw(torch.from_numpy(x)), trace)


@pytest.mark.parametrize("shape", [(10,), (1, 15), (4, 5, 345), (6, 12, 40, 64)])
def test_median_filter_matches_a_sliding_median(shape):
    from mediakit.whisper.timing import median_filter

    x = torch.randn(*shape)
    for width in [3, 5, 7, 13]:
        pad = width // 2
        padded = np.pad(x.numpy(), [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
        expected = np.median(np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1), axis=-1)
        assert np.allclose(median_filter(x, width).numpy(), expected)
    with pytest.raises(AssertionError):
        median_filter(x, 4)


@pytest.mark.weights
def test_find_alignment_and_add_word_timestamps(whisper, tiny_en, jfk_path):
    audio = whisper.load_audio(jfk_path)
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio))
    tokenizer = whisper.tokenizer.get_tokenizer(tiny_en.is_multilingual, num_languages=tiny_en.num_languages)
    result = whisper.decode(tiny_en, mel, whisper.DecodingOptions(without_timestamps=True, fp16=False, language="en"))
    num_frames = len(audio) // whisper.audio.HOP_LENGTH
    words = whisper.timing.find_alignment(tiny_en, tokenizer, result.tokens, mel, num_frames)
    assert isinstance(words[0], whisper.timing.WordTiming)
    americans = next(w for w in words if w.word.strip(" ,") == "Americans")
    assert americans.start <= 1.8 <= americans.end

    segments = [dict(seek=0, start=0.0, end=11.0, tokens=result.tokens, text=result.text)]
    whisper.timing.add_word_timestamps(
        segments=segments, model=tiny_en, tokenizer=tokenizer, mel=mel, num_frames=num_frames, last_speech_timestamp=0.0
    )
    spoken = segments[0]["words"]
    assert "".join(w["word"] for w in spoken).strip() == result.text.strip()
    assert set(spoken[0]) == {"word", "start", "end", "probability"}
    assert segments[0]["end"] == spoken[-1]["end"] < 11.0
