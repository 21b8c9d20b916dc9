"""Build the Pellegrino et al. (2023) teacher and its recordings, fit them, and decide a verdict
per claim."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ...models import RateRNN
from ...tasks import make
from ..framework import Outcome
from . import claims as V
from . import decide, recordings, teacher
from .setup import PAPER, QUICK_LEAVES_OUT, Setup
from .teacher import hand_error


def build_teacher(setup: Setup, task, path: Path) -> dict:
    """Pretrain to convergence, calibrate, learn, and learn frozen (null) on the same trials;
    cached in ``path`` (.npz)."""
    if path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    t0 = time.perf_counter()
    torch.manual_seed(setup.seed)
    model = RateRNN(n_in=task.n_in, n_rec=setup.n_rec, n_out=task.n_out, seed=setup.seed)
    evaluation = teacher.trial_schedule(task, 4 * task.n_targets, seed=setup.seed + 3)
    pre = teacher.pretrain(model, task, evaluation, lr=setup.pretrain_lr,
                           max_steps=setup.pretrain_max_steps, batch_size=setup.pretrain_batch,
                           window=setup.pretrain_window, tol=setup.pretrain_tol,
                           seed=setup.seed)
    base = hand_error(model, task, evaluation, 0.0)
    curl = teacher.calibrate_curl(model, task, evaluation, target=setup.onset_error)
    calibration_trials = teacher.trial_schedule(task, setup.recovery_trials + 3,
                                                seed=setup.seed + 5)
    lr = teacher.calibrate_lr(model, task, calibration_trials, curl=curl, baseline=base,
                              recovery_trials=setup.recovery_trials, onset_batch=evaluation)
    onset = hand_error(model, task, evaluation, curl)  # = onset_error by bisection
    schedule = teacher.trial_schedule(task, sum(setup.trials), seed=setup.seed + 1)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    learner = teacher.learn(model, task, schedule, trials=setup.trials, curl=curl, lr=lr)
    model.load_state_dict(saved)
    null = teacher.learn(model, task, schedule, trials=setup.trials, curl=curl, lr=lr,
                         frozen=True)
    arrays = {**learner, "null_rates": null["rates"], "null_error": null["error"],
              "calibration": np.array([pre["steps"], base, curl, lr, onset,
                                       float(pre["converged"])]),
              "pretrain_curve": np.array(pre["curve"], dtype=np.float64),
              "seconds": np.array(time.perf_counter() - t0)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def hand_curve(arrays: dict, setup: Setup) -> dict:
    """The teacher's hand error at the paper's three landmarks (means of the first 3 trials)."""
    e = arrays["error"]
    b, c = setup.trials[0], setup.trials[0] + setup.trials[1]
    r = setup.recovery_trials
    return {"baseline": float(e[:b].mean()), "curl_onset": float(e[b:b + 3].mean()),
            "curl_after_recovery_trials": float(e[b + r - 2:b + r + 3].mean()),
            "curl_end": float(e[c - 10:c].mean()), "washout_onset": float(e[c:c + 3].mean()),
            "washout_after_recovery_trials": float(e[c + r - 2:c + r + 3].mean()),
            "washout_end": float(e[-10:].mean())}


def reproduce(out: str | Path = "runs/pellegrino2023", *, quick_run: bool = False,
              progress: bool = False, threads: int = 1) -> dict:
    """Run (or resume) every step and write ``out/index.md`` and ``out/results.json``; the
    same as ``rr.experiments.reproduce("pellegrino2023", ...)``, which also returns the
    verdicts as ``Claim``s.

    ``threads``: torch threads of this process while it runs (restored after); the fits run
    in ``rr.sweep`` worker processes, one per core.
    """
    from ..framework import reproduce as drive

    return drive("pellegrino2023", out, quick=quick_run, progress=progress,
                 threads=threads).results


def run_all(out: Path, setup: Setup, *, progress: bool = False, threads: int = 1,
            workers: int | None = None) -> Outcome:
    """Teacher, recordings, fits and the numbers of every claim under ``out`` (cached), with
    ``threads`` torch threads (restored after); the report's live objects in the context."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(Path(out), setup, progress=progress, workers=workers)
    finally:
        torch.set_num_threads(saved)


def _say(progress: bool):
    return (lambda *a: print(*a, flush=True)) if progress else (lambda *a: None)


def _run(out: Path, setup: Setup, *, progress: bool, workers: int | None) -> Outcome:
    say = _say(progress)
    t0 = time.perf_counter()
    seconds = {}
    task = make("reach", **setup.task_options())
    arrays = build_teacher(setup, task, out / "teacher.npz")
    seconds["teacher"] = round(float(arrays["seconds"]), 1) if "seconds" in arrays else None
    steps, base, curl, lr, onset, converged = arrays["calibration"]
    curve = {**hand_curve(arrays, setup), "curl_onset_evaluation": float(onset)}
    say(f"teacher: pretrained {int(steps)} updates (converged {bool(converged)}), baseline "
        f"{base:.4f}, curl {curl:.3f}, SGD lr {lr:.4f}; hand error {curve}")
    rec, null_rec = recordings.paper_arm(arrays, task, setup.bin_s)
    rec_dir = out / "recordings"
    rec_dir.mkdir(parents=True, exist_ok=True)
    rec.save(rec_dir / "paper_learner.npz")
    null_rec.save(rec_dir / "paper_null.npz")
    shares = teacher.variance_shares(rec.data.double().numpy(), null_rec.data.double().numpy(),
                                     arrays["condition"])
    spread0 = recordings.baseline_spread(rec, setup.splits)
    gate = V.teacher_can_test(shares["learning_share"], spread0)
    say(f"clean rates: learning share {shares['learning_share']:.4f}, null within-condition "
        f"share {shares['null_within_condition_share']:.4f}, condition-mean spread over splits "
        f"{spread0:.4f} → {gate['reason']}")
    results = {
        "setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(setup).items()},
        "quick": setup.label == "quick",
        "quick_leaves_out": list(QUICK_LEAVES_OUT) if setup.label == "quick" else [],
        "paper": PAPER,
        "teacher": {"pretrain_steps": int(steps), "pretrain_converged": bool(converged),
                    "pretrain_curve": arrays["pretrain_curve"].tolist(),
                    "baseline_error": float(base), "curl": float(curl), "sgd_lr": float(lr),
                    "hand_error": curve, **shares, "condition_mean_spread": spread0,
                    "max_dW_over_W0": float(np.linalg.norm(arrays["W"] - arrays["W"][:1],
                                                           axis=(1, 2)).max()
                                            / np.linalg.norm(arrays["W"][0]))},
        "gate": gate, "error_per_trial": arrays["error"].tolist(),
        "null_error_per_trial": arrays["null_error"].tolist(),
        "epoch": arrays["epoch"].tolist(), "network_count": 1, "seconds_per_part": seconds,
    }
    if gate["verdict"] != V.REPRODUCED:
        reason = gate["reason"]
        results["verdicts"] = {k: {**V._v(V.INCONCLUSIVE, reason), "paper": p}
                               for k, p in V.CLAIM_PAPER.items()}
        return Outcome(results, {})
    results.update(decide.fit_and_decide(out, setup, task, arrays, rec, null_rec, seconds,
                                         say, workers, progress))
    results["seconds"] = round(time.perf_counter() - t0, 1)
    context = results.pop("_context")
    return Outcome(results, context)
