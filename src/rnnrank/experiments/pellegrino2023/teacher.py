"""The teacher of the Pellegrino et al. (2023) reproduction: a reaching network that learns like
the paper's, recorded as the paper's example records it.

Trials (``trial_schedule``): centre-out reaches to 8 targets, each target once per block of 8 in
random order, each trial with its own preparatory period (``Reach(hold_jitter=…)``: a random
go-cue time), so trials to one target differ for a reason other than learning — as the paper's
teacher data do (random preparatory durations, aligned on the go cue; REFERENCES.md §2).

Calibration (fixed from the paper's hand-error numbers, REFERENCES.md §2, before any fit; the
rule is in ``setup.Setup``'s docstring):

1. ``pretrain``: Adam on all parameters of a ``RateRNN`` on fresh batches of such trials until
   the hand error on a fixed evaluation batch stops improving (``plateau`` relative change over
   ``window`` updates); the baseline error (paper ≈ 0.01) is then a check, not a stopping rule.
2. ``calibrate_curl``: the curl strength at which this network's hand error is the paper's
   onset error ≈ 0.065 (bisection; the error grows monotonically with the curl here).
3. ``calibrate_lr``: the smallest SGD learning rate on a ×1.5 grid whose curl-field error has
   fallen, after ``recovery_trials`` trials, to baseline + (onset − baseline)/e — a recovery
   time constant of that many trials ("decaying back within tens of trials").
4. ``learn``: one SGD step of W per trial (the trial's own error, plain SGD: the span argument
   of the paper's theory holds for it), through baseline → curl → washout. ``frozen=True`` is
   the null control: the same trials (same targets, same preparatory periods) with no update.

The error of a trial or batch is ``Reach.score``: the masked hand MSE over radius²/2.
Recording: ``learn`` keeps the rates φ(x) of every unit aligned on each trial's go cue
(``Reach.align_on_go``). The paper arm fits them as they are (float activity of all units, as
the authors' example does); the detection-limit arm draws Poisson counts from them
(``spike_counts``: rate ν_i exp(β φ(x_i(t))) Hz, ν_i ∈ [5, 20] Hz × ``rate_scale``, counts
Poisson(λΔ) in bins of Δ) and smooths and z-scores them as real data (``smooth_zscore``).
``variance_shares`` splits the clean rates' variance into learning and non-learning parts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ...models import RateRNN
from ...tasks import Batch


def trial_schedule(task, n_trials: int, *, seed: int) -> Batch:
    """``n_trials`` single trials in order: targets in shuffled blocks of ``task.n_targets``
    (each target once per block), each with its own preparatory period. ``info``: condition
    [K], go [K] (go-cue step)."""
    g = np.random.default_rng(seed)
    C = task.n_targets
    cond = np.concatenate([g.permutation(C) for _ in range(n_trials // C + 1)])[:n_trials]
    gen = torch.Generator().manual_seed(seed)
    trials = [dataclasses.replace(task, conditions=(int(c),)).sample(1, generator=gen)
              for c in cond]
    return Batch(*(torch.cat([getattr(b, f) for b in trials], 1)
                   for f in ("inputs", "targets", "mask")),
                 {"condition": torch.as_tensor(cond),
                  "go": torch.cat([b.info["go"] for b in trials])})


def hand_error(model: RateRNN, task, batch, curl: float) -> float:
    """Normalised hand error (``Reach.score``) of ``model`` on ``batch`` in a curl field."""
    with torch.no_grad():
        out, _ = model.run(batch.inputs, grad=False)
    return float(task.with_perturbation(curl=curl).score(out, batch))


def pretrain(model: RateRNN, task, eval_batch, *, lr: float, max_steps: int,
             batch_size: int = 64, window: int = 200, tol: float = 0.02,
             seed: int = 0) -> dict:
    """Adam on all parameters, a fresh batch of ``batch_size`` trials per update, until learning
    has finished: every ``window`` updates the hand error on ``eval_batch`` is measured, and
    training stops when it fell by less than ``tol`` (relative) over the last window, or at
    ``max_steps``. Returns {"steps", "converged", "curve": [(update, error)]}."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    curve = [(0, hand_error(model, task, eval_batch, 0.0))]
    for step in range(1, max_steps + 1):
        batch = task.sample(batch_size, generator=gen)
        opt.zero_grad()
        out, _ = model.run(batch.inputs)
        task.score(out, batch).backward()
        opt.step()
        if step % window == 0:
            curve.append((step, hand_error(model, task, eval_batch, 0.0)))
            before, now = curve[-2][1], curve[-1][1]
            if before - now < tol * before:
                return {"steps": step, "converged": True, "curve": curve}
    return {"steps": max_steps, "converged": False, "curve": curve}


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


