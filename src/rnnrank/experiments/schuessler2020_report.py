"""Figures and the Markdown page of the Schuessler et al. (2020) reproduction."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..analysis import linear_theory as lt
from ..report._mpl import new_figure


def _by_task_g(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["g"])].append(r)
    return groups


def _mean(values):
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _fmt(v, spec=".3g"):
    return "—" if v is None else format(v, spec)


def _per_task(groups, tasks, draw, title: str, **labels):
    """One panel per task; ``draw(ax, rows)`` plots the rows of one g (label set here)."""
    fig, axes = new_figure((4 * len(tasks), 3.2), 1, len(tasks), squeeze=False)
    for ax, t in zip(axes[0], tasks, strict=True):
        for (task, g), rs in groups.items():
            if task == t:
                draw(ax, rs, f"g={g:g}")
        ax.set(title=f"{t}: {title}", **labels)
        ax.legend(fontsize=7, frameon=False)
    return fig, axes[0]


def _figures(results, out: Path) -> list[str]:
    groups = _by_task_g(results["networks"])
    tasks = list(dict.fromkeys(r["task"] for r in results["networks"]))
    made = []

    def save(fig, name):
        fig.savefig(out / name, dpi=110)
        made.append(name)

    def spectra(ax, rs, label):
        s = np.mean([r["svals"] for r in rs], axis=0)
        ax.semilogy(np.arange(1, len(s) + 1), s, ".-", label=label)

    save(_per_task(groups, tasks, spectra, "singular values of ΔW", xlabel="index")[0],
         "spectra.png")

    def truncation(ax, rs, label):
        ratio = np.mean([r["trunc_loss_ratio"] for r in rs], axis=0)
        ax.semilogy(rs[0]["ranks"][:-1], ratio[:-1], ".-", label=label)
        ax.axhline(0.05, color="0.6", ls=":")

    save(_per_task(groups, tasks, truncation, "loss of W0 + ΔW_R", xlabel="truncation rank R",
                   ylabel="loss(R) / L0")[0], "truncation.png")

    g_lin = np.linspace(0, 0.99, 100)
    fig, axes = new_figure((12, 3.2), 1, 3)
    for t in tasks:
        gs = sorted(g for (task, g) in groups if task == t)
        sh = [_mean(r["shuffle_ratio"] for r in groups[(t, g)]) for g in gs]
        ct = [_mean(r["convergence_time"] for r in groups[(t, g)]) for g in gs]
        dn = [_mean(r["delta_norm"] for r in groups[(t, g)]) for g in gs]
        axes[0].plot(gs, sh, "o-", label=t)
        axes[1].plot(gs, [np.nan if c is None else c for c in ct], "o-", label=t)
        axes[2].plot(gs, dn, "o-", label=t)
        if ct and ct[0]:
            axes[1].plot(g_lin, ct[0] * (1 - g_lin**2) ** 2, ":", color="0.5")
        if dn:
            axes[2].plot(g_lin, dn[0] * (1 - g_lin**2), ":", color="0.5")
    axes[0].plot(g_lin, lt.shuffle_ratio(g_lin), "k--", label="linear g⁴(2−g²)²")
    axes[0].set(xlabel="g", ylabel="loss(shuffled W0 + ΔW) / L0", title="shuffle control")
    axes[1].set(xlabel="g", ylabel="updates to 5% of L0", title="convergence time "
                "(dotted: (1−g²)² shape)")
    axes[2].set(xlabel="g", ylabel="‖ΔW‖_F", title="‖ΔW‖ (dotted: ẑ(1−g²) shape)")
    for ax in axes:
        ax.legend(fontsize=7, frameon=False)
    save(fig, "vs_gain.png")

    def participation(ax, rs, label):
        ax.plot(rs[0]["steps"][1:], np.mean([r["participation"] for r in rs], axis=0)[1:],
                label=label)

    save(_per_task(groups, tasks, participation, "participation ratio of ΔW(k)",
                   xlabel="update")[0], "ranks_over_training.png")
    return made


# Values read off the paper's figures (REFERENCES.md §1, ≈ ±15%, N = 256, mean of 5 seeds).
PAPER = {  # g: {task: (convergence epochs, ‖ΔW‖_F, shuffle loss/L0, functional rank)}
    0.0: {"flipflop": (105, 1.9, 0, 2), "mante": (360, 2.05, 0, 4.7),
          "romo": (">600", 3.45, 0, 6.3)},
    0.9: {"flipflop": (40, 1.2, 1, 5), "mante": (50, 0.95, 1, 4), "romo": (320, 2.2, 1, 6.2)},
    1.5: {"flipflop": (60, 0.6, 1, 7.7), "mante": (45, 0.72, 1, 5.5), "romo": (80, 1.25, 1, 5.5)},
}


def table_rows(results) -> list[str]:
    """Markdown rows: per task and g, ours beside the paper's values (where it gives them)."""
    lines = ["| task | g | functional rank (paper) | ‖ΔW‖_F (paper) | shuffle loss/L0 (paper) | "
             "convergence updates (paper) | final score |", "|---|---|---|---|---|---|---|"]
    for (task, g), rs in _by_task_g(results["networks"]).items():
        p = PAPER.get(round(g, 1), {}).get(task)
        conv = [r["convergence_time"] for r in rs]
        conv_s = "never" if all(c is None for c in conv) else _fmt(_mean(conv), ".0f")
        ours = [_fmt(_mean(r["functional_rank"] for r in rs), ".2g"),
                _fmt(_mean(r["delta_norm"] for r in rs)),
                _fmt(_mean(r["shuffle_ratio"] for r in rs), ".2f"), conv_s]
        cells = [f"{o} ({p[i]})" if p else o for o, i in zip(ours, (3, 1, 2, 0), strict=True)]
        score = _mean(r["final_score"] for r in rs)
        lines.append(f"| {task} | {g:g} | " + " | ".join(cells) + f" | {_fmt(score, '.3f')} |")
    return lines


