"""Dynamics of one run before (W(0)) and after (W(K)) training (``rnnrank analyze --lyapunov
--fixed-points``): Lyapunov spectra and fixed points, as JSON and figures in RUN/analysis/.

λ_max before and after training is Liu, Zhang & Liu's (2024) view of what an initialisation asks
of learning; the fixed points under zero input and their stability are Sussillo & Barak's (2013)
view of what the trained network computes (a flip-flop network's memories are stable points).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..dynamics.fixed_points import fixed_points
from ..dynamics.lyapunov import lyapunov_spectrum
from ..store.atomic import write_text_atomic
from ..store.trajectory import load_trajectory

PARAMETERS = ("W", "U", "V", "b", "x0")


def _models(run: Path):
    """(task, {"before": model at W(0), "after": model at the last snapshot}), float64."""
    from ..store.run_dir import rebuild

    model, task = rebuild(run)
    traj = load_trajectory(run)
    if len(traj) < 2:
        raise ValueError(f"{run} holds {len(traj)} snapshot(s); need at least 2 (W(0), W(K))")
    models = {}
    for label, k in (("before", 0), ("after", len(traj) - 1)):
        m = type(model).from_config(model.config, dtype=torch.float64)
        with torch.no_grad():
            for name in PARAMETERS:
                if name in traj.names:
                    value = torch.as_tensor(np.asarray(traj.parameter(name)[k]))
                    getattr(m, name).copy_(value.reshape(getattr(m, name).shape))
        models[label] = m
    return task, models, int(traj.steps[-1])


def dynamics_report(run: str | Path, *, lyapunov: bool = True, fixed: bool = True,
                    member: int | None = None, k: int = 10, steps: int = 2000,
                    warmup: int = 500, n_init: int = 64, seed: int = 0) -> dict:
    """Lyapunov spectra and/or fixed points before and after training of the run in ``run``.

    Lyapunov: the k leading exponents of the autonomous network (zero input; nats per step and
    per unit time; ``steps`` after ``warmup``) and λ_max driven by 8 of the task's trials.
    Fixed points: under zero input, from ``n_init`` starts. All members of an ensemble are
    analysed; the figures show ``member`` (default 0). Writes ``RUN/analysis/dynamics.json``
    and ``lyapunov.png`` / ``fixed_points.png``; returns the summary.
    """
    run = Path(run)
    task, models, final_step = _models(run)
    E = models["before"].ensemble_size
    member = 0 if member is None else member
    if not 0 <= member < E:
        raise ValueError(f"member must be in 0..{E - 1}, got {member}")
    k = min(k, models["before"].n_rec)
    inputs = task.sample(8, generator=torch.Generator().manual_seed(seed)).inputs
    summary: dict = {"run": str(run), "final_step": final_step, "member": member,
                     "dt": models["before"].config.dt}
    out = run / "analysis"
    out.mkdir(exist_ok=True)
    if lyapunov:
        lya = {}
        for label, m in models.items():
            res = lyapunov_spectrum(m, k=k, steps=steps, warmup=warmup, seed=seed,
                                     full=True)
            driven = lyapunov_spectrum(m, k=1, steps=steps, warmup=warmup, inputs=inputs,
                                       seed=seed, full=True)
            lya[label] = {
                "spectrum_per_step": _rows(res.exponents, E),
                "stderr_per_step": _rows(res.stderr, E),
                "lambda_max_per_step": [r[0] for r in _rows(res.exponents, E)],
                "lambda_max_per_time": [r[0] / m.config.dt for r in _rows(res.exponents, E)],
                "lambda_max_driven_per_step": [r[0] for r in _rows(driven.exponents, E)],
            }
        summary["lyapunov"] = lya
        _plot_lyapunov(lya, member, out / "lyapunov.png")
    if fixed:
        fps = {}
        found = {}
        for label, m in models.items():
            result = fixed_points(m, n_init=n_init, seed=seed)
            result = result if isinstance(result, list) else [result]
            found[label] = result[member]
            fps[label] = [{"n_points": len(f), "n_stable": int(f.stable.sum()),
                           "n_unstable_dims": f.n_unstable.tolist(),
                           "max_modulus": f.eigenvalues.abs()[:, 0].tolist(),
                           "n_converged": f.n_converged, "n_starts": f.n_starts}
                          for f in result]
        summary["fixed_points"] = fps
        _plot_fixed_points(found, models["after"], member, out / "fixed_points.png", seed)
    write_text_atomic(out / "dynamics.json", json.dumps(summary, indent=1))
    return summary


def _rows(t: torch.Tensor, E: int) -> list:
    """Exponents [k] or [E, k] as a list of E lists."""
    return t.reshape(E, -1).tolist()


def _plot_lyapunov(lya: dict, member: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
    for label, colour in (("before", "C0"), ("after", "C3")):
        spec = np.asarray(lya[label]["spectrum_per_step"][member])
        err = np.asarray(lya[label]["stderr_per_step"][member])
        ax.errorbar(np.arange(1, len(spec) + 1), spec, yerr=err, fmt="o-", color=colour,
                    label=f"{label} (W({'0' if label == 'before' else 'K'}))", ms=3)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel="index i", ylabel="λ_i (nats / step)", title="Lyapunov spectrum")
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_fixed_points(found: dict, trained, member: int, path: Path, seed: int) -> None:
    """Fixed points in the top-2 PCs of the trained network's autonomous activity, and the
    Jacobian eigenvalues at each trained fixed point against the unit circle."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    after = found["after"]
    pts = after.points.numpy()
    theta = np.linspace(0, 2 * np.pi, 200)
    ax[1].plot(np.cos(theta), np.sin(theta), color="0.5", lw=0.8, label="|λ| = 1 (stability)")
    if len(pts):
        centre = pts.mean(0)
        basis = np.linalg.svd(pts - centre, full_matrices=False)[2][:2].T \
            if len(pts) > 1 else np.eye(pts.shape[1])[:, :2]
        proj = (pts - centre) @ basis
        if proj.shape[1] < 2:
            proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
        stable = after.stable.numpy()
        ax[0].scatter(*proj[stable].T, c="k", label="stable", s=25)
        ax[0].scatter(*proj[~stable].T, facecolors="none", edgecolors="C3", label="unstable",
                      s=25)
        for i, (eig, st) in enumerate(zip(after.eigenvalues.numpy(), stable, strict=True)):
            # one colour per fixed point, its marker as in the left panel (filled: stable)
            ax[1].scatter(eig.real, eig.imag, s=6, alpha=0.6, color=f"C{i % 10}",
                          label=f"point {i + 1} ({'stable' if st else 'unstable'})"
                          if i < 8 else None)
        ax[1].legend(frameon=False, fontsize=7, markerscale=2, loc="upper left",
                     bbox_to_anchor=(1.02, 1))
    ax[0].set(title=f"fixed points after training ({len(pts)}; before: {len(found['before'])})",
              xlabel="PC 1", ylabel="PC 2")
    ax[0].legend(frameon=False, fontsize=8)
    ax[1].set(title="eigenvalues of ∂F/∂x at them", xlabel="Re", ylabel="Im", aspect="equal")
    fig.savefig(path, dpi=110)
    plt.close(fig)
