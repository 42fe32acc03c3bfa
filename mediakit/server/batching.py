"""One batcher shared by every request: windows of concurrent requests decoded together.

With ``mediakit serve --batch_size N`` each worker thread still runs its own request (demux, features,
VAD, language detection, word timings), but hands the windows it would decode to :class:`SharedBatcher`
(the decoder does this through :class:`mediakit.stages.Batcher`; the ``whisper`` decoder in batched
mode). One batcher thread takes the oldest waiting item, adds every other waiting item with the same
key while the batch holds at most N windows, decodes them in one call, and hands each worker its own
result. Nothing waits on purpose: while one batch decodes, the next fills up, so an idle server adds
no latency and a busy one decodes fuller batches.

A request's result does not depend on its batch (the decoder chooses keys so that it does not), and
one request cannot fail another: when a batch of several items fails, each item is decoded again on
its own and only the one that fails gets the error. A request cancelled while its item waits is
withdrawn from the queue; one cancelled while its batch decodes stops after that batch.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

log = logging.getLogger(__name__)

#: How often a waiting worker looks at its request's cancel flag (seconds).
CANCEL_POLL = 0.1


class BatcherClosed(Exception):
    """The server is shutting down: no more batches are decoded."""


@dataclass(eq=False)
class _Ticket:
    key: Hashable
    item: Any
    size: int
    decode_many: Callable[[Sequence[Any]], Sequence[Any]]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    taken: bool = False  # a batch holds it: it can no longer be withdrawn


@dataclass
class BatchStats:
    """What /metrics reports about the shared batches."""

    batches: int = 0  # decode_many calls for batches of items
    items: int = 0  # items decoded in them (one per request step: a chunk of its windows)
    windows: int = 0  # their sizes added up
    shared: int = 0  # batches that held items of more than one request
    seconds: float = 0.0  # time spent decoding batches
    retried: int = 0  # items decoded again alone after their batch failed


class SharedBatcher:
    """Decodes items of up to ``size`` windows in all, from any requests, on one thread."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a shared batch holds at least one window, got {size}")
        self.size = size
        self.stats = BatchStats()
        self._queue: list[_Ticket] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="mediakit-batcher", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Items queued for the next batches."""
        with self._cond:
            return len(self._queue)

    def decode(
        self, key: Hashable, item: Any, size: int, decode_many: Callable[[Sequence[Any]], Sequence[Any]],
        cancelled: Callable[[], BaseException | None] | None = None,
    ) -> Any:  # fmt: skip
        """``decode_many([..., item, ...])`` for ``item``, batched with items of the same ``key``.

        ``cancelled()`` returns the exception to raise once the caller's request is cancelled (None while
        it is not); it is asked while the item waits for its batch.
        """
        ticket = _Ticket(key, item, max(1, size), decode_many)
        with self._cond:
            if self._closed:
                raise BatcherClosed("the server is shutting down")
            self._queue.append(ticket)
            self._cond.notify_all()
        while not ticket.done.wait(CANCEL_POLL if cancelled is not None else None):
            error = cancelled() if cancelled is not None else None
            if error is None:
                continue
            with self._cond:
                if not ticket.taken:
                    self._queue.remove(ticket)
                    raise error
            # already in a batch: its result is wanted by nobody, but the batch finishes anyway
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def bind(self, cancelled: Callable[[], BaseException | None]) -> "RequestBatcher":
        """The batcher as one request's decoder sees it (a :class:`mediakit.stages.Batcher`)."""
        return RequestBatcher(self, cancelled)

    def close(self) -> None:
        """Stop: items still waiting get :class:`BatcherClosed`; a batch being decoded finishes."""
        with self._cond:
            self._closed = True
            left, self._queue = self._queue, []
            self._cond.notify_all()
        for ticket in left:
            ticket.error = BatcherClosed("the server is shutting down")
            ticket.done.set()

    # -- the batcher thread ----------------------------------------------------------------------------
    def _take(self) -> list[_Ticket] | None:
        """The next batch: the oldest item, then every later one with its key while they fit."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._queue[0]
            batch, windows = [first], first.size
            for ticket in self._queue[1:]:
                if ticket.key == first.key and windows + ticket.size <= self.size:
                    batch.append(ticket)
                    windows += ticket.size
            for ticket in batch:
                ticket.taken = True
                self._queue.remove(ticket)
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            started = time.perf_counter()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    s = self.stats
                    s.batches += 1
                    s.items += len(batch)
                    s.windows += sum(t.size for t in batch)
                    s.shared += len(batch) > 1
                    s.seconds += time.perf_counter() - started
                for ticket in batch:
                    ticket.done.set()

    def _run(self, batch: list[_Ticket]) -> None:
        try:
            results = list(batch[0].decode_many([t.item for t in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except BaseException as err:  # noqa: BLE001 -- handed to the requests, never lost
            if len(batch) == 1:
                batch[0].error = err
                return
            log.warning("a shared batch of %d items failed (%s); decoding each alone", len(batch), err)
            for ticket in batch:
                with self._cond:
                    self.stats.retried += 1
                try:
                    ticket.result = ticket.decode_many([ticket.item])[0]
                except BaseException as one:  # noqa: BLE001
                    ticket.error = one
            return
        for ticket, result in zip(batch, results):
            ticket.result = result


@dataclass(frozen=True)
class RequestBatcher:
    """A :class:`SharedBatcher` bound to one request's cancel check."""

    shared: SharedBatcher
    cancelled: Callable[[], BaseException | None]

    def decode(self, key: Hashable, item: Any, size: int, decode_many: Callable[[Sequence[Any]], Sequence[Any]]) -> Any:
        return self.shared.decode(key, item, size, decode_many, self.cancelled)
