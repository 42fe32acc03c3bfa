"""The built-in ``whisper`` decoder: openai-whisper's decoding plus VAD, a repetition guard and batching.

Modules, in the order a window flows through them:

* ``filters``: logit filters (suppressed tokens, blank suppression, timestamp rules).
* ``search``: greedy/sampling and beam search bookkeeping, candidate ranking.
* ``window``: decodes a batch of 30 s windows at one temperature; language detection.
* ``fallback``: the temperature ladder and its quality checks (``quality``: compression ratio, loops).
* ``segments``: turns a window's tokens into segments and the next seek position.
* ``timing``: word timestamps (cross-attention, median filter, DTW, punctuation merging).
* ``longform``: the 30-second seek loop; ``batched``: the batched VAD-window mode.
* ``vad``: Silero speech regions; ``script``: Chinese script conversion.
* ``decoder``: the stage object the host calls; ``plugin``: the hook implementation.

Only ``plugin`` is imported when plugins are listed; it imports nothing heavy.
"""
