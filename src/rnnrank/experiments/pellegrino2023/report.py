"""Figures and the Markdown page of the Pellegrino et al. (2023) reproduction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..formatting import pm
from ..framework import Claim, verdict_table


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name


def _pm(x, digits: int = 3) -> str:
    """(mean, s.e.) pair → "mean ± s.e." at ``digits`` decimals."""
    return pm(x[0], x[1], f".{digits}f")


def write_report(results: dict, out: Path, *, cv, fit, cp) -> Path:
    """Write ``out/index.md``: the four claims with verdicts and numbers, then figures."""
    import matplotlib.pyplot as plt

    figs = {}
    fig, ax = plt.subplots(figsize=(6.5, 3))
    err, epoch = np.array(results["error_per_trial"]), np.array(results["epoch"])
    ax.plot(err, ".", ms=3, color="k", label="teacher")
    edges = np.nonzero(np.diff(epoch))[0] + 1
    for b in edges:
        ax.axvline(b - 0.5, color="C3", lw=0.8)
    paper = results["paper"]
    ax.plot([0, edges[0]], [paper["baseline_error"]] * 2, color="C0", lw=2, label="paper")
    ax.plot([edges[0]], [paper["curl_onset_error"]], "o", color="C0")
    ax.plot([edges[1]], [paper["washout_onset_error"]], "o", color="C0")
    ax.set_xlabel("trial k")
    ax.set_ylabel("hand error (normalised)")
    ax.set_title("baseline | curl field | washout")
    ax.legend(frameon=False, fontsize=7)
    figs["hand error per trial vs the paper's landmarks"] = _save(fig, out / "error.png")

    ax = cv.plot()
    ax.set_title("block CV: held-out nMSE and learning score", fontsize=9)
    figs["cross-validation"] = _save(ax.figure, out / "cv.png")

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot((cp.factors[0] * cp.weights).numpy())
    axes[0].set_title(f"true CP trial factors of ΔW (R={cp.rank})", fontsize=9)
    axes[1].plot(fit.factors[0].numpy())
    axes[1].set_title(f"fitted c(k) (R={fit.rank}, split 0)", fontsize=9)
    for a in axes:
        a.set_xlabel("trial k")
    figs["factors"] = _save(fig, out / "factors.png")

    v = results["verdicts"]
    iv = v["iv_learning_score"]
    fig, ax = plt.subplots(figsize=(3.5, 3))
    for x, key in enumerate(("learning_score", "null_learning_score")):
        m, se = iv[key][:2]
        ax.bar(x, m, yerr=2 * se, color=f"C{x}", capsize=3)
    ax.set_xticks([0, 1], ["learning", "null (frozen W)"])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("learning score (mean ± 2 s.e.)")
    figs["learning score, teacher vs null"] = _save(fig, out / "learning_score.png")

    t = results["teacher"]
    h = t["hand_error"]
    claims = [Claim.from_dict(c) for c in results["claim_verdicts"]]
    lines = ["# Pellegrino, Cayco-Gajic & Chadwick (2023) — reproduction", "",
             "Numbers are mean ± s.e. over the cross-validation splits.", "",
             *verdict_table(claims)]
    c = iv.get("fit_ceiling_noiseless")
    if c:
        lines += ["", f"Why (iv): the same nested fit on the *noiseless* teacher (split 0, rank "
                      f"{c['rank']}) reaches held-out nMSE {c['ltr_nmse']:.4f} (trial-invariant "
                      f"{c['invariant_nmse']:.4f}) with learning score {c['learning_score']:.3f}, "
                      f"while all of learning is worth {c['budget']:.4f} nMSE there: when the "
                      "fit's own error exceeds that budget, learning is hidden by the fit, not "
                      "by the recording noise."]
    lines += ["", "## Teacher (fixed from the paper's hand-error numbers before any fit)", "",
              "| landmark | teacher | paper |", "|---|---|---|",
              f"| baseline | {h['baseline']:.4f} | ≈ {results['paper']['baseline_error']} |",
              f"| curl onset (first 3 trials) | {h['curl_onset']:.4f} | ≈ "
              f"{results['paper']['curl_onset_error']} |",
              f"| curl onset, mean of the 8 targets (calibrated) | "
              f"{h.get('curl_onset_8_targets', float('nan')):.4f} | ≈ "
              f"{results['paper']['curl_onset_error']} |",
              f"| curl, ~15 trials in | {h['curl_after_recovery_trials']:.4f} | decays within "
              "tens of trials |",
              f"| curl end | {h['curl_end']:.4f} | back near baseline |",
              f"| washout onset | {h['washout_onset']:.4f} | ≈ "
              f"{results['paper']['washout_onset_error']} |",
              f"| washout end | {h['washout_end']:.4f} | back near baseline |", "",
              f"Curl {t['curl']:.3f}, SGD lr {t['sgd_lr']:.4f} (W only, one step per trial), "
              f"max ‖ΔW‖/‖W(0)‖ = {t['max_dW_over_W0']:.3f}, mean rate of the recorded units "
              f"{t['mean_rate_hz']:.1f} Hz.", "",
              "## Cross-validation (nested fits, blocks, one-SE rule)", "",
              "| rank | held-out nMSE | learning score |", "|---|---|---|"]
    for r, row in results["cv"]["summary"].items():
        lines.append(f"| {r} | {_pm(row['error'], 4)} | {_pm(row.get('learning', [0, 0]))} |")
    lines += ["", f"Setup: `{results['setup']}`", "", f"Seconds: {results['seconds']}"]
    if results["quick_leaves_out"]:
        lines += ["", "Quick mode leaves out: " + "; ".join(results["quick_leaves_out"]) + "."]
    lines += [""] + [f"## {name}\n\n![{name}]({file})\n" for name, file in figs.items()]
    path = out / "index.md"
    path.write_text("\n".join(lines))
    return path
