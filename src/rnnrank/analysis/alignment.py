"""Alignment of ΔW's singular vectors with the structure of the random connectivity W0.

The linear theory of Schuessler et al. (2020, NeurIPS), §4, predicts a first-order change
W1 ∝ B0ᵀ w mᵀ B0ᵀ with B0 = (I − W0)⁻¹: the left singular vector of ΔW points along B0ᵀ w (the
readout w propagated backwards through the random network) and the right one along B0 m (the input
m propagated forwards), not along w and m themselves. This module measures those overlaps
(absolute cosines) for a trained network, at one snapshot or over the whole trajectory.
"""

from __future__ import annotations

import numpy as np

from .matrix_rank import _as_float64
from .truncation import snapshot


def _unit_columns(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=0, keepdims=True), np.finfo(float).tiny)


def alignment(w0, delta, m, w, *, n_vectors: int = 3) -> dict[str, np.ndarray]:
    """|cos| between ΔW's leading singular vectors and W0's propagated input/readout vectors.

    Args:
        w0: W0 [N, N]; delta: ΔW [N, N].
        m: input vectors [N, I] (columns of U); w: readout vectors [O, N] (rows of V).
        n_vectors: how many leading singular vectors to compare.

    Returns:
        ``"left_Btw"`` [n, O]: |cos(u_k, B0ᵀ w_o)|; ``"right_Bm"`` [n, I]: |cos(v_k, B0 m_i)|;
        ``"left_w"`` [n, O] and ``"right_m"`` [n, I]: the same against w and m themselves;
        ``"svals"`` [n]. Chance level for random unit vectors is ≈ √(2/(πN)).
    """
    w0, d = _as_float64(w0), _as_float64(delta)
    m, w = _as_float64(m), _as_float64(w)
    n = w0.shape[0]
    A = np.eye(n) - w0
    Bm = np.linalg.solve(A, m)            # B0 m   [N, I]
    Btw = np.linalg.solve(A.T, w.T)       # B0ᵀ w  [N, O]
    u, s, vt = np.linalg.svd(d)
    u, v = u[:, :n_vectors], vt[:n_vectors].T
    def cos(x, y):
        return (np.abs(x.T @ _unit_columns(y)))
    return {"left_Btw": cos(u, Btw), "right_Bm": cos(v, Bm), "left_w": cos(u, w.T),
            "right_m": cos(v, m), "svals": s[:n_vectors]}


def alignment_over_training(trajectory, *, member: int | None = None, snapshots=None,
                            n_vectors: int = 1) -> dict[str, np.ndarray]:
    """``alignment`` of ΔW(k) at each snapshot (k ≥ 1) with W0 and the *initial* U, V (the
    theory's m and w): each entry gains a leading axis [K]; ``"steps"`` [K]."""
    ks = list(range(1, len(trajectory))) if snapshots is None else list(snapshots)
    rows = []
    for k in ks:
        snap = snapshot(trajectory, k=k, member=member)
        rows.append(alignment(snap.W0, snap.delta, snap.U0, snap.V0, n_vectors=n_vectors))
    out = {key: np.stack([r[key] for r in rows]) for key in rows[0]}
    out["steps"] = np.asarray(trajectory.steps)[ks]
    return out