def _sgd_trial(model: RateRNN, task, trials: Batch, k: int, curl: float, lr: float):
    """Trial ``k`` of ``trials`` in a curl field: returns (its error, states [T + 1, 1, 1, N]),
    then W ← W − lr ∇_W error."""
    trial = Batch(*(x[:, k:k + 1] for x in (trials.inputs, trials.targets, trials.mask)),
                  {key: v[k:k + 1] for key, v in trials.info.items()})
    out, states = model.run(trial.inputs)
    err = task.with_perturbation(curl=curl).score(out, trial).sum()
    if lr > 0:
        (g,) = torch.autograd.grad(err, model.W)
        with torch.no_grad():
            model.W -= lr * g
    return float(err.detach()), states


def calibrate_lr(model: RateRNN, task, trials: Batch, *, curl: float, baseline: float,
                 recovery_trials: int, onset_batch, lr0: float = 0.01, factor: float = 1.5,
                 max_lr: float = 50.0) -> float:
    """Smallest lr on the grid lr0·factorᵏ whose error over curl trials ``recovery_trials`` ± 2
    of ``trials`` (mean) is ≤ baseline + (onset − baseline)/e, onset measured on
    ``onset_batch``. The model is left unchanged."""
    if trials.batch_size < recovery_trials + 3:
        raise ValueError(f"need ≥ {recovery_trials + 3} calibration trials, got "
                         f"{trials.batch_size}")
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    onset = hand_error(model, task, onset_batch, curl)
    goal = baseline + (onset - baseline) / math.e
    lr = lr0
    try:
        while lr <= max_lr:
            errs = [_sgd_trial(model, task, trials, k, curl, lr)[0]
                    for k in range(recovery_trials + 3)]
            model.load_state_dict(saved)
            if np.mean(errs[recovery_trials - 2:]) <= goal:
                return lr
            lr *= factor
    finally:
        model.load_state_dict(saved)
    raise ValueError(f"no lr ≤ {max_lr} recovers within {recovery_trials} trials")


def learn(model: RateRNN, task, schedule: Batch, *, trials: tuple[int, int, int],
          curl: float, lr: float, frozen: bool = False) -> dict[str, np.ndarray]:
    """Trial-by-trial learning on ``schedule`` (module docstring, step 4); the model is updated
    in place.

    Returns arrays W [K, N, N] (weights of trial k), rates φ(x) [T', K, N] aligned on each
    trial's go cue (index ``task.go_range()[0]`` is the go cue), condition [K], go [K],
    epoch [K] (0 baseline, 1 curl, 2 washout), error [K].
    """
    epoch = np.repeat([0, 1, 2], trials)
    K = len(epoch)
    if schedule.batch_size != K:
        raise ValueError(f"the schedule has {schedule.batch_size} trials, trials={trials} "
                         f"needs {K}")
    Ws, rates, errs = [], [], []
    for k in range(K):
        Ws.append(model.W.detach().clone())
        err, states = _sgd_trial(model, task, schedule, k, curl if epoch[k] == 1 else 0.0,
                                 0.0 if frozen else lr)
        r = model.phi.f(states[1:, 0]).detach()  # [T, 1, N]
        rates.append(task.align_on_go(r, schedule.info["go"][k:k + 1])[:, 0])
        errs.append(err)
    return {"W": torch.stack(Ws).numpy(), "rates": torch.stack(rates, 1).numpy(),
            "condition": schedule.info["condition"].numpy(),
            "go": schedule.info["go"].numpy(), "epoch": epoch, "error": np.array(errs)}


def variance_shares(learner: np.ndarray, null: np.ndarray, condition: np.ndarray) -> dict:
    """How much of the clean rates' variance learning carries, and how much the null varies.

    ``learner``, ``null``: rates [T, K, n] of the same trials with W learning / frozen.
    - ``learning_share`` = Σ (r_learn − r_null)² / Σ (r_learn − mean over t, k)²: the part of
      the learner's variance that only the weight change explains;
    - ``null_within_condition_share`` = Σ (r_null − its condition mean)² / Σ (r_null − mean)²:
      trial-to-trial variability that is not learning (0 for identical trials of a condition).
    """
    def total(x):
        return float(((x - x.mean(axis=(0, 1), keepdims=True)) ** 2).sum())

    within = 0.0
    for c in np.unique(condition):
        x = null[:, condition == c]
        within += float(((x - x.mean(axis=1, keepdims=True)) ** 2).sum())
    return {"learning_share": float(((learner - null) ** 2).sum()) / total(learner),
            "null_within_condition_share": within / total(null)}


def spike_counts(rates: np.ndarray, units: np.ndarray, *, bin_s: float, seed: int,
                 nu: tuple[float, float] = (5.0, 20.0), beta: float = 1.0,
                 rate_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(counts [T, K, n] int64, expected counts λΔ [T, K, n]) of the units ``units`` of
    network rates φ(x) [T, K, N] (module docstring); baseline rates ν × ``rate_scale``."""
    g = np.random.default_rng(seed)
    base = g.uniform(*nu, size=len(units)) * rate_scale
    lam = base * np.exp(beta * rates[:, :, units]) * bin_s
    return g.poisson(lam).astype(np.int64), lam
