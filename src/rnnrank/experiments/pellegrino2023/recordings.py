"""The two recordings of the Pellegrino et al. (2023) teacher.

- ``paper_arm``: the float rates φ(x) of every unit from the go cue on (t ≥ 0), as the
  authors' example fits its teacher (their loader smooths and z-scores only integer data).
- ``detection_point``: one point of the detection-limit arm — Poisson spike counts of
  ``n_units`` units at baseline rates × ``rate_scale`` in bins of ``bin_steps`` steps,
  smoothed and z-scored as real data (``rnnrank.fitting.loaders.gaussian_smooth``), with the
  noiseless oracle (the same pipeline applied to the expected counts) and the share of the
  recorded variance that is counting noise.
"""

from __future__ import annotations

import numpy as np
import torch

from ...fitting import Recording, split_masks
from ...fitting.loaders import gaussian_smooth
from ...fitting.scores import condition_mean_prediction, nmse
from . import teacher


def _recording(data: np.ndarray, arrays: dict, bin_s: float) -> Recording:
    return Recording(data=torch.as_tensor(data, dtype=torch.float32),
                     condition=arrays["condition"], epoch=arrays["epoch"],
                     times=np.arange(data.shape[0]) * bin_s)


def go_index(task) -> int:
    """Index of the go cue in the teacher's aligned rates."""
    return task.go_range()[0]


def paper_arm(arrays: dict, task, bin_s: float) -> tuple[Recording, Recording]:
    """(learner, null): rates [T, K, N] of every unit from the go cue on, float, unscaled."""
    go = go_index(task)
    return (_recording(arrays["rates"][go:], arrays, bin_s),
            _recording(arrays["null_rates"][go:], arrays, bin_s))


def zscore(x: np.ndarray, stats: tuple | None = None):
    """Per-neuron z-score over time and trials (``stats`` = (mean [n], sd [n]) to reuse)."""
    if stats is None:
        stats = (x.mean(axis=(0, 1)), np.maximum(x.std(axis=(0, 1)), 1e-9))
    return (x - stats[0]) / stats[1], stats


def detection_point(arrays: dict, task, *, n_units: int, rate_scale: float, bin_steps: int,
                    bin_s: float, smooth_bins: float, seed: int, key: str = "rates") -> dict:
    """Counts of one detection-limit point (module docstring) from ``arrays[key]`` rates.

    Returns {"recording": Recording of smoothed z-scored counts (t ≥ 0), "oracle": the
    expected counts through the same smoothing and the data's z-score [T, K, n],
    "smoothed_expected" (before the z-score) and "stats" (the data's z-score),
    "noise_share": 1 − Var(oracle) / Var(data), "mean_rate_hz", "units"}. The same ``seed``
    gives the same units and baseline rates for the learner and the null."""
    go = go_index(task)
    rates = arrays[key][go:]
    T = (rates.shape[0] // bin_steps) * bin_steps
    units = np.sort(np.random.default_rng(seed).choice(rates.shape[2], size=n_units,
                                                       replace=False))
    _, lam = teacher.spike_counts(rates[:T], units, bin_s=bin_s, seed=seed + 7,
                                  rate_scale=rate_scale)
    lam = lam.reshape(T // bin_steps, bin_steps, *lam.shape[1:]).sum(1)  # counts per bin
    counts = np.random.default_rng(seed + 11).poisson(lam)
    sigma = smooth_bins / bin_steps  # the same smoothing in time (ms) at every bin size
    z, stats = zscore(gaussian_smooth(counts.astype(np.float64), sigma))
    oracle, _ = zscore(gaussian_smooth(lam, sigma), stats)
    return {"recording": _recording(z, arrays, bin_s * bin_steps), "oracle": oracle,
            "smoothed_expected": gaussian_smooth(lam, sigma), "stats": stats,
            "noise_share": float(1 - oracle.var() / z.var()),
            "mean_rate_hz": float(counts.mean() / (bin_s * bin_steps)), "units": units}


def learning_oracle(learner: np.ndarray, null: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """[T, K, n]: the null's condition mean plus the learner − null difference — the data with
    its non-learning variability removed; ``oracle_budget`` of it is what learning alone is
    worth on held-out entries."""
    out = learner - null
    for c in np.unique(condition):
        idx = condition == c
        out[:, idx] += null[:, idx].mean(axis=1, keepdims=True)
    return out


def baseline_spread(rec: Recording, splits) -> float:
    """SD over the splits of the held-out nMSE of the condition mean (no fit needed)."""
    errs = []
    for s in splits:
        train, test = split_masks(rec, seed=int(s))
        errs.append(nmse(condition_mean_prediction(rec, train), rec, test))
    return float(np.std(errs, ddof=1)) if len(errs) > 1 else float("nan")
