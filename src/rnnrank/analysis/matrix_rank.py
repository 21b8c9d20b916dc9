"""Matrix rank of the connectivity change ΔW = W − W0 (Schuessler et al. 2020, NeurIPS).

All functions take NumPy arrays or torch tensors and compute in float64.
"""

from __future__ import annotations

import numpy as np


def _as_float64(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def singular_values(delta) -> np.ndarray:
    """Singular values, descending, of ΔW [N, N] (or a stack [..., N, N] → [..., N])."""
    m = _as_float64(delta)
    if m.ndim < 2:
        raise ValueError(f"expected a matrix [N, N] or a stack [..., N, N], got shape {m.shape}")
    return np.linalg.svd(m, compute_uv=False)


def participation_ratio(svals) -> np.ndarray:
    """(Σ s²)² / Σ s⁴ over the last axis: the effective number of singular values (1 … N)."""
    p = np.asarray(svals, dtype=np.float64) ** 2
    return p.sum(-1) ** 2 / np.maximum((p**2).sum(-1), np.finfo(float).tiny)


def delta_norms(weights) -> np.ndarray:
    """‖W(k) − W(0)‖_F over a trajectory [K, N, N] → [K], read snapshot by snapshot."""
    w0 = _as_float64(weights[0])
    return np.array([np.linalg.norm(_as_float64(weights[k]) - w0) for k in range(len(weights))])
