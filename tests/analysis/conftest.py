"""Shared helpers of the analysis tests: planted low-rank tensors."""

import numpy as np


def planted(rank, shape=(30, 20, 20), noise=0.0, seed=0):
    """``X = Σ_r w_r c_r ∘ a_r ∘ b_r + E`` with Gaussian factors, weights 1 → 0.5 and
    ``‖E‖ = noise · ‖signal‖``. Returns (X, weights, factors) in float64."""
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((d, rank)) for d in shape]
    factors = [f / np.linalg.norm(f, axis=0) for f in factors]
    weights = np.linspace(1.0, 0.5, rank) * np.sqrt(np.prod(shape))
    x = np.einsum("r,kr,ir,jr->kij", weights, *factors)
    if noise:
        e = rng.standard_normal(shape)
        x = x + e * noise * np.linalg.norm(x) / np.linalg.norm(e)
    return x, weights, factors
