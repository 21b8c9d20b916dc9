"""Reproduce Pellegrino, Cayco-Gajic & Chadwick (2023, NeurIPS): read learning out of activity.

1. Train a ``RateRNN`` on centre-out ``reach`` (8 targets) to baseline performance (BPTT, Adam).
2. Learn trial by trial — one SGD update of W per trial, batch of one — through baseline (50
   trials) → curl field (100) → washout (100), recording the weights W(k) that produced trial k
   and the activity of every trial (rates φ(x) [T, K, N]) and its hand error.
3. (i) the CP rank of the true ΔW(k) = W(k) − W(0) tensor (``analysis.select_cp_rank``);
   (ii) low-tensor-rank RNN fits of ranks 1..8 to the z-scored activity of a subset of units,
   rank chosen by block cross-validation (``fitting.cross_validate``);
   (iii) recovered vs true: principal angles between the fitted directions mapped to the
   recorded units (span D â, span D b̂) and the true CP directions restricted to those units,
   and how well the fitted c(k) explain the true trial factors (R² of a linear map).
4. Report (``report_dir/index.md``): hand paths early and late in adaptation, error per trial, CV
   curve, factors, and a table.

Everything is cached in ``out`` (baseline network, learning record, fits as JSON/NPZ), so a
rerun resumes after a kill. ``quick`` sizes run in minutes on 2 cores.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..analysis import select_cp_rank
from ..fitting import FitOptions, Recording, cross_validate, fit_ltr
from ..learning import masked_mse
from ..models import RateRNN
from ..tasks import Batch, make


@dataclass(frozen=True)
class Setup:
    """Sizes of the reproduction (``paper()``: the paper's; ``quick()``: minutes on 2 cores)."""

    n_rec: int = 200
    gain: float = 1.0
    pretrain_steps: int = 2000
    pretrain_lr: float = 1e-3
    trials: tuple[int, int, int] = (50, 100, 100)
    curl: float = 0.5
    sgd_lr: float = 0.1
    n_units: int = 100
    fit_n_rec: int = 100
    ranks: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    fit_iter: int = 1500
    cp_restarts: int = 3
    seed: int = 0


def paper() -> Setup:
    return Setup()


def quick() -> Setup:
    return Setup(n_rec=80, pretrain_steps=600, trials=(30, 60, 60), n_units=40, fit_n_rec=40,
                 ranks=(1, 2, 3, 4, 5, 6), fit_iter=400, cp_restarts=2)


def pretrain(setup: Setup, task, path: Path) -> RateRNN:
    """The baseline network (cached as a state dict of plain tensors)."""
    model = RateRNN(n_in=task.n_in, n_rec=setup.n_rec, n_out=task.n_out, gain=setup.gain,
                    seed=setup.seed)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model
    from ..learning import train

    train(model, task, steps=setup.pretrain_steps, lr=setup.pretrain_lr,
          record_every=setup.pretrain_steps, seed=setup.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def learn_trial_by_trial(model: RateRNN, task, setup: Setup, path: Path) -> dict[str, np.ndarray]:
    """One SGD update of W per trial through baseline → curl → washout (cached as .npz).

    Returns arrays: W [K, N, N] (weights that produced trial k), rates [T, K, N], condition
    [K], epoch [K] (0 baseline, 1 curl, 2 washout), error [K] (hand error of trial k).
    """
    if path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    g = torch.Generator().manual_seed(setup.seed + 1)
    epochs = np.repeat([0, 1, 2], setup.trials)
    K = len(epochs)
    conds = torch.cat([torch.randperm(task.n_targets, generator=g) for _ in range(K // 8 + 1)])
    base = one_per_target(task)
    out = {"W": [], "rates": [], "condition": [], "epoch": epochs, "error": []}
    for k in range(K):
        field = task.with_perturbation(curl=setup.curl if epochs[k] == 1 else 0.0)
        i = int(conds[k])
        inputs, targets, mask = (x[:, i:i + 1] for x in (base.inputs, base.targets, base.mask))
        out["W"].append(model.W.detach().clone())
        outputs, states = model.run(inputs)
        loss = masked_mse(field.effector(outputs), targets, mask).sum()
        (gW,) = torch.autograd.grad(loss, model.W)
        with torch.no_grad():
            model.W -= setup.sgd_lr * gW
        out["rates"].append(torch.tanh(states[1:, 0, 0]).detach())
        out["condition"].append(int(conds[k]))
        out["error"].append(float(loss.detach()) / (0.5 * task.radius**2))
    arrays = {"W": torch.stack(out["W"]).numpy(), "rates": torch.stack(out["rates"], 1).numpy(),
              "condition": np.array(out["condition"]), "epoch": epochs,
              "error": np.array(out["error"])}
    np.savez(path, **arrays)
    return arrays


def one_per_target(task) -> Batch:
    """A batch whose trial j reaches to target j (j = 0 … n_targets − 1); reach trials are
    deterministic given the target."""
    trials = [dataclasses.replace(task, conditions=(j,)).sample(1)
              for j in range(task.n_targets)]
    return Batch(*(torch.cat([getattr(b, f) for b in trials], 1)
                   for f in ("inputs", "targets", "mask")),
                 {"condition": torch.arange(task.n_targets)})


def hand_paths(model: RateRNN, task, W: np.ndarray, curl: float) -> np.ndarray:
    """Hand positions [T, 8, 2] of the network with weights W on all 8 targets in a field."""
    batch = one_per_target(task)
    with torch.no_grad():
        saved = model.W.detach().clone()
        model.W.copy_(torch.as_tensor(W))
        outputs, _ = model.run(batch.inputs, grad=False)
        model.W.copy_(saved)
    return task.with_perturbation(curl=curl).effector(outputs[:, 0]).numpy()


def recording_of(arrays: dict, task, setup: Setup) -> tuple[Recording, np.ndarray]:
    """Z-scored rates of ``n_units`` random units as a Recording (times < 0 before go)."""
    g = np.random.default_rng(setup.seed)
    units = np.sort(g.choice(setup.n_rec, size=setup.n_units, replace=False))
    r = arrays["rates"][:, :, units]
    z = (r - r.mean(axis=(0, 1))) / np.maximum(r.std(axis=(0, 1)), 1e-6)
    go = task.steps(task.hold)
    times = (np.arange(r.shape[0]) - go) * task.dt
    rec = Recording(data=torch.as_tensor(z, dtype=torch.float32), condition=arrays["condition"],
                    times=times, epoch=arrays["epoch"])
    return rec, units


def principal_angles(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Principal angles (degrees) between span(X) and span(Y), X [n, p], Y [n, q]."""
    from scipy.linalg import subspace_angles

    return np.degrees(subspace_angles(X, Y))[::-1]


def r2_linear_map(c_fit: np.ndarray, c_true: np.ndarray) -> np.ndarray:
    """R² per true component of c_true ≈ [c_fit, 1] M (least squares)."""
    X = np.c_[c_fit, np.ones(len(c_fit))]
    M = np.linalg.lstsq(X, c_true, rcond=None)[0]
    resid = ((X @ M - c_true) ** 2).sum(0)
    return 1 - resid / ((c_true - c_true.mean(0)) ** 2).sum(0)


def compare(c_fit: np.ndarray, a_fit: np.ndarray, b_fit: np.ndarray, D: np.ndarray, cp,
            units: np.ndarray, seed: int) -> dict:
    """Recovered vs true (see module docstring); chance = angles to random subspaces.

    c_fit [K, R] (trials matching the CP's), a_fit, b_fit [N_fit, R], D [n, N_fit]."""
    C, A, B = (t.double().numpy() for t in cp.factors)
    rng = np.random.default_rng(seed)
    n = len(units)
    out = {"angles_a": principal_angles(D @ a_fit, A[units]).tolist(),
           "angles_b": principal_angles(D @ b_fit, B[units]).tolist(),
           "chance_angles": principal_angles(rng.standard_normal((n, a_fit.shape[1])),
                                             A[units]).tolist(),
           "c_r2": r2_linear_map(c_fit, C * cp.weights.double().numpy()).tolist()}
    corr = np.corrcoef(c_fit.T, C.T)[: c_fit.shape[1], c_fit.shape[1]:]
    out["c_best_abs_corr"] = np.abs(corr).max(axis=0).tolist()
    return out


def reproduce(out: str | Path = "runs/pellegrino2023", *, quick_run: bool = False,
              progress: bool = False) -> dict:
    """Run (or resume) every step and write ``out/index.md``. Returns the results."""
    from .pellegrino2023_report import write_report

    setup = quick() if quick_run else paper()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    torch.manual_seed(setup.seed)
    task = make("reach")
    model = pretrain(setup, task, out / "baseline.pt")
    test = task.sample(256, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        baseline_score = float(task.score(model(test.inputs), test))
    arrays = learn_trial_by_trial(model, task, setup, out / "learning.npz")
    K = len(arrays["epoch"])
    delta = torch.as_tensor(arrays["W"] - arrays["W"][:1])
    sel = select_cp_rank(delta[1:], ranks=setup.ranks, n_restarts=setup.cp_restarts,
                         seed=setup.seed)
    cp = sel.decompositions[list(sel.ranks).index(sel.best_rank)]
    rec, units = recording_of(arrays, task, setup)
    opts = FitOptions(max_iter=setup.fit_iter)
    log = (lambda r, s, v: print(f"  rank {r} seed {s}: held-out nMSE {v:.4f}", flush=True)) \
        if progress else None
    cv = cross_validate(rec, setup.ranks, n_rec=setup.fit_n_rec, options=opts,
                        seeds=(setup.seed,), progress=log)
    fit = fit_ltr(rec, cv.best_rank, n_rec=setup.fit_n_rec, options=opts, seed=setup.seed)
    # ΔW(0) = 0 is dropped from the CP fit (it carries no direction): compare trials 1..K−1.
    c_fit, a_fit, b_fit = (t.double().numpy() for t in fit.factors)
    recovery = compare(c_fit[1:], a_fit, b_fit, fit.readout.double().numpy(), cp, units,
                       setup.seed)
    base, curl = setup.trials[0], setup.trials[0] + setup.trials[1]
    paths = {"early": hand_paths(model, task, arrays["W"][base], setup.curl),
             "late": hand_paths(model, task, arrays["W"][curl - 1], setup.curl)}
    results = {
        "setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(setup).items()},
        "baseline_score": baseline_score, "trials": K,
        "error_per_trial": arrays["error"].tolist(), "epoch": arrays["epoch"].tolist(),
        "true_cp": {"ranks": list(map(int, sel.ranks)),
                    "errors": sel.errors[:, 0].tolist(), "best_rank": int(sel.best_rank)},
        "cv": {"scores": {str(k): v for k, v in cv.scores.items()}, "baselines": cv.baselines,
               "best_rank": int(cv.best_rank)},
        "fit": {"rank": fit.rank, "train_nmse": fit.train_error, "iterations": fit.iterations},
        "recovery": recovery, "seconds": round(time.perf_counter() - t0, 1),
        "networks": [setup.n_rec],
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    np.savez(out / "factors.npz", fit_c=fit.factors[0].numpy(), true_c=cp.factors[0].numpy(),
             true_weights=cp.weights.numpy(), early=paths["early"], late=paths["late"])
    write_report(results, out, cv=cv, paths=paths, fit_c=fit.factors[0].numpy(),
                 true_c=(cp.factors[0] * cp.weights).numpy())
    return results
