"""cp_decompose against planted CP tensors, TensorLy, and its own invariances (float64)."""

import numpy as np
import pytest
import torch

from conftest import planted
from rnnrank.analysis import CPDecomposition, cp_decompose, cp_similarity


def _truth(weights, factors):
    return CPDecomposition(
        weights=torch.tensor(weights),
        factors=tuple(torch.tensor(f) for f in factors),
        relative_error=0.0,
        n_iter=0,
        converged=True,
        errors=np.zeros(1),
    )


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("rank", [1, 3, 5])
def test_recovers_planted_factors_without_noise(rank, compress):
    x, weights, factors = planted(rank, seed=rank)
    fit = cp_decompose(x, rank, compress=compress)
    # Exact rank-R data: ALS converges to round-off; 1e-6 leaves room for the stopping rule.
    assert fit.relative_error < 1e-6
    # Similarity 1 - 1e-6: cosines of recovered and planted factors are 1 up to the fit error.
    assert cp_similarity(fit, _truth(weights, factors)) > 1 - 1e-6


@pytest.mark.parametrize("noise", [0.05, 0.1])
def test_noisy_error_matches_noise_level(noise):
    x, weights, factors = planted(4, noise=noise, seed=7)
    fit = cp_decompose(x, 4)
    # The fit absorbs a share ~(K+2N)R/(KN²) ≈ 1.4% of the noise energy; it cannot do worse
    # than the planted model (error = noise) and cannot fit much more of the noise.
    assert 0.97 * noise < fit.relative_error <= noise * (1 + 1e-9)
    # Factors of well-separated components are perturbed by O(noise): similarity stays > 0.9.
    assert cp_similarity(fit, _truth(weights, factors)) > 0.9


def test_output_conventions():
    x, _, _ = planted(3, noise=0.05, seed=3)
    fit = cp_decompose(x, 3)
    c, a, b = fit.factors
    assert c.shape == (30, 3) and a.shape == (20, 3) and b.shape == (20, 3)
    assert torch.all(fit.weights[:-1] >= fit.weights[1:])
    for f in fit.factors:  # unit columns up to round-off
        torch.testing.assert_close(f.norm(dim=0), torch.ones(3, dtype=torch.float64))
    for f in (a, b):  # largest-|.| entry of each post/pre column is positive
        assert torch.all(f[f.abs().argmax(dim=0), torch.arange(3)] > 0)
    resid = np.linalg.norm(x - fit.to_tensor().numpy()) / np.linalg.norm(x)
    assert resid == pytest.approx(fit.relative_error, rel=1e-10)  # same quantity, round-off


@pytest.mark.parametrize("compress", [False, True])
def test_error_history_non_increasing(compress):
    x, _, _ = planted(4, noise=0.1, seed=2)
    fit = cp_decompose(x, 4, init="random", n_restarts=1, compress=compress)
    steps = np.diff(fit.errors)
    # Accepted iterations never increase the error; 1e-12 allows round-off in the cheap error.
    assert np.all(steps <= 1e-12), steps.max()
    assert fit.n_iter == len(fit.errors) - 1


def test_fixed_seed_reproduces_exactly():
    x, _, _ = planted(3, noise=0.1, seed=5)
    first = cp_decompose(x, 3, seed=11, init="random", n_restarts=2)
    second = cp_decompose(x, 3, seed=11, init="random", n_restarts=2)
    for f, g in zip(first.factors, second.factors, strict=True):
        assert torch.equal(f, g)
    assert np.array_equal(first.errors, second.errors)


@pytest.mark.parametrize("rank", [2, 4])
def test_not_worse_than_tensorly(rank):
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import parafac

    x, _, _ = planted(rank, noise=0.05, seed=rank)
    cp = parafac(tl.tensor(x), rank, init="svd", n_iter_max=500, tol=1e-10)
    theirs = np.linalg.norm(x - tl.cp_to_tensor(cp)) / np.linalg.norm(x)
    ours = cp_decompose(x, rank).relative_error
    assert ours <= theirs + 1e-6  # 1e-6: both stop on tolerances, not at the exact optimum


def test_masked_entries_are_ignored():
    x, _, _ = planted(3, noise=0.05, seed=4)
    mask = np.random.default_rng(0).random(x.shape) > 0.3
    garbage = np.where(mask, x, 1e6)
    nan = np.where(mask, x, np.nan)
    fits = [cp_decompose(t, 3, mask=mask, n_restarts=2) for t in (x, garbage, nan)]
    for other in fits[1:]:  # bit-identical: unobserved values are zeroed before any arithmetic
        for f, g in zip(fits[0].factors, other.factors, strict=True):
            assert torch.equal(f, g)
    # 30% missing, 5% noise: the observed-entry error stays at the noise level (+2% slack).
    assert fits[0].relative_error < 0.05 * 1.02


def test_masked_recovers_noiseless():
    x, weights, factors = planted(3, seed=8)
    mask = np.random.default_rng(1).random(x.shape) > 0.5
    fit = cp_decompose(np.where(mask, x, 0.0), 3, mask=mask, tol=1e-10)
    # Half the entries of an exact rank-3 tensor determine it; EM converges linearly, so
    # 1e-5 (not round-off) is what tol=1e-10 reaches within max_iter.
    assert fit.relative_error < 1e-5
    assert cp_similarity(fit, _truth(weights, factors)) > 1 - 1e-4


def test_center_equals_decomposing_delta():
    x, _, _ = planted(2, noise=0.05, seed=9)
    x = x + np.random.default_rng(3).standard_normal(x.shape[1:])  # a W(0) offset
    centred = cp_decompose(x, 2, center=True, n_restarts=2)
    delta = cp_decompose(x - x[0], 2, n_restarts=2)
    for f, g in zip(centred.factors, delta.factors, strict=True):
        torch.testing.assert_close(f, g, rtol=0, atol=1e-12)  # same arithmetic up to ulps


def test_accepts_trajectory_like_and_dtype():
    class Trajectory:
        def __init__(self, w):
            self.weights = w

    x, _, _ = planted(2, noise=0.05, seed=1)
    fit = cp_decompose(Trajectory(x), 2, dtype=torch.float32, n_restarts=1)
    assert fit.weights.dtype == torch.float32
    assert fit.relative_error < 0.051  # float32 reaches the 5% noise floor to ~1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0}, "rank must be a positive integer, got 0"),
        ({"rank": 2.5}, "rank must be a positive integer, got 2.5"),
        ({"tensor": np.zeros((4, 4))}, r"3-D .* got shape \(4, 4\)"),
        ({"mask": np.ones((2, 2, 2), bool)}, r"mask shape \(2, 2, 2\) must match"),
        ({"tensor": np.full((3, 4, 4), np.nan)}, "non-finite .* mask=np.isfinite"),
        ({"init": "hosvd"}, "init must be 'svd' or 'random'"),
        ({"n_restarts": 0}, "n_restarts must be a positive integer"),
        ({"tensor": np.zeros((3, 4, 4))}, "all zeros"),
        ({"dtype": torch.int64}, "dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {"tensor": np.ones((3, 4, 4)), "rank": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        cp_decompose(args.pop("tensor"), args.pop("rank"), **args)
