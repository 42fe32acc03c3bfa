"""Where each beam lives in the decoder's cache, so that a beam search step moves as little as possible.

The search keeps its beams in its own order (best first). After a step, new beam ``j`` continues old
beam ``source[j]``. Instead of permuting the whole cache into the search's order, each parent's first
child takes over the parent's cache row as it is; only a parent's further children are copied, into
the rows of beams that had no child. Results are unchanged: the search sees its beams in the same
order as before (logits are read back through the layout); only the cache rows differ.
"""

from __future__ import annotations


class RowLayout:
    """``rows[j]``: the cache row of beam ``j``; beams stay within their window's group of rows."""

    def __init__(self, n_rows: int, group: int):
        self.rows = list(range(n_rows))
        self.group = group

    @property
    def identity(self) -> bool:
        return all(row == j for j, row in enumerate(self.rows))

    def follow(self, source: list[int]) -> tuple[list[int], list[int]]:
        """Move to the beams of a step (beam ``j`` continues beam ``source[j]``).

        Returns the cache copies it needs, ``(destinations, sources)``: row ``destinations[i]`` must take
        the contents of row ``sources[i]``. No destination is the source of another copy.
        """
        parents = [self.rows[s] for s in source]
        new = [-1] * len(parents)
        claimed: set[int] = set()
        for j, parent in enumerate(parents):
            if parent not in claimed:
                new[j] = parent
                claimed.add(parent)
        free: dict[int, list[int]] = {}
        for row in range(len(parents)):
            if row not in claimed:
                free.setdefault(row // self.group, []).append(row)
        destinations, sources = [], []
        for j, parent in enumerate(parents):
            if new[j] < 0:
                new[j] = free[parent // self.group].pop(0)  # a row of the same window's group
                destinations.append(new[j])
                sources.append(parent)
        self.rows = new
        return destinations, sources

    def keep(self, windows: list[int]) -> None:
        """Keep only the beams of the groups ``windows`` (ascending), renumbered ``0, 1, ...`` in that order,
        as the cache does when windows are retired (:meth:`DecoderState.keep_windows`): each beam keeps its
        place within its group."""
        g = self.group
        self.rows = [new * g + self.rows[j] % g for new, w in enumerate(windows) for j in range(w * g, (w + 1) * g)]
