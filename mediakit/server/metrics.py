"""Counters for ``GET /metrics`` in Prometheus' text format (no client library needed for this few)."""

from __future__ import annotations

import threading
from collections import Counter

from .engine import Engine


class Metrics:
    """Requests by route and status, and what the middleware sees in flight; the engine adds the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (method, route, status) -> count
        self.in_flight = 0
        self.cancelled = 0

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def finished(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.requests[(method, route, status)] += 1

    def render(self, engine: Engine | None) -> str:
        lines = [
            "# HELP mediakit_requests_total HTTP requests answered, by route and status.",
            "# TYPE mediakit_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self.requests.items()):
                lines.append(f'mediakit_requests_total{{method="{method}",route="{_escape(route)}",status="{status}"}} {count}')
            in_flight, cancelled = self.in_flight, self.cancelled
        lines += [
            "# HELP mediakit_requests_in_flight HTTP requests being answered now.",
            "# TYPE mediakit_requests_in_flight gauge",
            f"mediakit_requests_in_flight {in_flight}",
            "# HELP mediakit_requests_cancelled_total Transcriptions stopped because their client went away.",
            "# TYPE mediakit_requests_cancelled_total counter",
            f"mediakit_requests_cancelled_total {cancelled}",
        ]
        if engine is not None:
            rtf = engine.busy_seconds / engine.audio_seconds if engine.audio_seconds > 0 else 0.0
            lines += [
                "# HELP mediakit_queue_depth Transcriptions waiting for a worker.",
                "# TYPE mediakit_queue_depth gauge",
                f"mediakit_queue_depth {engine.waiting}",
                "# HELP mediakit_transcriptions_running Transcriptions on a worker now.",
                "# TYPE mediakit_transcriptions_running gauge",
                f"mediakit_transcriptions_running {engine.running}",
                "# HELP mediakit_audio_seconds_total Seconds of audio transcribed.",
                "# TYPE mediakit_audio_seconds_total counter",
                f"mediakit_audio_seconds_total {engine.audio_seconds:.3f}",
                "# HELP mediakit_processing_seconds_total Worker seconds spent transcribing.",
                "# TYPE mediakit_processing_seconds_total counter",
                f"mediakit_processing_seconds_total {engine.busy_seconds:.3f}",
                "# HELP mediakit_real_time_factor Worker seconds per second of audio, over all transcriptions.",
                "# TYPE mediakit_real_time_factor gauge",
                f"mediakit_real_time_factor {rtf:.4f}",
                "# HELP mediakit_model_load_seconds Time each model took to load.",
                "# TYPE mediakit_model_load_seconds gauge",
            ]
            for name, seconds in engine.load_seconds.items():
                lines.append(f'mediakit_model_load_seconds{{model="{_escape(name)}"}} {seconds:.3f}')
            if engine.batcher is not None:
                b = engine.batcher.stats
                lines += [
                    "# HELP mediakit_batch_queue_depth Requests' windows waiting for the shared batcher.",
                    "# TYPE mediakit_batch_queue_depth gauge",
                    f"mediakit_batch_queue_depth {engine.batcher.waiting}",
                    "# HELP mediakit_batches_total Batches the shared batcher decoded (--batch_size).",
                    "# TYPE mediakit_batches_total counter",
                    f"mediakit_batches_total {b.batches}",
                    "# HELP mediakit_batches_shared_total Batches that held windows of more than one request.",
                    "# TYPE mediakit_batches_shared_total counter",
                    f"mediakit_batches_shared_total {b.shared}",
                    "# HELP mediakit_batch_windows_total Windows decoded in shared batches.",
                    "# TYPE mediakit_batch_windows_total counter",
                    f"mediakit_batch_windows_total {b.windows}",
                    "# HELP mediakit_batch_seconds_total Seconds the shared batcher spent decoding.",
                    "# TYPE mediakit_batch_seconds_total counter",
                    f"mediakit_batch_seconds_total {b.seconds:.3f}",
                ]
            lines += [
                "# HELP mediakit_ready 1 once every model is loaded.",
                "# TYPE mediakit_ready gauge",
                f"mediakit_ready {1 if engine.ready else 0}",
            ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
