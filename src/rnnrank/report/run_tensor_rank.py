"""Tensor-rank analysis of one run directory (``rnnrank analyze RUN --tensor-rank``).

Stacks ΔW(k) = W(k) − W(0) over the recorded snapshots into a [K, N, N] tensor (Pellegrino et
al. 2023 decompose the learning-induced change; W(0) alone is full rank), selects its CP rank
(``select_cp_rank``), draws error and similarity vs rank and the chosen factors (learning
time courses c_r(k), post- and presynaptic loadings), and checks the rank bounds of gradient
descent that apply to the run's configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..analysis import rank_bounds
from ..analysis.rank_selection import select_cp_rank
from ..store.atomic import read_yaml, write_text_atomic
from ..store.trajectory import load_trajectory


def applicable_bounds(config: dict, weights: np.ndarray) -> list[dict]:
    """Rank bounds whose assumptions the run's configuration meets, checked on its ΔW(k)."""
    m, t = config["model"], config["train"]
    out = []
    sgd = t.get("optimizer") == "sgd"
    linear = m.get("nonlinearity") == "identity"
    zero = all(float(g) == 0.0 for g in m.get("gains", [1.0])) and "x0" not in m.get(
        "trainable", ())
    rtol = 1e-9 if weights.dtype == np.float64 else 1e-4  # float32 storage: ~1e-7 round-off
    if sgd and linear and zero:
        check = rank_bounds.check_linear_zero_init(weights, m["n_in"], m["n_out"], rtol=rtol)
        out.append({"bound": "linear network from W0 = 0",
                    "assumptions": check.bound.assumptions,
                    "matrix_rank_bound": check.bound.matrix_rank,
                    "tensor_rank_bound": check.bound.tensor_rank,
                    "max_measured_rank": max(check.measured),
                    "multilinear_rank": list(check.multilinear), "holds": check.holds})
    return out


def tensor_rank_report(run: str | Path, *, ranks=range(1, 11), member: int | None = None,
                       n_restarts: int = 3, seed: int = 0, center: bool = True) -> dict:
    """Select the CP rank of ΔW(k) of a run; writes ``RUN/analysis/tensor_rank*.png|json``."""
    run = Path(run)
    traj = load_trajectory(run)
    if len(traj) < 2:
        raise ValueError(f"{run} holds {len(traj)} snapshot(s); need at least 2")
    w = np.asarray(traj.weights)
    if traj.ensemble:
        w = w[:, 0 if member is None else member]
    tensor = w - w[0] if center else w
    if center:
        tensor = tensor[1:]  # ΔW(0) = 0 carries nothing
        steps = traj.steps[1:]
    else:
        steps = traj.steps
    selection = select_cp_rank(tensor.astype(np.float64, copy=False), ranks,
                               n_restarts=n_restarts, seed=seed)
    best = selection.decompositions[list(selection.ranks).index(selection.best_rank)]
    out = run / "analysis"
    out.mkdir(exist_ok=True)
    selection.plot().savefig(out / "tensor_rank.png", dpi=110)
    from .figures import cp_factors

    cp_factors(best, steps).savefig(out / "tensor_rank_factors.png", dpi=110)
    summary = {
        "run": str(run), "member": member, "centered": center,
        "tensor_shape": list(tensor.shape), "ranks": selection.ranks.tolist(),
        "best_error_per_rank": selection.errors[:, 0].tolist(),
        "similarity_per_rank": [None if np.isnan(s) else float(s)
                                for s in selection.similarity],
        "best_rank": int(selection.best_rank),
        "relative_error_at_best_rank": float(best.relative_error),
        "notes": selection.notes,
        "rank_bounds": applicable_bounds(read_yaml(run / "config.yaml"), w),
    }
    write_text_atomic(out / "tensor_rank.json", json.dumps(summary, indent=1))
    return summary
