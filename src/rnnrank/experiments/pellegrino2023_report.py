"""Figures and the Markdown page of the Pellegrino et al. (2023) reproduction."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def write_report(results: dict, out: Path, *, cv, paths: dict, fit_c: np.ndarray,
                 true_c: np.ndarray) -> Path:
    """Write ``out/index.md`` with four figures and the results table."""
    import matplotlib.pyplot as plt

    figs = {}
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), sharex=True, sharey=True)
    for ax, (name, hand) in zip(axes, paths.items(), strict=True):
        for j in range(hand.shape[1]):
            ax.plot(hand[:, j, 0], hand[:, j, 1], color=f"C{j}")
        th = 2 * np.pi * np.arange(hand.shape[1]) / hand.shape[1]
        ax.plot(np.cos(th), np.sin(th), "ko", ms=3)
        ax.set_title(f"curl field, {name} adaptation")
        ax.set_aspect("equal")
    figs["hand paths"] = _save(fig, out / "hand_paths.png")

    fig, ax = plt.subplots(figsize=(6, 3))
    err, epoch = np.array(results["error_per_trial"]), np.array(results["epoch"])
    ax.plot(err, ".", ms=3, color="k")
    for b in np.nonzero(np.diff(epoch))[0]:
        ax.axvline(b + 0.5, color="C3", lw=0.8)
    ax.set_xlabel("trial k")
    ax.set_ylabel("hand error (normalised)")
    ax.set_title("baseline | curl field | washout")
    figs["error per trial"] = _save(fig, out / "error_per_trial.png")

    ax = cv.plot()
    ax.set_title("block cross-validation of the ltrRNN rank")
    figs["cross-validation"] = _save(ax.figure, out / "cv.png")

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot(true_c)
    axes[0].set_title(f"true CP trial factors of ΔW (R={true_c.shape[1]})")
    axes[1].plot(fit_c)
    axes[1].set_title(f"fitted c(k) (R={fit_c.shape[1]})")
    for ax in axes:
        ax.set_xlabel("trial k")
    figs["factors"] = _save(fig, out / "factors.png")

    rec = results["recovery"]
    rows = [
        ("baseline hand error (normalised)", f"{results['baseline_score']:.4f}"),
        ("CP rank of the true ΔW(k) tensor", results["true_cp"]["best_rank"]),
        ("rank chosen by block CV from activity", results["cv"]["best_rank"]),
        ("held-out nMSE per rank", ", ".join(f"{k}: {v:.4f}"
                                             for k, v in results["cv"]["scores"].items())),
        ("baselines (held-out nMSE)", ", ".join(f"{k}: {v:.4f}"
                                                for k, v in results["cv"]["baselines"].items())),
        ("principal angles span(D a) vs true a (deg)", _fmt(rec["angles_a"])),
        ("principal angles span(D b) vs true b (deg)", _fmt(rec["angles_b"])),
        ("angles of a random subspace (chance, deg)", _fmt(rec["chance_angles"])),
        ("R² of true c(k) from fitted c(k) (linear map)", _fmt(rec["c_r2"], 3)),
        ("best |corr| fitted vs true c(k)", _fmt(rec["c_best_abs_corr"], 3)),
        ("seconds", results["seconds"]),
    ]
    lines = ["# Pellegrino, Cayco-Gajic & Chadwick (2023) — reproduction", "",
             f"Setup: `{results['setup']}`", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += [""] + [f"## {name}\n\n![{name}]({file})\n" for name, file in figs.items()]
    path = out / "index.md"
    path.write_text("\n".join(lines))
    return path


def _fmt(values, digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)
