"""Matrix-rank analysis of one run directory (``rnnrank analyze RUN --matrix-rank``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..analysis.matrix_rank import ranks_over_training, spectra_over_training
from ..analysis.truncation import performance_vs_rank
from ..store.atomic import write_text_atomic
from ..store.run_dir import rebuild
from ..store.trajectory import load_trajectory

RANKS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)


def matrix_rank_report(run: str | Path, *, member: int | None = None,
                       batch_size: int = 512, seed: int = 0) -> dict:
    """Spectrum of ΔW, effective ranks over training and loss vs truncation rank; writes
    ``RUN/analysis/{matrix_rank.png, matrix_rank.json}`` and returns the summary."""
    run = Path(run)
    model, task = rebuild(run)
    traj = load_trajectory(run)
    if len(traj) < 2:
        raise ValueError(f"{run} holds {len(traj)} snapshot(s); need at least 2")
    if traj.ensemble and member is None:
        member = 0
    n = model.n_rec
    ranks = [r for r in RANKS if r < n] + [n]
    trunc = performance_vs_rank(model, task, ranks, trajectory=traj, member=member,
                                batch_size=batch_size, seed=seed)
    over = ranks_over_training(traj, member=member)
    s = spectra_over_training(traj, member=member, snapshots=[len(traj) - 1])[0]
    summary = {
        "run": str(run), "member": member, "step": int(traj.steps[-1]),
        "delta_norm": float(np.sqrt(np.sum(s**2))), "top_singular_values": s[:10].tolist(),
        "participation_ratio": float(over["participation"][-1]),
        "entropy_rank": float(over["entropy"][-1]),
        "rank_for_90pct": int(over["fraction"][-1]),
        "ranks": ranks, "loss_vs_rank": trunc.loss.tolist(),
        f"{task.score_name}_vs_rank": trunc.score.tolist(),
        "loss_trained": trunc.loss_full, "loss_initial": trunc.loss_initial,
        "functional_rank": trunc.functional_rank(),
    }
    out = run / "analysis"
    out.mkdir(exist_ok=True)
    from ._mpl import new_figure

    fig, ax = new_figure((12, 3.2), 1, 3)
    ax[0].semilogy(np.arange(1, min(30, len(s)) + 1), s[:30], "o-")
    ax[0].set(title="singular values of ΔW", xlabel="index")
    ax[1].semilogy(ranks[:-1], trunc.loss[:-1], "o-")
    ax[1].axhline(trunc.loss_full, color="C2", ls="--", label="trained")
    ax[1].axhline(0.05 * trunc.loss[0], color="0.5", ls=":", label="5% of loss(R=0)")
    ax[1].set(title="loss of W0 + ΔW_R", xlabel="R")
    ax[1].legend(fontsize=7, frameon=False)
    ax[2].plot(traj.steps, over["participation"], label="participation")
    ax[2].plot(traj.steps, over["fraction"], label="90% of ‖ΔW‖²")
    ax[2].set(title="effective rank of ΔW(k)", xlabel="update")
    ax[2].legend(fontsize=7, frameon=False)
    fig.savefig(out / "matrix_rank.png", dpi=110)
    write_text_atomic(out / "matrix_rank.json", json.dumps(summary, indent=1))
    return summary