def write_report(results, out: Path) -> Path:
    made = _figures(results, out)
    s = results["setup"]
    lin = results["linear"]
    lines = [
        f"# Schuessler et al. 2020 — reproduction ({s['label']})", "",
        f"N = {s['n_rec']}, dt = {s['dt']}, Adam lr = {s['lr_times_n']}/N, batch "
        f"{s['batch_size']}, updates {s['steps']}, seeds {s['seeds']}, test batch "
        f"{s['test_batch']}. Wall time {results['seconds']} s.", "",
    ]
    if s["label"] == "quick":
        lines += ["**Quick version**: reduced from the paper's N = 256, 5 seeds, g grid up to "
                  "2.1/2.7/3.0 and 1000/2000/6000 updates; the linear model at N = "
                  f"{s['linear_n']} instead of 1024. Numbers are indicative only.", ""]
    lines += ["Paper values (≈, read off figures, mean of 5 seeds, N = 256) in parentheses; "
              "functional rank = smallest R with loss(R) < 0.05·loss(R=0); convergence = "
              "first update with training loss < 0.05·L0.", "", *table_rows(results), "",
              f"## Linear theory (N = {s['linear_n']}, ẑ = {s['linear_z_hat']}, "
              "gradient descent, float64)", "",
              "| g | t(g)/t(0) measured | (1−g²)² | ‖ΔW‖ measured | ẑ(1−g²) | "
              "L_shuff/L0 measured | g⁴(2−g²)² |", "|---|---|---|---|---|---|---|"]
    for r in lin:
        lines.append(f"| {r['g']:g} | {r['time_ratio']:.3f} | {r['time_ratio_theory']:.3f} | "
                     f"{r['delta_norm']:.3f} | {r['delta_norm_theory']:.3f} | "
                     f"{r['shuffle_ratio']:.3f} | {r['shuffle_ratio_theory']:.3f} |")
    lines += ["", "## LSTM (2 layers; offline sentiment-memory task standing in for SST/GloVe)", ""]
    if results["lstm"] is None:
        lines += ["Not run.", ""]
    else:
        from .schuessler2020_lstm import lstm_table

        lines += [*lstm_table(results["lstm"]), ""]
    lines += [f"![{m}]({m})" for m in made]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return out / "index.md"
