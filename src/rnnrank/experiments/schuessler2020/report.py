"""Figures and the Markdown page of the Schuessler et al. (2020) reproduction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...analysis import linear_theory as lt
from ...report._mpl import new_figure
from ..formatting import pm
from ..framework import Claim, verdict_table
from .claims import PAPER


def _by_task_g(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["g"])].append(r)
    return groups


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
        color = None
        for i, r in enumerate(rs):  # each network, up to the rank search's stop
            (line,) = ax.semilogy(r["ranks"], r["trunc_loss_ratio"], ".-", lw=0.8,
                                  label=label if i == 0 else None, color=color)
            color = line.get_color()
        ax.axhline(0.05, color="0.6", ls=":")

    save(_per_task(groups, tasks, truncation, "loss of W0 + ΔW_R (every seed)",
                   xlabel="truncation rank R", ylabel="loss(R) / loss(R = 0)")[0],
         "truncation.png")

    save(_vs_gain(results, tasks), "vs_gain.png")
    if results.get("linear_summary"):
        save(_linear_figure(results["linear_summary"]), "linear.png")

    def participation(ax, rs, label):
        ax.plot(rs[0]["steps"][1:], np.mean([r["participation"] for r in rs], axis=0)[1:],
                label=label)

    save(_per_task(groups, tasks, participation, "participation ratio of ΔW(k)",
                   xlabel="update")[0], "ranks_over_training.png")
    return made


def _vs_gain(results, tasks):
    """Means ± s.e. over converged networks against g, per task (``summary``)."""
    fig, axes = new_figure((16, 3.2), 1, 4)
    keys = (("convergence_time", "updates to 5% of L0", "convergence time"),
            ("delta_norm", "‖ΔW‖_F", "‖ΔW‖ at the end"),
            ("shuffle_ratio", "loss(shuffled W0 + ΔW) / L0", "shuffle control"),
            ("functional_rank", "functional rank", "functional rank (R = 0 … 25)"))
    for t in tasks:
        es = [e for e in results["summary"] if e["task"] == t and e["n_converged"] > 0]
        gs = [e["g"] for e in es]
        for ax, (k, ylabel, title) in zip(axes, keys, strict=True):
            ax.errorbar(gs, _f(e[k] for e in es), yerr=_f(e[k + "_se"] or 0 for e in es),
                        fmt="o-", ms=3, capsize=2, label=t)
            ax.set(xlabel="g", ylabel=ylabel, title=title)
    g_lin = np.linspace(0, 0.99, 100)
    axes[2].plot(g_lin, lt.shuffle_ratio(g_lin), "k--", lw=0.8, label="linear g⁴(2−g²)²")
    for g, per in PAPER.items():
        for i, k in ((0, 0), (1, 1), (2, 2), (3, 3)):
            for t in tasks:
                v = per[t][k]
                if not isinstance(v, str):
                    axes[i].plot([g], [v], "x", color="0.3", ms=5)
    axes[0].plot([], [], "x", color="0.3", label="paper (≈)")
    for ax in axes:
        ax.legend(fontsize=7, frameon=False)
    return fig


def _linear_figure(summary):
    """Simulation means ± s.e. per ẑ with the analytic curves (1 − g²)², g⁴(2 − g²)², 1 − g²."""
    fig, axes = new_figure((12, 3.2), 1, 3)
    g_lin = np.linspace(0, 0.95, 100)
    for z in sorted({e["z_hat"] for e in summary}):
        es = [e for e in summary if e["z_hat"] == z]
        gs = [e["g"] for e in es]
        axes[0].errorbar(gs, _f(e["time_ratio"] for e in es),
                         yerr=_f(e["time_ratio_se"] or 0 for e in es), fmt="o", ms=3,
                         capsize=2, label=f"ẑ = {z:g}")
        axes[1].errorbar(gs, _f(e["shuffle"] for e in es),
                         yerr=_f(e["shuffle_se"] or 0 for e in es),
                         fmt="o", ms=3, capsize=2, label=f"ẑ = {z:g}")
        axes[2].errorbar(gs, _f(e["delta_norm"] / z for e in es),
                         yerr=_f((e["delta_norm_se"] or 0) / z for e in es), fmt="o", ms=3,
                         capsize=2, label=f"ẑ = {z:g}")
    axes[0].plot(g_lin, (1 - g_lin**2) ** 2, "k--", label="(1−g²)²")
    axes[1].plot(g_lin, lt.shuffle_ratio(g_lin), "k--", label="g⁴(2−g²)²")
    axes[2].plot(g_lin, 1 - g_lin**2, "k--", label="1−g²")
    axes[0].set(xlabel="g", ylabel="τ_c(g) / τ_c(0)", title="learning time to 5% of ẑ²/2")
    axes[1].set(xlabel="g", ylabel="L_shuff / (ẑ²/2)", title="shuffle control")
    axes[2].set(xlabel="g", ylabel="‖ΔW‖ / ẑ", title="‖ΔW‖ after 200 epochs", ylim=(0, 1.2))
    for ax in axes:
        ax.legend(fontsize=7, frameon=False)
    return fig


def _f(values) -> list[float]:
    """None → NaN (so that matplotlib skips it)."""
    return [np.nan if v is None else float(v) for v in values]


def summary_rows(results) -> list[str]:
    """Per task and g: converged count, then means ± s.e. over converged networks with the
    paper's value in parentheses where it gives one."""
    lines = ["| task | g | converged | functional rank (paper) | ‖ΔW‖_F (paper) | "
             "shuffle loss/L0 (paper) | convergence updates (paper) | final loss/L0 (all) |",
             "|---|---|---|---|---|---|---|---|"]
    for e in results["summary"]:
        p = PAPER.get(round(e["g"], 1), {}).get(e["task"])
        cells = []
        for k, i in (("functional_rank", 3), ("delta_norm", 1), ("shuffle_ratio", 2),
                     ("convergence_time", 0)):
            ours = pm(e[k], e[k + "_se"])
            cells.append(f"{ours} ({p[i]})" if p else ours)
        lines.append(f"| {e['task']} | {e['g']:g} | {e['n_converged']}/{e['n']} | "
                     + " | ".join(cells) + f" | {pm(e['final_loss'], None, '.3f')} |")
    return lines


