"""openai-whisper's decoding strategy objects, driven as published code drives them: a DecodingTask with a
custom LogitFilter, decoders updated and finalized by hand, and (where openai-whisper is installed) the
same steps side by side with its classes."""

from __future__ import annotations

import pytest
import torch

from mediakit.whisper.decoding import (
    ApplyTimestampRules,
    BeamSearchDecoder,
    DecodingOptions,
    DecodingTask,
    GreedyDecoder,
    Inference,
    LogitFilter,
    MaximumLikelihoodRanker,
    SuppressBlank,
    SuppressTokens,
)
from mediakit.whisper.tokenizer import get_tokenizer

EOT = 4  # end-of-text in the small vocabularies below


class RecordingInference(Inference):
    def __init__(self):
        self.rearranged = []

    def rearrange_kv_cache(self, source_indices):
        self.rearranged.append(list(source_indices))


def test_greedy_decoder_steps_and_finalize():
    decoder = GreedyDecoder(temperature=0.0, eot=EOT)
    tokens = torch.tensor([[1, 2], [1, EOT]])
    logits = torch.tensor([[0.0, 0.0, 0.0, 5.0, 0.0], [9.0, 0.0, 0.0, 0.0, 0.0]])
    sums = torch.zeros(2)
    tokens, completed = decoder.update(tokens, logits, sums)
    assert tokens.tolist() == [[1, 2, 3], [1, EOT, EOT]]  # a row that ended stays ended
    assert not completed
    assert sums[0] == pytest.approx(torch.log_softmax(logits[0], -1)[3].item()) and sums[1] == 0  # in place
    tokens, completed = decoder.update(tokens, torch.tensor([[0.0, 0, 0, 0, 3], [0.0, 0, 0, 0, 0]]), sums)
    assert completed
    final, logprobs = decoder.finalize(tokens.reshape(2, 1, -1), sums.reshape(2, 1))
    assert final[:, 0, -1].tolist() == [EOT, EOT] and logprobs == [[pytest.approx(sums[0].item())], [0.0]]


def test_beam_search_decoder_keeps_beams_and_collects_finished():
    inference = RecordingInference()
    decoder = BeamSearchDecoder(beam_size=2, eot=EOT, inference=inference, patience=1.0)
    tokens = torch.tensor([[7], [7]])  # one audio, two beams from the same prompt
    sums = torch.zeros(2)
    # beam 0 prefers 1 then end-of-text; beam 1 is identical, so its candidates replace beam 0's
    logits = torch.log(torch.tensor([[0.01, 0.5, 0.2, 0.01, 0.28], [0.01, 0.5, 0.2, 0.01, 0.28]]))
    tokens, completed = decoder.update(tokens, logits, sums)
    assert tokens.tolist() == [[7, 1], [7, 2]]  # the end-of-text candidate went to the finished list
    assert decoder.finished_sequences == [{(7, EOT): pytest.approx(torch.log(torch.tensor(0.28)).item())}]
    assert inference.rearranged == [[1, 1]] and not completed
    assert sums.tolist() == pytest.approx([torch.log(torch.tensor(0.5)).item(), torch.log(torch.tensor(0.2)).item()])
    tokens, completed = decoder.update(tokens, torch.log(torch.full((2, 5), 0.2)), sums)
    assert completed  # two finished sequences for the one audio
    candidates, logprobs = decoder.finalize(tokens.reshape(1, 2, -1), sums.reshape(1, 2))
    assert len(candidates) == 1 and all(c[-1].item() == EOT for c in candidates[0]) and len(logprobs[0]) == 2
    decoder.reset()
    assert decoder.finished_sequences is None


def test_ranker_normalises_by_length_or_penalty():
    tokens = [[torch.tensor([1, 2, 3, 4]), torch.tensor([1])]]
    assert MaximumLikelihoodRanker(None).rank(tokens, [[-2.0, -1.0]]) == [0]  # -0.5 per token beats -1.0
    assert MaximumLikelihoodRanker(0.0).rank(tokens, [[-2.0, -1.0]]) == [1]  # no length penalty: the sum


def test_logit_filters_on_small_tensors():
    tokenizer = get_tokenizer(multilingual=False)
    begin = len(tokenizer.sot_sequence)
    tokens = torch.tensor([list(tokenizer.sot_sequence)])
    logits = torch.zeros(1, tokenizer.timestamp_begin + 1500)
    SuppressBlank(tokenizer, begin).apply(logits, tokens)
    assert logits[0, tokenizer.eot] == -float("inf") and logits[0, tokenizer.encode(" ")[0]] == -float("inf")
    SuppressTokens([10, 11]).apply(logits, tokens)
    assert logits[0, 10] == logits[0, 11] == -float("inf")
    ApplyTimestampRules(tokenizer, begin, max_initial_timestamp_index=50).apply(logits, tokens)
    allowed = (logits[0] > -float("inf")).nonzero()[:, 0]
    assert allowed.min() == tokenizer.timestamp_begin and allowed.max() == tokenizer.timestamp_begin + 50
    later = torch.zeros_like(logits)
    SuppressBlank(tokenizer, begin).apply(later, torch.cat([tokens, torch.tensor([[tokenizer.timestamp_begin]])], 1))
    assert (later == 0).all()  # only the first sampled token is checked


