"""The prefix tree that ``LlamaScorer.compare_all`` decodes a group of texts as (pure: token
lists in, cells, sequences and output rows out; the real model is in
tests/integration/test_corrector.py)."""

from __future__ import annotations

from inbox_ocr.correct.model import _Tree


def cells(tree: _Tree) -> list[tuple[int, int, list[int], bool]]:
    return list(zip(tree.token, tree.position, tree.lanes(0), tree.wanted, strict=True))


def test_each_distinct_prefix_is_one_cell_in_the_sequences_of_every_text_through_it() -> None:
    # BOS=1, then a line's baseline up to one suspect, a variant of it, and the line up to a
    # later suspect, which begins with the first baseline.
    seqs = [[1, 10, 11, 12], [1, 10, 21, 12], [1, 10, 11, 12, 13, 14]]
    tree = _Tree(seqs, [0, 1, 2], lo=2)
    assert tree.cells() == 8  # 1 10 11 12 13 14 and 21 12: 8 cells for the texts' 14 tokens
    assert tree.sequences() == 2  # the first text lies inside the third: no sequence of its own
    by_node = cells(tree)
    assert by_node[0] == (1, 0, [0, 1], False)
    assert by_node[1] == (10, 1, [0, 1], True)  # scores 11 and 21, the first scored tokens
    assert tree.paths[0] == tree.paths[2][:4]
    # A row wherever a scored token follows (position >= lo): after 10, 11, 21, 12 and 13.
    assert tree.rows() == 5
    assert [token for token, _p, _l, wanted in by_node if wanted] == [10, 11, 12, 21, 13]


def test_identical_texts_share_every_cell() -> None:
    seqs = [[1, 5, 6]] * 40
    tree = _Tree(seqs, range(40), lo=1)
    assert (tree.cells(), tree.sequences(), tree.rows()) == (3, 1, 2)


def test_texts_without_a_shared_first_token_are_separate_roots() -> None:
    tree = _Tree([[7, 8], [9, 8]], [0, 1], lo=1)
    assert cells(tree) == [(7, 0, [0], True), (8, 1, [0], False),
                           (9, 0, [1], True), (8, 1, [1], False)]


def test_the_prompt_and_a_text_no_longer_than_it_get_no_rows() -> None:
    tree = _Tree([[1, 2, 3], [1, 2]], [0, 1], lo=3)
    assert tree.rows() == 0 and tree.sequences() == 1
