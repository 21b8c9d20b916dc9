"""Standard figures of one run: learning curves, the trained network doing its task, performance
vs rank-R truncation of ΔW, the spectrum of ΔW, ‖ΔW(k)‖, and the CP factors of ΔW(k).

Every function returns a matplotlib ``Figure`` built without pyplot (see ``_mpl``): nothing is
shown, no backend is chosen, and notebooks can ``display`` it or reports save it.
"""

from __future__ import annotations

import numpy as np

from ..analysis.matrix_rank import delta_norms, singular_values
from ..store.trajectory import Trajectory
from ._mpl import new_figure


def _members(values: np.ndarray) -> np.ndarray:
    return values if values.ndim == 2 else values[:, None]


def _member(values: np.ndarray, member: int | None) -> np.ndarray:
    return values if values.ndim == 1 else values[0 if member is None else member]


def loss_curve(traj: Trajectory, metrics: list[tuple] | None = None,
               score_name: str = "score"):
    """Training loss per update (from metrics.csv rows when given) and the task score."""
    fig, (ax_l, ax_s) = new_figure((9, 3.2), 1, 2)
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


def task_outputs(targets: np.ndarray, mask: np.ndarray, trained: np.ndarray,
                 initial: np.ndarray, dt: float, *, max_channels: int = 4):
    """Outputs of the trained network (solid) and of the W(0) one (faint) against the targets
    (black dashed) on a few test trials; the region where the loss counts is shaded.

    Args:
        targets, mask, trained, initial: [T, B, O] (B trials are drawn as columns, the first
            ``max_channels`` output channels as rows).
        dt: Euler step, to label time in units of τ.
    """
    T, B, O = targets.shape
    n_ch = min(O, max_channels)
    fig, axes = new_figure((2.9 * B + 0.6, 1.5 * n_ch + 0.7), n_ch, B, squeeze=False,
                           sharex=True, sharey=True)
    t = np.arange(T) * dt
    for o in range(n_ch):
        for b in range(B):
            ax = axes[o, b]
            ax.fill_between(t, 0, 1, where=mask[:, b, o] > 0, color="C2", alpha=0.12, lw=0,
                            transform=ax.get_xaxis_transform(), step="mid")
            ax.plot(t, initial[:, b, o], color="0.55", lw=0.8, alpha=0.7, label="W(0) network")
            ax.plot(t, trained[:, b, o], color=f"C{o}", lw=1.2, label="trained network")
            # the target only where it is scored: elsewhere it is a placeholder (often 0)
            scored = np.where(mask[:, b, o] > 0, targets[:, b, o], np.nan)
            ax.plot(t, scored, "k--", lw=0.9, label="target (where scored)")
        axes[o, 0].set_ylabel(f"output {o + 1}")
    for b in range(B):
        axes[0, b].set_title(f"test trial {b + 1}", fontsize=9)
        axes[-1, b].set_xlabel("time (τ)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=3,
               fontsize=8, frameon=False)
    return fig


def truncation_curve(result, score_name: str = "score", threshold: float = 0.05):
    """Loss and score of W0 + [ΔW]_R (trained U, V, b) against R: R = 0 is W0 alone, the
    dashed line the full trained W, the dotted line the untrained network (W0 and initial
    U, V, b); the functional rank (loss < ``threshold`` · loss at R = 0) is marked."""
    fig, (ax_l, ax_s) = new_figure((9, 3.2), 1, 2)
    ranks, loss, score = result.ranks, result.loss, result.score
    finite = ranks < ranks.max()  # the last listed rank is N: drawn as the "full W" line
    ax_l.semilogy(ranks[finite], loss[finite], "o-", ms=3, color="C0", label="W0 + [ΔW]_R")
    ax_l.axhline(result.loss_full, color="C2", ls="--", label="trained W (full ΔW)")
    ax_l.axhline(result.loss_initial, color="0.5", ls=":", label="untrained network")
    ax_l.axhline(threshold * loss[ranks == 0][0], color="C3", lw=0.8, ls="-.",
                 label=f"{threshold:.0%} of loss at R = 0")
    ax_s.plot(ranks[finite], score[finite], "o-", ms=3, color="C0")
    ax_s.axhline(result.score_full, color="C2", ls="--")
    fr = result.functional_rank(threshold)
    for ax in (ax_l, ax_s):
        if fr is not None:
            ax.axvline(fr, color="C3", lw=0.8, alpha=0.6)
        ax.set_xlabel("truncation rank R of ΔW")
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_l.set(ylabel="test loss (masked MSE)",
             title="loss vs rank" + (f" (functional rank {fr})" if fr is not None else ""))
    ax_s.set(ylabel=score_name, title=f"{score_name} vs rank")
    # The lower right of the score panel is empty (the score rises with R): the legend goes there.
    ax_s.legend(*ax_l.get_legend_handles_labels(), fontsize=7, frameon=False, loc="lower right")
    return fig