def write_report(results, out: Path) -> Path:
    made = _figures(results, out)
    s = results["setup"]
    lines = [
        f"# Schuessler et al. 2020 — reproduction ({s['label']})", "",
        f"N = {s['n_rec']}, dt = {s['dt']}, Adam lr = {s['lr_times_n']}/N, batch "
        f"{s['batch_size']}, updates {s['steps']}, seeds {s['seeds']}, test batch "
        f"{s['test_batch']}, trained {s['trainable']} (b stays 0), Mante "
        f"{s['task_options']['mante']}, functional rank over R = {s['ranks'][0]} … "
        f"{s['ranks'][-1]}. Wall time {results['seconds']} s "
        f"(per part {results.get('seconds_per_part')}; 2 shared CPU cores).", "",
    ]
    diffs = results.get("differences_from_paper") or []
    if diffs:
        lines += ["**Differences from the paper's setup** (everything else is the authors'):",
                  "", *[f"- {d}" for d in diffs], ""]
    else:
        lines += ["This is the authors' setup (rows a–g of issue 22).", ""]
    lines += ["Gate (as the authors' figures): only networks that converged (training loss < "
              "0.05·L0) *and* have a functional rank (loss(R) < 0.05·loss(R=0) for some "
              "R ≤ 25) enter the means; ± is one standard error over those networks. Paper "
              "values (≈, read off its figures, N = 256, 5 seeds) in parentheses.", "",
              *summary_rows(results), "", "## Claims and verdicts", "",
              "Rule: reproduced when |ours − paper| ≤ 15 % of the paper's value (at least 1 "
              "rank, or 0.15 for the shuffle ratio) + 2 s.e.; inconclusive with fewer than 2 "
              "converged networks.", "",
              *verdict_table(Claim.from_dict(c) for c in results["claim_verdicts"]), ""]
    if results.get("linear_summary"):
        lines += [f"## Linear model (N = {s['linear_n']}, {s['linear_draws']} draws, SGD lr = "
                  f"lr0·(1−g²)², lr0 = {s['linear_lr0']} for ẑ = {s['linear_z_hats']}, "
                  f"{s['linear_epochs']} epochs, losses / (ẑ²/2), float64)", "",
                  "| ẑ | g | τ_c/τ_c(0) | (1−g²)² | L_shuff/(ẑ²/2) | g⁴(2−g²)² | ‖ΔW‖ | "
                  "ẑ(1−g²) |", "|---|---|---|---|---|---|---|---|"]
        for r in results["linear_summary"]:
            lines.append(f"| {r['z_hat']:g} | {r['g']:g} | "
                         f"{pm(r['time_ratio'], r['time_ratio_se'])} | "
                         f"{r['time_ratio_theory']:.3f} | {pm(r['shuffle'], r['shuffle_se'])} "
                         f"| {r['shuffle_theory']:.3f} | "
                         f"{pm(r['delta_norm'], r['delta_norm_se'])} | "
                         f"{r['delta_norm_theory']:.3f} |")
        lines.append("")
    lines += ["## LSTM (2 layers; offline sentiment-memory task standing in for SST/GloVe)", ""]
    if results["lstm"] is None:
        lines += ["Not run.", ""]
    else:
        from .lstm import lstm_table, paper_lstm

        ls, ref = results["lstm"]["setup"], asdict(paper_lstm())
        diff = [f"{k}: {ls[k]} (paper: {ref[k]})" for k in ("hidden", "layers", "dropout", "lr",
                                                           "batch_size")
                if k in ls and ls[k] != ref[k]]
        lines += [f"Hidden {ls['hidden']}, {ls['layers']} layers, Adam lr {ls['lr']:.3g}, batch "
                  f"{ls['batch_size']}, {ls['steps']} updates. "
                  + ("Differences from the paper's LSTM: " + "; ".join(diff) + "."
                     if diff else "The paper's LSTM size and optimiser."), "",
                  *lstm_table(results["lstm"]), ""]
    lines += [f"![{m}]({m})" for m in made]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return out / "index.md"
