"""The driver's plan: which inputs go to the workers, with their output destinations named once for the batch."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mediakit.batch import InputResult, batch_targets
from mediakit.inputs import Source
from mediakit.pipeline import NamedWriter

from .paths import Location, expand_remote


@dataclass(frozen=True)
class WorkItem:
    """One input for a worker: a path or URL (never its bytes) and where each output goes."""

    index: int  # position in the batch, the order results are reported in
    source: str  # local path (on a disk every node sees), fsspec URL, or a URL ffmpeg opens
    targets: tuple[tuple[str, str], ...]  # (writer name, destination path or URL), as the local runner names them


@dataclass(frozen=True)
class Plan:
    sources: tuple[str, ...]  # every input of the batch, in order
    items: tuple[WorkItem, ...]  # what the workers must do
    settled: tuple[tuple[int, InputResult], ...]  # decided on the driver: inputs that cannot be listed, or skipped


def make_plan(
    sources: list[Source],
    writers: tuple[NamedWriter, ...],
    output: Location,
    *,
    skip_existing: bool,
    recursive: bool,
) -> Plan:
    listed = expand_remote(sources, recursive=recursive)
    named = batch_targets(listed, writers, ".")  # the local runner's names; only the file names are used
    existing = output.existing() if skip_existing else set()
    items: list[WorkItem] = []
    settled: list[tuple[int, InputResult]] = []
    for index, item in enumerate(listed):
        if item.error is not None:
            settled.append((index, InputResult(item.source, "failed", item.error)))
            continue
        targets = tuple((t.writer.name, output.join(t.path.name)) for t in named[item.source])
        if skip_existing and targets and all(dest in existing for _, dest in targets):
            settled.append((index, InputResult(item.source, "skipped", outputs=tuple(d for _, d in targets))))  # type: ignore[arg-type]
            continue
        items.append(WorkItem(index, item.source, targets))
    # Largest first (sizes known for local files; others keep their place at the end): a long file started
    # last would leave every other worker idle while it finishes. Results are still reported in input order.
    items.sort(key=lambda w: -_size(w.source))
    return Plan(tuple(s.source for s in listed), tuple(items), tuple(settled))


def _size(source: str) -> int:
    try:
        return os.path.getsize(source)
    except OSError:
        return -1
