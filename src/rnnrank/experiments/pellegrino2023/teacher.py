"""The teacher of the Pellegrino et al. (2023) reproduction: a reaching network that learns like
the paper's, and its recording as spike counts.

Calibration (fixed from the paper's hand-error numbers, REFERENCES.md §2, before any fit; the
rule is in ``Setup``'s docstring of ``pellegrino2023``):

1. ``pretrain``: Adam on all parameters of a ``RateRNN`` over the 8 targets, stopped at the
   first update whose hand error is ≤ the paper's baseline ≈ 0.01.
2. ``calibrate_curl``: the curl strength at which this baseline network's hand error is the
   paper's onset error ≈ 0.065 (bisection; the error grows monotonically with the curl here).
3. ``calibrate_lr``: the smallest SGD learning rate on a ×1.5 grid whose curl-field error has
   fallen, after ``recovery_trials`` trials, to baseline + (onset − baseline)/e — a recovery
   time constant of that many trials ("decaying back within tens of trials").
4. ``learn``: one SGD step of W per trial (batch of one, the trial's own target, plain SGD: the
   span argument of the paper's theory holds for it), through baseline → curl → washout.
   ``frozen=True`` is the null control: the same trials with no update.

Recording (``spike_counts``): a subset of units, firing rate λ_i(t) = ν_i exp(β φ(x_i(t))) Hz
(ν_i baseline rates drawn in [5, 20] Hz, β = 1: 2–55 Hz), counts Poisson(λ Δ) in bins of
Δ = dt·τ (τ = 100 ms, dt = 0.2 → 20 ms bins). ``smooth_zscore`` turns counts into the smoothed,
z-scored rates of the Perich data (Gaussian filter along time, then per-neuron z-score); applied
to the expected counts λΔ with the *data's* mean and SD it gives the noiseless oracle.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...losses import masked_mse
from ...models import RateRNN


def hand_error(model: RateRNN, task, batch, curl: float) -> float:
    """Normalised hand error (``Reach.score``) of ``model`` on ``batch`` in a curl field."""
    field = task.with_perturbation(curl=curl)
    with torch.no_grad():
        out, _ = model.run(batch.inputs, grad=False)
    return float(masked_mse(field.effector(out), batch.targets, batch.mask).mean()) / (
        0.5 * task.radius**2)


def pretrain(model: RateRNN, task, batch, *, target: float, lr: float,
             max_steps: int) -> int:
    """Adam on all parameters until the hand error is ≤ ``target``; returns the steps taken."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        out, _ = model.run(batch.inputs)
        loss = masked_mse(task.effector(out), batch.targets, batch.mask).mean() / (
            0.5 * task.radius**2)
        if float(loss.detach()) <= target:
            return step - 1
        loss.backward()
        opt.step()
    return max_steps


def calibrate_curl(model: RateRNN, task, batch, *, target: float, hi: float = 4.0,
                   iters: int = 30) -> float:
    """Curl strength at which the network's hand error equals ``target`` (bisection)."""
    lo, e_hi = 0.0, hand_error(model, task, batch, hi)
    if e_hi < target:
        raise ValueError(f"even curl={hi} gives error {e_hi:.3f} < target {target}")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if hand_error(model, task, batch, mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _sgd_trial(model: RateRNN, task, batch, i: int, curl: float, lr: float) -> float:
    """One trial to target i in a curl field: returns its error, then W ← W − lr ∇_W error."""
    field = task.with_perturbation(curl=curl)
    inputs, targets, mask = (x[:, i:i + 1] for x in (batch.inputs, batch.targets, batch.mask))
    out, states = model.run(inputs)
    err = masked_mse(field.effector(out), targets, mask).sum() / (0.5 * task.radius**2)
    if lr > 0:
        (g,) = torch.autograd.grad(err, model.W)
        with torch.no_grad():
            model.W -= lr * g
    return float(err.detach()), states


def calibrate_lr(model: RateRNN, task, batch, *, curl: float, baseline: float,
                 recovery_trials: int, lr0: float = 0.01, factor: float = 1.5,
                 max_lr: float = 50.0, seed: int = 0) -> float:
    """Smallest lr on the grid lr0·factorᵏ whose error over curl trials ``recovery_trials`` ± 2
    (mean) is ≤ baseline + (onset − baseline)/e. The model is left unchanged."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    onset = hand_error(model, task, batch, curl)
    goal = baseline + (onset - baseline) / math.e
    order = np.random.default_rng(seed).permutation(np.tile(np.arange(batch.inputs.shape[1]),
                                                             recovery_trials // 8 + 2))
    lr = lr0
    try:
        while lr <= max_lr:
            errs = [_sgd_trial(model, task, batch, int(order[k]), curl, lr)[0]
                    for k in range(recovery_trials + 3)]
            model.load_state_dict(saved)
            if np.mean(errs[recovery_trials - 2:]) <= goal:
                return lr
            lr *= factor
    finally:
        model.load_state_dict(saved)
    raise ValueError(f"no lr ≤ {max_lr} recovers within {recovery_trials} trials")


def learn(model: RateRNN, task, batch, *, trials: tuple[int, int, int], curl: float,
          lr: float, seed: int, frozen: bool = False) -> dict[str, np.ndarray]:
    """Trial-by-trial learning (module docstring, step 4); the model is updated in place.

    Returns arrays W [K, N, N] (weights of trial k), rates φ(x) [T, K, N] (states after each
    step), condition [K], epoch [K] (0 baseline, 1 curl, 2 washout), error [K].
    """
    g = np.random.default_rng(seed)
    epoch = np.repeat([0, 1, 2], trials)
    K, C = len(epoch), batch.inputs.shape[1]
    cond = np.concatenate([g.permutation(C) for _ in range(K // C + 1)])[:K]
    Ws, rates, errs = [], [], []
    for k in range(K):
        Ws.append(model.W.detach().clone())
        err, states = _sgd_trial(model, task, batch, int(cond[k]),
                                 curl if epoch[k] == 1 else 0.0, 0.0 if frozen else lr)
        rates.append(model.phi.f(states[1:, 0, 0]).detach())
        errs.append(err)
    return {"W": torch.stack(Ws).numpy(), "rates": torch.stack(rates, 1).numpy(),
            "condition": cond, "epoch": epoch, "error": np.array(errs)}


def spike_counts(rates: np.ndarray, units: np.ndarray, *, bin_s: float, seed: int,
                 nu: tuple[float, float] = (5.0, 20.0), beta: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(counts [T, K, n] int64, expected counts λΔ [T, K, n]) of the units ``units`` of
    network rates φ(x) [T, K, N] (module docstring)."""
    g = np.random.default_rng(seed)
    base = g.uniform(*nu, size=len(units))
    lam = base * np.exp(beta * rates[:, :, units]) * bin_s
    return g.poisson(lam).astype(np.int64), lam


def smooth_zscore(x: np.ndarray, *, sigma_bins: float, stats: tuple | None = None
                  ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Gaussian filter along time (σ in bins, edges reflected), then z-score per neuron over
    time and trials; ``stats`` = (mean, sd) to reuse another array's (the oracle uses the
    data's). Returns (z [T, K, n], (mean [n], sd [n]))."""
    from scipy.ndimage import gaussian_filter1d

    s = gaussian_filter1d(np.asarray(x, dtype=np.float64), sigma_bins, axis=0, mode="reflect")
    if stats is None:
        stats = (s.mean(axis=(0, 1)), np.maximum(s.std(axis=(0, 1)), 1e-9))
    return (s - stats[0]) / stats[1], stats
