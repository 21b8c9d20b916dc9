"""Standard figures of one run: loss and score over learning, the spectrum of ΔW, ‖ΔW(k)‖.

Every function returns a matplotlib ``Figure`` (Agg backend, nothing is shown) so notebooks can
display it and reports can save it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..analysis.matrix_rank import delta_norms, singular_values  # noqa: E402
from ..store.trajectory import Trajectory  # noqa: E402


def _members(values: np.ndarray) -> np.ndarray:
    return values if values.ndim == 2 else values[:, None]


def loss_curve(traj: Trajectory, metrics: list[tuple] | None = None,
               score_name: str = "score") -> Figure:
    """Training loss per update (from metrics.csv rows when given) and the task score."""
    fig, (ax_l, ax_s) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    if metrics:
        rows = np.array([(r[0], r[1], r[2]) for r in metrics])
        for e in np.unique(rows[:, 1]):
            sel = rows[rows[:, 1] == e]
            ax_l.plot(sel[:, 0], sel[:, 2], lw=0.8, alpha=0.8)
    else:
        ax_l.plot(traj.steps, _members(traj.loss))
    ax_l.set(yscale="log", xlabel="update", ylabel="loss (masked MSE)", title="loss")
    ax_s.plot(traj.steps, _members(traj.score), marker=".")
    ax_s.set(xlabel="update", ylabel=score_name, title="task performance")
    return fig


def alignment_curve(metrics: list[tuple], fields: tuple[str, ...]) -> Figure:
    """Cosine of the rule's gradient estimate with the exact gradient over learning, per
    parameter (``cos_<name>`` columns of metrics.csv, written with ``track_alignment=True``)."""
    rows = np.array(metrics, dtype=float)
    names = [f for f in fields if f.startswith("cos_")]
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        col = rows[:, fields.index(name)]
        for e in np.unique(rows[:, 1]):
            sel = (rows[:, 1] == e) & np.isfinite(col)
            ax.plot(rows[sel, 0], col[sel], marker=".", lw=0.8)
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set(xlabel="update", title=name.replace("cos_", "cos ∠ "), ylim=(-1.05, 1.05))
    axes[0][0].set_ylabel("cosine with the exact gradient")
    return fig


def delta_spectrum(traj: Trajectory, n_show: int = 20) -> Figure:
    """Singular values of ΔW = W(K) − W(0) (bars) against those of W(0) (grey dots)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
    s_delta = singular_values(traj.delta())
    s_w0 = singular_values(np.asarray(traj.weights[0], dtype=np.float64))
    if s_delta.ndim == 2:  # ensemble: show member 0
        s_delta, s_w0 = s_delta[0], s_w0[0]
    k = np.arange(1, min(n_show, len(s_delta)) + 1)
    ax.bar(k, s_delta[: len(k)], color="C3", label="ΔW = W(K) − W(0)")
    ax.plot(k, s_w0[: len(k)], "o", color="0.6", ms=3, label="W(0)")
    ax.set(xlabel="index", ylabel="singular value", yscale="log", title="spectrum of ΔW")
    ax.legend(frameon=False, fontsize=8)
    return fig


def delta_norm_curve(traj: Trajectory) -> Figure:
    """‖W(k) − W(0)‖_F over learning, beside ‖W(0)‖_F for scale."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
    if traj.ensemble:
        w = np.asarray(traj.weights)
        norms = np.stack([delta_norms(w[:, e]) for e in range(w.shape[1])], axis=1)
    else:
        norms = delta_norms(traj.weights)
    ax.plot(traj.steps, norms)
    ax.set(xlabel="update", ylabel="‖ΔW(k)‖_F", title="connectivity change over learning")
    w0 = float(np.linalg.norm(np.asarray(traj.weights[0], dtype=np.float64)))
    ax.text(0.02, 0.95, f"‖W(0)‖_F = {w0:.3g}", transform=ax.transAxes, va="top", fontsize=8)
    return fig
