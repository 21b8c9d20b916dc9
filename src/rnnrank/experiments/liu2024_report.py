"""Report of the Liu et al. (2024) reproduction: figures and Markdown tables from its results.

Figures (one panel per task): final held-out loss vs g per rule (solid: from the random initial
network; dashed: after pre-flossing); λ_max before and after training vs g; the cosine of each
rule's estimate with the exact gradient, averaged over training, vs g.
"""

from __future__ import annotations

import math
from pathlib import Path

COLOURS = {"bptt": "black", "tbptt": "tab:blue", "eprop": "tab:red", "rflo": "tab:green"}


def _fmt(value, spec: str = ".3g") -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def _series(summary, task, rule, floss, metric):
    rows = [r for r in summary if (r["task"], r["rule"], r["floss"]) == (task, rule, floss)]
    return [r["g"] for r in rows], [r[metric] for r in rows]


def _figure(summary, tasks, draw, ylabel: str, path: Path, *, logy: bool = False) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        draw(ax, task)
        ax.set_title(task)
        ax.set_xlabel("initial gain g")
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figures(results: dict, out: Path) -> list[str]:
    summary = results["summary"]
    tasks = [t for t in results["setup"]["tasks"] if any(r["task"] == t for r in summary)]
    rules = [r for r in results["setup"]["rules"] if any(s["rule"] == r for s in summary)]

    def loss(ax, task):
        for rule in rules:
            for floss, style in ((False, "-"), (True, "--")):
                g, y = _series(summary, task, rule, floss, "final_loss")
                ax.plot(g, y, style, marker="o", ms=3, color=COLOURS.get(rule),
                        label=f"{rule}{' + flossing' if floss else ''}")

    def lyap(ax, task):
        g, y = _series(summary, task, rules[0], False, "lambda_init")
        ax.plot(g, y, ":", marker="s", color="grey", label="before training")
        for rule in rules:
            g, y = _series(summary, task, rule, False, "lambda_final")
            ax.plot(g, y, "-", marker="o", ms=3, color=COLOURS.get(rule),
                    label=f"after {rule}")
        g, y = _series(summary, task, rules[0], True, "lambda_floss")
        ax.plot(g, y, "--", marker="^", color="grey", label="after pre-flossing")
        if "lambda_auto_init" in summary[0]:
            g, y = _series(summary, task, rules[0], False, "lambda_auto_init")
            ax.plot(g, y, ":", marker="x", color="purple", label="autonomous, before")
        ax.axhline(0.0, color="k", lw=0.5)

    def align(ax, task):
        for rule in rules:
            g, y = _series(summary, task, rule, False, "alignment")
            ax.plot(g, y, "-", marker="o", ms=3, color=COLOURS.get(rule), label=rule)
        ax.axhline(0.0, color="k", lw=0.5)

    _figure(summary, tasks, loss, "final held-out loss", out / "loss_vs_g.png", logy=True)
    _figure(summary, tasks, lyap, "λ_max (nats / τ)", out / "lyapunov_vs_g.png")
    _figure(summary, tasks, align, "cos(estimate, exact gradient)", out / "alignment_vs_g.png")
    return ["loss_vs_g.png", "lyapunov_vs_g.png", "alignment_vs_g.png"]


def table(summary: list[dict]) -> list[str]:
    lines = ["| task | rule | g | loss | loss + floss | λ_max init | λ_max floss | "
             "λ_max trained | λ_max trained (floss) | λ_max auto init → trained | cos |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        if r["floss"]:
            continue
        f = next((s for s in summary if (s["task"], s["rule"], s["g"], s["floss"])
                  == (r["task"], r["rule"], r["g"], True)), {})
        lines.append(f"| {r['task']} | {r['rule']} | {r['g']:g} | {_fmt(r['final_loss'])} | "
                     f"{_fmt(f.get('final_loss'))} | {_fmt(r['lambda_init'])} | "
                     f"{_fmt(f.get('lambda_floss'))} | {_fmt(r['lambda_final'])} | "
                     f"{_fmt(f.get('lambda_final'))} | {_fmt(r.get('lambda_auto_init'))} → "
                     f"{_fmt(r.get('lambda_auto_final'))} | {_fmt(r['alignment'], '.2f')} |")
    return lines


def write_report(results: dict, out: Path) -> Path:
    out = Path(out)
    names = figures(results, out)
    s = results["setup"]
    text = [
        "# Liu, Zhang & Liu (2024) — initial connectivity and bio-plausible learning",
        "",
        f"Setup ({s['label']}): N = {s['n_rec']}, dt/τ = {s['dt']}, Adam {s['lr']:g}, "
        f"{s['steps']} updates of batch {s['batch_size']}, g ∈ {s['gains']}, seeds "
        f"{s['seeds']}; pre-flossing {s['floss_updates']} updates (k = {s['floss_k']}). "
        f"λ_max in nats per τ, driven by task trials (autonomous: zero input), from "
        f"`{results['lyapunov_source']}`. "
        f"Total {results['seconds']} s.",
        "",
        "Gradient flossing needs the network's Jacobians through time — a non-local signal; "
        "here it is a developmental phase before learning, not part of the rules.",
        "",
        *table(results["summary"]),
        "",
        *(f"![{n}]({n})" for n in names),
        "",
    ]
    path = out / "index.md"
    path.write_text("\n".join(text))
    return path