@pytest.fixture(scope="module")
def jfk_mel(whisper, jfk_path):
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(jfk_path)))[None]


@pytest.mark.weights
@pytest.mark.parametrize("beam_size", [None, 2])
def test_decoding_task_run_equals_decode(whisper, tiny_en, jfk_mel, beam_size):
    options = DecodingOptions(language="en", beam_size=beam_size, fp16=False)
    ours = DecodingTask(tiny_en, options).run(jfk_mel)
    expected = whisper.decode(tiny_en, jfk_mel, options)
    assert [r.tokens for r in ours] == [r.tokens for r in expected]
    assert ours[0].text == expected[0].text and ours[0].avg_logprob == pytest.approx(expected[0].avg_logprob, abs=1e-4)


@pytest.mark.weights
def test_custom_logit_filter_appended_to_a_task(tiny_en, jfk_mel):
    class BanWord(LogitFilter):
        def __init__(self, tokenizer, word):
            self.ids = tokenizer.encode(word)[:1]
            self.calls = []

        def apply(self, logits, tokens):
            self.calls.append(tokens.shape)
            logits[:, self.ids] = -float("inf")

    class KeepFeatures(DecodingTask):  # as stable-ts subclasses it: the encoder output kept for a fallback
        def __init__(self, *args, **kwargs):
            self.audio_features = kwargs.pop("audio_features", None)
            super().__init__(*args, **kwargs)

        def _get_audio_features(self, mel):
            self.audio_features = super()._get_audio_features(mel)
            return self.audio_features

    task = KeepFeatures(tiny_en, DecodingOptions(language="en", without_timestamps=True, fp16=False))
    ban = BanWord(task.tokenizer, " Americans")
    task.logit_filters.append(ban)
    result = task.run(jfk_mel)[0]
    assert "what your country can do for you" in result.text and "Americans" not in result.text
    assert ban.calls[0] == (1, task.sample_begin) and len(ban.calls) == len(result.tokens) + 1
    assert task.audio_features.shape == (1, tiny_en.dims.n_audio_ctx, tiny_en.dims.n_audio_state)


@pytest.mark.weights
def test_pytorch_inference_caches_equal_a_full_forward(tiny_en, jfk_mel):
    from mediakit.whisper.decoding import PyTorchInference

    tokenizer = get_tokenizer(multilingual=False)
    features = tiny_en.encoder(jfk_mel)
    initial = torch.tensor([list(tokenizer.sot_sequence_including_notimestamps)])
    inference = PyTorchInference(tiny_en, initial.shape[1], fp16=False)
    first = inference.logits(initial, features)
    assert first.shape == (1, initial.shape[1], tiny_en.dims.n_vocab)
    tokens = torch.cat([initial, first[:, -1:].argmax(-1)], dim=1)
    step = inference.logits(tokens, features)  # only the new token is fed; the rest is cached
    full = tiny_en.logits(tokens, features)
    assert step.shape == (1, 1, tiny_en.dims.n_vocab)
    assert torch.allclose(step[:, -1].float(), full[:, -1].float(), atol=1e-3)
    inference.cleanup_caching()
    assert torch.allclose(inference.logits(initial, features).float(), first.float())


# --- against openai-whisper ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_decoding():
    return pytest.importorskip("whisper.decoding", reason="openai-whisper is not installed (optional)")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy's, from openai-whisper's argsort of a tensor
def test_decoders_match_openai_step_by_step(openai_decoding):
    torch.manual_seed(0)
    for beam in (False, True):
        ours_inf, theirs_inf = RecordingInference(), RecordingInference()
        if beam:
            ours, theirs = BeamSearchDecoder(3, EOT, ours_inf, 1.5), openai_decoding.BeamSearchDecoder(3, EOT, theirs_inf, 1.5)
        else:
            ours, theirs = GreedyDecoder(0.0, EOT), openai_decoding.GreedyDecoder(0.0, EOT)
        tokens_a = tokens_b = torch.tensor([[9], [9], [9], [8], [8], [8]])
        sums_a, sums_b = torch.zeros(6), torch.zeros(6)
        for _ in range(6):
            logits = torch.randn(6, 12)
            tokens_a, done_a = ours.update(tokens_a, logits.clone(), sums_a)
            tokens_b, done_b = theirs.update(tokens_b, logits.clone(), sums_b)
            assert tokens_a.tolist() == tokens_b.tolist() and bool(done_a) == bool(done_b)
            assert sums_a.tolist() == pytest.approx(sums_b.tolist())
        assert ours_inf.rearranged == theirs_inf.rearranged
        final_a = ours.finalize(tokens_a.reshape(2, 3, -1), sums_a.reshape(2, 3))
        final_b = theirs.finalize(tokens_b.reshape(2, 3, -1), sums_b.reshape(2, 3))
        as_lists = lambda groups: [[list(map(int, t)) for t in g] for g in groups]  # noqa: E731
        assert as_lists(final_a[0]) == as_lists(final_b[0])
        assert [x for g in final_a[1] for x in g] == pytest.approx([x for g in final_b[1] for x in g])
