"""Choosing the CP rank: error vs rank and agreement between restarts (Williams et al. 2018).

Williams, Kim, Wang, Vyas, Ryu, Shenoy, Schnitzer, Kolda & Ganguli (2018), "Unsupervised
discovery of demixed, low-dimensional neural dynamics across multiple timescales through
tensor component analysis", Neuron 98: fit every rank several times, plot the error of every
restart and the similarity of each restart to the best one, and pick the smallest rank that
fits about as well as any larger one while its restarts find the same components.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .tensor_rank import CPDecomposition, fit_restarts

__all__ = ["RankSelection", "cp_similarity", "select_cp_rank"]


def cp_similarity(first: CPDecomposition, second: CPDecomposition) -> float:
    """Similarity in [0, 1] of two CP models, invariant to permutation and sign of components.

    For components ``r`` of ``first`` and ``s`` of ``second`` the score is
    ``|Π_modes cos(u_r, v_s)| · (1 − |λ_r − λ_s| / max(λ_r, λ_s))``; components are matched by
    the Hungarian algorithm and the matched scores averaged over the components of the model
    with more of them (an unmatched component scores 0).
    """
    cos = np.ones((first.rank, second.rank))
    for u, v in zip(first.factors, second.factors, strict=True):
        u = u.detach().double().cpu().numpy()
        v = v.detach().double().cpu().numpy()
        u = u / np.maximum(np.linalg.norm(u, axis=0), 1e-300)
        v = v / np.maximum(np.linalg.norm(v, axis=0), 1e-300)
        cos *= u.T @ v
    lam_u = first.weights.detach().double().cpu().numpy()[:, None]
    lam_v = second.weights.detach().double().cpu().numpy()[None, :]
    scale = 1 - np.abs(lam_u - lam_v) / np.maximum(np.maximum(lam_u, lam_v), 1e-300)
    score = np.abs(cos) * scale
    # imported here: scipy.optimize adds 0.16 s to every `import rnnrank` (each sweep worker)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(score, maximize=True)
    return float(score[rows, cols].sum() / max(first.rank, second.rank))


@dataclass(frozen=True)
class RankSelection:
    """Result of :func:`select_cp_rank`.

    Attributes:
        ranks: ``[n_ranks]`` ranks tried, increasing.
        errors: ``[n_ranks, n_restarts]`` relative error of every restart, best first per row.
        restart_similarity: ``[n_ranks, n_restarts]`` similarity of each restart to the best
            (column 0 is the best itself, 1.0).
        similarity: ``[n_ranks]`` mean similarity of the other restarts to the best (NaN when
            ``n_restarts == 1``).
        best_rank: the chosen rank (see :func:`select_cp_rank` for the rule).
        decompositions: the best decomposition at each rank.
    """

    ranks: np.ndarray
    errors: np.ndarray
    restart_similarity: np.ndarray
    similarity: np.ndarray
    best_rank: int
    threshold: float
    min_similarity: float
    decompositions: tuple[CPDecomposition, ...] = field(repr=False)

    @property
    def notes(self) -> list[str]:
        """Plain-language cautions about ``best_rank`` for every summary that prints it: the
        largest rank tried (a larger one may fit better: try more), and restarts that do not
        find the same components there (the components are not identifiable at that rank)."""
        out = []
        if len(self.ranks) > 1 and self.best_rank == int(self.ranks[-1]):
            out.append(f"the chosen CP rank {self.best_rank} is the largest tried: the rank may "
                       "be larger (try more ranks)")
        i = int(np.flatnonzero(self.ranks == self.best_rank)[0])
        s = float(self.similarity[i])
        if np.isfinite(s) and s < self.min_similarity:
            out.append(f"restarts disagree at CP rank {self.best_rank} (similarity {s:.2f} < "
                       f"{self.min_similarity:g}): its components are not reproducible")
        return out

    def plot(self):
        """Figure with error vs rank (every restart a dot) and similarity vs rank."""
        from matplotlib.figure import Figure  # Agg-safe: no pyplot, no global state

        fig = Figure(figsize=(8, 3.2))
        ax_err, ax_sim = fig.subplots(1, 2)
        n_restarts = self.errors.shape[1]
        jitter = np.linspace(-0.1, 0.1, n_restarts) if n_restarts > 1 else np.zeros(1)
        for column in range(n_restarts):
            x = self.ranks + jitter[column]
            ax_err.plot(x, self.errors[:, column], "o", ms=3, color="0.5", alpha=0.7)
            ax_sim.plot(x, self.restart_similarity[:, column], "o", ms=3, color="0.5", alpha=0.7)
        ax_err.plot(self.ranks, self.errors[:, 0], "-", color="C0", label="best restart")
        ax_sim.plot(self.ranks, self.similarity, "-", color="C0", label="mean similarity")
        ax_sim.axhline(self.min_similarity, ls=":", color="0.4")
        for ax in (ax_err, ax_sim):
            ax.axvline(self.best_rank, ls="--", color="C3", label=f"chosen rank {self.best_rank}")
            ax.set_xlabel("rank")
            ax.set_xticks(self.ranks)
        ax_err.set_ylabel("relative error ‖X − X̂‖/‖X‖")
        ax_sim.set_ylabel("similarity to best restart")
        ax_sim.set_ylim(-0.05, 1.05)
        ax_err.legend(frameon=False)
        fig.tight_layout()
        return fig


def _choose(ranks, best_errors, similarity, threshold, min_similarity, atol) -> int:
    gain = np.append(best_errors[:-1] - best_errors[1:], 0.0)  # e_r - e_{r+1}
    small = gain <= threshold * best_errors + atol
    settled = np.flip(np.logical_and.accumulate(np.flip(small)))  # no big gain from r on
    agree = ~(similarity < min_similarity)  # NaN (one restart) counts as agreeing
    both = np.flatnonzero(settled & agree)
    return int(ranks[both[0]] if both.size else ranks[np.flatnonzero(settled)[0]])


def select_cp_rank(
    tensor,
    ranks: Iterable[int] = range(1, 9),
    *,
    n_restarts: int = 5,
    seed: int = 0,
    threshold: float = 0.05,
    min_similarity: float = 0.9,
    atol: float = 0.02,
    **cp_kwargs,
) -> RankSelection:
    """Fit CP models of every rank in ``ranks`` and choose one.

    Rule: with ``e_r`` the lowest relative error at rank ``r`` and ``s_r`` the mean similarity
    (:func:`cp_similarity`) of the other restarts to the best, the chosen rank is the smallest
    ``r`` such that

        e_r' − e_(r'+1) ≤ threshold · e_r' + atol  (every tried r' ≥ r)  and  s_r ≥ min_similarity,

    i.e. the smallest model after which no added component lowers the error by more than
    ``threshold`` (relative, default 5%), and whose restarts find the same components
    (Williams et al. 2018). Comparing neighbouring ranks, rather than the best error of all
    ranks, keeps the choice independent of how many ranks beyond the true one are tried:
    every component fitted to pure noise lowers the error by about
    ``(K^½ + 2 N^½)² / (2 K N²)`` of itself (≈1% for a 30×20×20 tensor). A component is
    counted when leaving it out raises the error by more than ``threshold``, roughly when its
    energy exceeds ``2·threshold`` (10%) of the residual energy. ``atol`` (0.02) also
    ignores components that lower the relative error by less than 2 percentage points: on
    weight trajectories trained with Adam every extra component shaves a near-constant
    fraction off an already small residual, and a purely relative rule would always pick the
    largest rank tried. If no rank meets both conditions, the smallest rank meeting the first
    is chosen.

    Args:
        tensor: ``[K, N, N]`` (see :func:`cp_decompose`).
        ranks: ranks to try (positive integers).
        n_restarts, seed: passed to :func:`cp_decompose` at every rank.
        threshold, min_similarity, atol: the rule above.
        **cp_kwargs: other :func:`cp_decompose` arguments (``tol``, ``mask``, ``center``...).
    """
    ranks_arr = np.array(sorted({int(r) for r in ranks}))
    if ranks_arr.size == 0 or ranks_arr[0] < 1:
        raise ValueError(f"ranks must be positive integers, got {list(ranks_arr)}")
    if not 0 <= threshold:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    errors = np.zeros((ranks_arr.size, n_restarts))
    restart_similarity = np.ones((ranks_arr.size, n_restarts))
    best = []
    for row, rank in enumerate(ranks_arr):
        fits = fit_restarts(tensor, int(rank), n_restarts=n_restarts, seed=seed, **cp_kwargs)
        errors[row] = [fit.relative_error for fit in fits]
        restart_similarity[row] = [cp_similarity(fits[0], fit) for fit in fits]
        best.append(fits[0])
    similarity = (
        restart_similarity[:, 1:].mean(axis=1)
        if n_restarts > 1
        else np.full(ranks_arr.size, np.nan)
    )
    chosen = _choose(ranks_arr, errors[:, 0], similarity, threshold, min_similarity, atol)
    return RankSelection(
        ranks=ranks_arr,
        errors=errors,
        restart_similarity=restart_similarity,
        similarity=similarity,
        best_rank=chosen,
        threshold=threshold,
        min_similarity=min_similarity,
        decompositions=tuple(best),
    )