def alignment_curve(metrics: list[tuple], fields: tuple[str, ...]):
    """Cosine of the rule's gradient estimate with the exact gradient over learning, per
    parameter (``cos_<name>`` columns of metrics.csv, written with ``track_alignment=True``)."""
    rows = np.array(metrics, dtype=float)
    names = [f for f in fields if f.startswith("cos_")]
    fig, axes = new_figure((2.6 * len(names), 2.8), 1, len(names), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        col = rows[:, fields.index(name)]
        for e in np.unique(rows[:, 1]):
            sel = (rows[:, 1] == e) & np.isfinite(col)
            ax.plot(rows[sel, 0], col[sel], marker=".", lw=0.8)
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set(xlabel="update", title=name.replace("cos_", "cos ∠ "), ylim=(-1.05, 1.05))
    axes[0][0].set_ylabel("cosine with the exact gradient")
    return fig


def delta_spectrum(traj: Trajectory, n_show: int = 20, member: int | None = None):
    """Singular values of ΔW = W(K) − W(0) (bars) against those of W(0) (grey dots)."""
    fig, ax = new_figure((4.5, 3.2))
    s_delta = _member(singular_values(traj.delta()), member)
    s_w0 = _member(singular_values(np.asarray(traj.weights[0], dtype=np.float64)), member)
    k = np.arange(1, min(n_show, len(s_delta)) + 1)
    ax.bar(k, s_delta[: len(k)], color="C3", label="ΔW = W(K) − W(0)")
    ax.plot(k, s_w0[: len(k)], "o", color="0.6", ms=3, label="W(0)")
    ax.set(xlabel="index", ylabel="singular value", yscale="log", title="spectrum of ΔW")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, fontsize=8)
    return fig


def delta_norm_curve(traj: Trajectory):
    """‖W(k) − W(0)‖_F over learning (every member of an ensemble), beside ‖W(0)‖_F."""
    fig, ax = new_figure((4.5, 3.2))
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


def cp_factors(decomposition, steps: np.ndarray):
    """CP components of ΔW(k) ≈ Σ_r λ_r c_r(k) a_r b_rᵀ: one row per component with its
    weighted time course λ_r c_r(k) over updates and its post (a_r) and pre (b_r) loadings,
    each sorted in decreasing order."""
    C, A, B = (f.detach().double().cpu().numpy() for f in decomposition.factors)
    lam = decomposition.weights.detach().double().cpu().numpy()
    R = C.shape[1]
    fig, axes = new_figure((10, 1.3 * R + 0.8), R, 3, squeeze=False)
    for r in range(R):
        axes[r, 0].plot(steps, lam[r] * C[:, r], color=f"C{r}")
        axes[r, 0].set_ylabel(f"component {r + 1}", fontsize=8)
        for ax, loading in ((axes[r, 1], A[:, r]), (axes[r, 2], B[:, r])):
            # One filled step path (not N bars: N patches render ~10× slower).
            ax.stairs(np.sort(loading)[::-1], np.arange(len(loading) + 1), fill=True,
                      color=f"C{r}")
    axes[0, 0].set_title("λ_r c_r(k) over learning")
    axes[0, 1].set_title("post loadings a_r (sorted)")
    axes[0, 2].set_title("pre loadings b_r (sorted)")
    axes[-1, 0].set_xlabel("update")
    axes[-1, 1].set_xlabel("neuron (sorted)")
    axes[-1, 2].set_xlabel("neuron (sorted)")
    return fig
