"""select_cp_rank picks the planted rank of noisy CP tensors."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from conftest import planted
from rnnrank.analysis import select_cp_rank


@pytest.mark.parametrize("noise", [0.05, 0.1])
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5, 6])
def test_picks_planted_rank(rank, noise):
    x, _, _ = planted(rank, noise=noise, seed=rank)
    sel = select_cp_rank(x, ranks=range(1, rank + 3), n_restarts=3)
    assert sel.best_rank == rank
    assert sel.errors.shape == (rank + 2, 3)
    # At the planted rank the best fit is at the noise level (it absorbs ~1-2% of the noise).
    assert sel.errors[rank - 1, 0] == pytest.approx(noise, rel=0.03)


def test_fields_and_plot():
    x, _, _ = planted(2, noise=0.05, seed=0)
    sel = select_cp_rank(x, ranks=[1, 2, 3], n_restarts=2)
    assert list(sel.ranks) == [1, 2, 3]
    assert np.all(sel.errors[:, 0] <= sel.errors[:, 1])  # best restart first
    assert sel.similarity[1] > 0.9  # a unique rank-2 model: restarts agree
    assert [d.rank for d in sel.decompositions] == [1, 2, 3]
    fig = sel.plot()
    assert isinstance(fig, Figure)


def test_bad_ranks_raise():
    with pytest.raises(ValueError, match="ranks must be positive integers"):
        select_cp_rank(np.ones((3, 4, 4)), ranks=[0, 1])


def test_notes_say_when_the_rank_is_the_top_of_the_range_or_restarts_disagree():
    x, _, _ = planted(4, noise=0.05, seed=1)
    top = select_cp_rank(x, ranks=[1, 2], n_restarts=2)  # the planted rank 4 is not tried
    assert top.best_rank == 2 and any("largest tried" in n for n in top.notes)
    fine = select_cp_rank(x, ranks=range(1, 7), n_restarts=3)
    assert fine.best_rank == 4 and fine.notes == []
    # restarts that disagree at the chosen rank (similarity below the rule's minimum)
    from dataclasses import replace

    shaky = replace(fine, similarity=np.where(fine.ranks == 4, 0.5, fine.similarity))
    assert any("restarts disagree at CP rank 4 (similarity 0.50" in n for n in shaky.notes)
