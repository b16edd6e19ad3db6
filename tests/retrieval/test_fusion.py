import pytest

from retrieval.fusion import reciprocal_rank_fusion


def test_item_ranked_well_by_both_wins() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"]], k=60)
    assert [item for item, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_items_in_one_list_only_still_appear() -> None:
    fused = dict(reciprocal_rank_fusion([["a"], ["z"]], k=1))
    assert fused == {"a": 0.5, "z": 0.5}


def test_weights_and_ties() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([["a"], ["z"]], k=1)] == ["a", "z"]  # tie: first seen first
    assert [i for i, _ in reciprocal_rank_fusion([["a"], ["z"]], k=1, weights=[1, 2])] == ["z", "a"]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1, 2])


def test_empty() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
