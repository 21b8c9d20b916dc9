"""The setup of the Pellegrino et al. (2023) reproduction: sizes and the teacher's calibration
targets, fixed from the paper's numbers (``paper()``), and the smaller ``quick()``."""

from __future__ import annotations

from dataclasses import dataclass

PAPER = {"baseline_error": 0.01, "curl_onset_error": 0.065, "washout_onset_error": 0.07}
"""Hand-to-target MSE of the paper's teacher (REFERENCES.md §2)."""


@dataclass(frozen=True)
class Setup:
    """Sizes and the teacher's calibration targets (``paper()``; ``quick()`` shrinks sizes).

    Fixed from the paper and its code (REFERENCES.md §2) before any fit, never retuned after:
    the teacher is pretrained to convergence on reaches with a random preparatory period
    (baseline error ≈ 0.01 is then a check); the curl is the strength at which that network's
    error is the paper's onset error (0.065); the SGD learning rate (plain SGD on W, one step
    per trial — the paper retrains every trial by SGD, and plain SGD keeps the span argument of
    its theory) is the smallest on a ×1.5 grid whose excess error falls by 1/e within
    ``recovery_trials`` = 15 curl trials ("decaying back within tens of trials"). The washout
    onset (paper ≈ 0.07) is not tuned: it is a check.

    Two recordings of the same teacher: the *paper arm* (float rates φ(x) of every unit on
    t ≥ 0 after the go cue, as the authors' example fits its teacher) decides the claims; the
    *detection-limit arm* (Poisson counts over ``detect_*``) asks rnnrank's own question — how
    much learning survives spike-count noise — and carries no verdict on the paper.
    """

    n_rec: int = 200                  # paper's example RNN: 200 units
    trials: tuple[int, int, int] = (50, 100, 100)  # paper: baseline, curl, washout
    baseline_error: float = PAPER["baseline_error"]
    onset_error: float = PAPER["curl_onset_error"]
    recovery_trials: int = 15         # "within tens of trials": 1/e time of 15 trials
    hold_jitter: float = 0.4          # ours: random preparatory period 1 ± 0.4 τ (paper's
    #                                   teacher: random durations; their values not readable)
    duration: float = 5.6             # ours: 21 bins from the go cue on, as the paper's 21
    pretrain_lr: float = 3e-3         # ours (Adam)
    pretrain_max_steps: int = 6000    # ours: a cap; pretraining stops at its plateau
    pretrain_batch: int = 64          # ours
    pretrain_window: int = 200        # plateau: < 2 % better over 200 updates (ours)
    pretrain_tol: float = 0.02
    bin_s: float = 0.02               # one step dt·τ, τ = 100 ms, dt = 0.2 (paper: 10 ms bins)
    smooth_bins: float = 2.0          # counts only: 40 ms Gaussian (LtrRNN: σ = 4 × 10 ms)
    fit_n_recs: tuple[int, ...] = (50, 200)  # LtrRNN grid N ∈ {50, 200}
    claims_n_rec: int = 200           # the claims use N = 200, the authors' example fit
    ranks: tuple[int, ...] = (1, 2, 3, 4, 5, 10, 20)  # LtrRNN rank grid
    splits: tuple[int, ...] = (0, 1, 2)  # LtrRNN: 3 seeds; here 3 block splits
    fit_iter: int = 1500              # ours (LtrRNN ≤ 3000 with early stopping)
    cp_ranks: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    cp_restarts: int = 3
    cp_splits: tuple[int, ...] = (0, 1, 2)  # held-out entries of the weight tensor (ours)
    cp_every: int = 4                 # held-out CP on every 4th snapshot (ours: EM-ALS with a
    #                                   mask cannot be compressed; ΔW(k) is smooth in k)
    activity_variance: float = 0.99   # claim (ii): PCs of the rates explaining 99 % (ours)
    detect_units: tuple[int, ...] = (50, 200)       # recorded units (paper's data: ~100–300)
    detect_rate_scales: tuple[float, ...] = (1.0, 4.0)  # × ν ∈ [5, 20] Hz baseline rates
    detect_bins: tuple[int, ...] = (1, 2)           # steps per bin: 20 and 40 ms
    detect_n_rec: int = 50            # detection fits: N = 50 at the paper arm's chosen rank
    seed: int = 0
    label: str = "paper"              # "quick" for quick(): the report lists what it leaves out

    def task_options(self) -> dict:
        """Options of the ``reach`` task of the teacher."""
        return {"hold_jitter": self.hold_jitter, "duration": self.duration}


def paper() -> Setup:
    return Setup()


def quick() -> Setup:
    return Setup(n_rec=60, trials=(24, 48, 48), fit_n_recs=(30,), claims_n_rec=30,
                 ranks=(1, 2, 4), fit_iter=150, cp_ranks=(1, 2, 3, 4), cp_restarts=2,
                 pretrain_max_steps=1200, detect_units=(30,), detect_rate_scales=(1.0,),
                 detect_bins=(1,), detect_n_rec=30, label="quick")


QUICK_LEAVES_OUT = ("network of 60 units instead of 200", "120 trials (24/48/48) instead of 250",
                    "fits at N = 30 instead of N ∈ {50, 200}", "rank grid {1, 2, 4} instead of "
                    "{1, 2, 3, 4, 5, 10, 20}", "150 Adam iterations per fit instead of 1500",
                    "pretraining capped at 1200 updates", "CP ranks 1–4 of the weights with 2 "
                    "restarts instead of 1–8 with 3", "one detection-limit point (30 units, "
                    "1× rates, 20 ms) instead of 2 × 2 × 2")
