"""Matrix rank of the connectivity change ΔW = W − W0 (Schuessler et al. 2020, NeurIPS).

Spectra and effective ranks of ΔW, its best rank-R approximation (Eckart–Young), and the same
measures over a whole weight trajectory W(k). All functions take NumPy arrays or torch tensors
and compute in float64.
"""

from __future__ import annotations

import numpy as np

from ..ensemble import check_member, select_member

EFFECTIVE_RANKS = ("participation", "entropy", "fraction")


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


def effective_rank(svals, kind: str = "participation", *, fraction: float = 0.9) -> np.ndarray:
    """Effective rank of a matrix from its singular values ``svals [..., n]`` (last axis).

    Args:
        kind: ``"participation"``: (Σ s²)² / Σ s⁴; ``"entropy"``: exp(−Σ p log p) with
            p = s² / Σ s² (Roy & Vetterli 2007, on s² as energies); ``"fraction"``: the number of
            leading singular values that carry a fraction ``fraction`` of ‖ΔW‖²_F = Σ s².
            All three equal R for R equal non-zero singular values.
        fraction: for ``kind="fraction"``, in (0, 1].

    Returns:
        float array [...] (int-valued for ``"fraction"``); 0 for an all-zero matrix.
    """
    s = np.asarray(svals, dtype=np.float64)
    if kind not in EFFECTIVE_RANKS:
        raise ValueError(f"kind must be one of {EFFECTIVE_RANKS}, got {kind!r}")
    energy = s**2
    total = energy.sum(-1, keepdims=True)
    zero = total[..., 0] <= 0
    if kind == "participation":
        out = participation_ratio(s)
    elif kind == "entropy":
        p = energy / np.where(total > 0, total, 1.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        out = np.exp(-plogp.sum(-1))
    else:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        cum = np.cumsum(np.sort(energy, axis=-1)[..., ::-1], axis=-1)
        # Relative slack of 1e-12 so that planted equal values are not split by round-off.
        out = (cum < fraction * total * (1 - 1e-12)).sum(-1).astype(np.float64) + 1.0
    return np.where(zero, 0.0, out)


def low_rank(delta, rank: int) -> np.ndarray:
    """Best rank-``rank`` approximation of ΔW [N, M] in Frobenius norm (truncated SVD)."""
    d = _as_float64(delta)
    if d.ndim != 2:
        raise ValueError(f"expected a matrix [N, M], got shape {d.shape}")
    n = min(d.shape)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank:
        raise ValueError(f"rank must be an integer in 0..{n}, got {rank!r}")
    if rank == 0:
        return np.zeros_like(d)
    if rank >= n:
        return d.copy()
    u, s, vt = np.linalg.svd(d, full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


def truncate(w0, delta, rank: int) -> np.ndarray:
    """W0 + ΔW_R, ΔW_R the best rank-R approximation of ΔW; R = 0 gives W0, R ≥ N gives W0 + ΔW
    exactly (no SVD round-off)."""
    return _as_float64(w0) + low_rank(delta, rank)


def delta_norms(weights) -> np.ndarray:
    """‖W(k) − W(0)‖_F over a trajectory [K, N, N] → [K], read snapshot by snapshot."""
    w0 = _as_float64(weights[0])
    return np.array([np.linalg.norm(_as_float64(weights[k]) - w0) for k in range(len(weights))])


def _member_weights(trajectory, member: int | None):
    """W(k) of one network: a callable k → [N, N] float64, and the number of snapshots."""
    w = trajectory.weights if hasattr(trajectory, "weights") else trajectory
    ensemble = getattr(trajectory, "ensemble", None)
    if ensemble is None:
        ensemble = np.ndim(w[0]) == 3
    member = check_member(member, ensemble)
    return (lambda k: _as_float64(select_member(w[k], member, ensemble))), len(w)


def spectra_over_training(trajectory, *, member: int | None = None,
                          snapshots=None) -> np.ndarray:
    """Singular values of ΔW(k) = W(k) − W(0) for each snapshot: [K, N] (descending).

    Args:
        trajectory: a ``Trajectory`` or an array [K, N, N] (or [K, E, N, N] with ``member``).
        member: ensemble member e for an ensemble trajectory.
        snapshots: indices k to analyse (default all).
    """
    get, count = _member_weights(trajectory, member)
    ks = range(count) if snapshots is None else snapshots
    w0 = get(0)
    return np.stack([singular_values(get(int(k)) - w0) for k in ks])


def ranks_over_training(trajectory, *, member: int | None = None, snapshots=None,
                        fraction: float = 0.9) -> dict[str, np.ndarray]:
    """Effective ranks of ΔW(k) per snapshot: {"participation", "entropy", "fraction",
    "norm"} each [K] (snapshot 0, where ΔW = 0, has rank 0)."""
    s = spectra_over_training(trajectory, member=member, snapshots=snapshots)
    out = {kind: effective_rank(s, kind, fraction=fraction) for kind in EFFECTIVE_RANKS}
    out["norm"] = np.sqrt((s**2).sum(-1))
    return out
