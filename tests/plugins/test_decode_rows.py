"""RowLayout: beams keep their parent's cache row; only a parent's extra children are copied, within its window."""

from __future__ import annotations

from mediakit_decode.rows import RowLayout


def replay(layout: RowLayout, caches: list[str], source: list[int]) -> list[str]:
    """Apply a step to per-row cache contents and return each beam's cache, in the search's order."""
    destinations, sources = layout.follow(source)
    assert not set(destinations) & set(sources)  # a copy never overwrites the source of another
    for dst, src in zip(destinations, sources):
        caches[dst] = caches[src]
    return [caches[row] for row in layout.rows]


def test_each_beam_sees_its_parents_cache_and_only_extra_children_are_copied():
    layout = RowLayout(6, group=3)  # two windows of three beams
    caches = ["a0", "a1", "a2", "b0", "b1", "b2"]
    source = [1, 1, 0, 5, 3, 3]  # beam 1 has two children, beam 2 none; window b likewise
    assert replay(layout, caches, source) == ["a1", "a1", "a0", "b2", "b0", "b0"]
    assert layout.rows[0] == 1 and layout.rows[2] == 0  # first children kept their parents' rows
    assert all(row // 3 == j // 3 for j, row in enumerate(layout.rows))  # rows stay in their window
    # a second step starts from the new layout: beam j is now at layout.rows[j]
    caches = [c + "." for c in caches]
    assert replay(layout, caches, [2, 0, 0, 3, 4, 5]) == ["a0.", "a1.", "a1.", "b2.", "b0.", "b0."]


def test_no_copies_when_every_beam_has_one_child():
    layout = RowLayout(3, group=3)
    assert layout.follow([2, 0, 1]) == ([], [])
    assert layout.rows == [2, 0, 1] and not layout.identity


def test_keeping_windows_renumbers_their_groups_and_keeps_each_beam_in_its_place():
    layout = RowLayout(9, group=3)  # three windows
    layout.follow([2, 2, 1, 3, 4, 5, 8, 6, 7])  # window a: beam 1 lost its child; window c rotated
    before = list(layout.rows)
    layout.keep([0, 2])  # window b is done
    assert layout.rows == [before[0], before[1], before[2], before[6] - 3, before[7] - 3, before[8] - 3]
