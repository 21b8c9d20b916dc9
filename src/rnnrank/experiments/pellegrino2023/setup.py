"""The setup of the Pellegrino et al. (2023) reproduction: sizes and the teacher's calibration
targets, fixed from the paper's numbers (``paper()``), and the smaller ``quick()``."""

from __future__ import annotations

from dataclasses import dataclass

PAPER = {"baseline_error": 0.01, "curl_onset_error": 0.065, "washout_onset_error": 0.07}
"""Hand-to-target MSE of the paper's teacher (REFERENCES.md §2)."""


@dataclass(frozen=True)
class Setup:
    """Sizes and the teacher's calibration targets (``paper()``; ``quick()`` shrinks sizes).

    The teacher is fixed from the paper's numbers, never from fits: pretraining stops at the
    paper's baseline error (0.01); the curl is the strength at which that network's error is the
    paper's onset error (0.065); the SGD learning rate (plain SGD on W, one step per trial —
    the paper retrains every trial by SGD, and plain SGD keeps the span argument of its theory)
    is the smallest on a ×1.5 grid whose excess error falls by 1/e within ``recovery_trials``
    = 15 curl trials ("decaying back within tens of trials"). The washout onset (paper ≈ 0.07)
    is not tuned: it is a check.
    """

    n_rec: int = 200                  # paper's example RNN: 200 units
    trials: tuple[int, int, int] = (50, 100, 100)  # paper: baseline, curl, washout
    baseline_error: float = PAPER["baseline_error"]
    onset_error: float = PAPER["curl_onset_error"]
    recovery_trials: int = 15         # "within tens of trials": 1/e time of 15 trials
    pretrain_lr: float = 3e-3
    pretrain_max_steps: int = 5000
    n_units: int = 100                # paper's data: ~100–300 recorded units
    bin_s: float = 0.02               # 10–20 ms bins; dt·τ with τ = 100 ms, dt = 0.2
    smooth_bins: float = 2.0          # 40 ms Gaussian, as the LtrRNN notebook (σ = 4 × 10 ms)
    fit_n_rec: int = 50               # LtrRNN grid N ∈ {50, 200}
    ranks: tuple[int, ...] = (1, 2, 3, 4, 5, 10, 20)  # LtrRNN rank grid
    splits: tuple[int, ...] = (0, 1, 2)  # ≥ 3 splits × seeds
    fit_iter: int = 1500
    cp_ranks: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    cp_restarts: int = 3
    seed: int = 0
    label: str = "paper"              # "quick" for quick(): the report lists what it leaves out


def paper() -> Setup:
    return Setup()


def quick() -> Setup:
    return Setup(n_rec=80, trials=(30, 60, 60), n_units=40, fit_n_rec=40, ranks=(1, 2, 3, 4),
                 fit_iter=200, cp_ranks=(1, 2, 3, 4, 5), cp_restarts=2, label="quick")


QUICK_LEAVES_OUT = ("network of 80 units instead of 200", "150 trials (30/60/60) instead of 250",
                    "40 recorded units instead of 100", "rank grid 1–4 instead of "
                    "{1, 2, 3, 4, 5, 10, 20}", "200 Adam iterations per fit instead of 1500",
                    "CP ranks 1–5 of ΔW with 2 restarts instead of 1–8 with 3")
