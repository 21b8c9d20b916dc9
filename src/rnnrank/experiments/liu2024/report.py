"""Report of the Liu et al. (2024) reproduction: verdicts, tables and figures from its results.

Figures (one panel per task, x axis the lab's ini_gain with rnnrank's g = 1.5·ini_gain on top):
final held-out loss vs gain per rule, mean ± s.e. over seeds (solid: from the random initial
network; dashed: after pre-flossing); driven λ_max before and after training; the cosine of each
rule's estimate with the exact gradient, averaged over training.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..formatting import num, pm
from ..framework import Claim, verdict_table
from .claims import R_AGREE, Z

COLOURS = {"bptt": "black", "tbptt": "tab:blue", "eprop": "tab:red", "rflo": "tab:green"}
CLAIMS = (("claim1_gain_shapes_bio_learning",
           "(1) the initial gain changes how well e-prop / RFLO learn, as for BPTT"),
          ("claim2_lambda_before_after",
           "(2) λ_max before/after training shows what an initialisation demands"),
          ("claim3_flossing_improves",
           "(3) gradient flossing improves bio-plausible learning (most at poor gains)"))


def _series(summary, task, rule, floss, metric):
    rows = [r for r in summary if (r["task"], r["rule"], r["floss"]) == (task, rule, floss)]
    return ([r["ini_gain"] for r in rows], [r[metric] for r in rows],
            [r.get(metric + "_se", float("nan")) for r in rows])


def _figure(summary, tasks, draw, ylabel: str, path: Path, *, logy: bool = False) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        draw(ax, task)
        ax.set_title(task)
        ax.set_xlabel("ini_gain (lab's axis)")
        top = ax.secondary_xaxis("top", functions=(lambda x: 1.5 * x, lambda g: g / 1.5))
        top.set_xlabel("g = 1.5·ini_gain", fontsize=8)
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _errorbar(ax, x, y, se, **kw):
    se = [0.0 if not math.isfinite(s) else s for s in se]
    ax.errorbar(x, y, yerr=se, capsize=2, ms=3, **kw)


def figures(results: dict, out: Path) -> list[str]:
    summary = results["summary"]
    tasks = [t for t in results["setup"]["tasks"] if any(r["task"] == t for r in summary)]
    rules = [r for r in results["setup"]["rules"] if any(s["rule"] == r for s in summary)]

    def loss(ax, task):
        for rule in rules:
            for floss, style in ((False, "-"), (True, "--")):
                x, y, se = _series(summary, task, rule, floss, "final_loss")
                if x:
                    _errorbar(ax, x, y, se, fmt=style + "o", color=COLOURS.get(rule),
                              label=f"{rule}{' + pre-flossing' if floss else ''}")

    def lyap(ax, task):
        x, y, se = _series(summary, task, rules[0], False, "lambda_init")
        _errorbar(ax, x, y, se, fmt=":s", color="grey", label="before training")
        for rule in rules:
            x, y, se = _series(summary, task, rule, False, "lambda_final")
            _errorbar(ax, x, y, se, fmt="-o", color=COLOURS.get(rule), label=f"after {rule}")
        floss_rule = next((r for r in rules if any(s["floss"] and s["rule"] == r
                                                   for s in summary)), None)
        if floss_rule is not None:
            x, y, se = _series(summary, task, floss_rule, True, "lambda_floss")
            _errorbar(ax, x, y, se, fmt="--^", color="grey", label="after pre-flossing")
        x, y, se = _series(summary, task, rules[0], False, "lambda_auto_init")
        _errorbar(ax, x, y, se, fmt=":x", color="purple", label="autonomous, before")
        ax.axhline(0.0, color="k", lw=0.5)

    def align(ax, task):
        for rule in rules:
            if rule == "bptt":
                continue
            x, y, se = _series(summary, task, rule, False, "alignment")
            _errorbar(ax, x, y, se, fmt="-o", color=COLOURS.get(rule), label=rule)
        ax.axhline(0.0, color="k", lw=0.5)

    _figure(summary, tasks, loss, "final held-out loss", out / "loss_vs_g.png", logy=True)
    _figure(summary, tasks, lyap, "driven λ_max (nats / τ)", out / "lyapunov_vs_g.png")
    _figure(summary, tasks, align, "cos(estimate, exact gradient)", out / "alignment_vs_g.png")
    return ["loss_vs_g.png", "lyapunov_vs_g.png", "alignment_vs_g.png"]


def table(summary: list[dict]) -> list[str]:
    lines = ["| task | rule | ini_gain | g | loss | loss, pre-flossed | λ_max init | "
             "λ_max pre-flossed | λ_max trained | λ_max auto init → trained | cos |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        if r["floss"]:
            continue
        f = next((s for s in summary if (s["task"], s["rule"], s["ini_gain"], s["floss"])
                  == (r["task"], r["rule"], r["ini_gain"], True)), {})
        lines.append(
            f"| {r['task']} | {r['rule']} | {r['ini_gain']:g} | {r['g']:g} | "
            f"{pm(r['final_loss'], r['final_loss_se'])} | "
            f"{pm(f.get('final_loss'), f.get('final_loss_se'))} | "
            f"{pm(r['lambda_init'], r['lambda_init_se'])} | "
            f"{pm(f.get('lambda_floss'), f.get('lambda_floss_se'))} | "
            f"{pm(r['lambda_final'], r['lambda_final_se'])} | "
            f"{num(r['lambda_auto_init'])} → {num(r['lambda_auto_final'])} | "
            f"{num(r['alignment'], '.2f')} |")
    return lines


def verdict_lines(v: dict, claims: list[Claim]) -> list[str]:
    lines = [*verdict_table(claims, reasons=False), "", "Per task and rule:", ""]
    c1 = v["claim1_gain_shapes_bio_learning"]["per_task"]
    for task, e in c1.items():
        effects = ", ".join(
            f"{rule}: range {num(t['range'])} ± {num(t['se'], '.2g')}"
            f"{' (significant)' if t['significant'] else ''}"
            for rule, t in e["gain_effect"].items())
        lines.append(f"- (1) {task}: log10-loss range over gains (max − min of means) — "
                     f"{effects}.")
        for rule, d in e["rules"].items():
            lines.append(f"  - {rule} vs BPTT: **{d['verdict']}** ({d['why']}).")
    c2 = v["claim2_lambda_before_after"]["per_task"]
    for task, e in c2.items():
        for rule, d in e.items():
            dd = d["delta_depends_on_gain"]
            lines.append(
                f"- (2) {task}/{rule}: λ_max range over gains {num(d['range_before'])} before "
                f"→ {num(d['range_after'])} after (narrowing "
                f"{pm(d['narrowing'], d['narrowing_se'])}); Δλ range "
                f"{pm(dd['range'], dd['se'])} → **{d['verdict']}**.")
    c3 = v["claim3_flossing_improves"]["per_task"]
    for task, e in c3.items():
        for rule, d in e.items():
            diffs = "; ".join(f"ini_gain {x['ini_gain']:g}: {pm(x['mean'], x['se'])}"
                              for x in d["difference"])
            lines.append(f"- (3) {task}/{rule}: flossed − unflossed loss {diffs} → "
                         f"**{d['verdict']}**.")
    lines += ["", f"Rules for the verdicts (`liu2024.claims`): an effect counts beyond {Z:g} "
              f"standard errors over seeds; loss-vs-gain curves are alike at Pearson r ≥ "
              f"{R_AGREE:g} (of log10 loss); inconclusive when the effect is within the spread."]
    return lines


def write_report(results: dict, out: Path) -> Path:
    out = Path(out)
    names = figures(results, out)
    s = results["setup"]
    leaves = s.get("leaves_out") or []
    text = [
        "# Liu, Zhang & Liu (2024) — initial connectivity and bio-plausible learning",
        "",
        f"Setup ({s['label']}): N = {s['n_rec']}, dt/τ = {s['dt']}, φ = {s['nonlinearity']}, "
        f"inputs {s['io_scale']}, learned x0 = {s['learn_x0']}, Adam {s['lr']:g}, "
        f"{s['steps']} updates of batch {s['batch_size']}; ini_gain ∈ {s['ini_gains']} "
        f"(g = 1.5·ini_gain ∈ {[round(g, 3) for g in s['gains']]}), seeds {s['seeds']}; "
        f"pre-flossing {s['floss_updates']} updates (k = {s['floss_k']}, lr {s['floss_lr']:g}) "
        f"for {s['floss_rules']}. λ_max in nats per τ, driven by task trials (autonomous: zero "
        f"input), from `{results['lyapunov_source']}`. {results['seconds']} s in this "
        f"invocation; training over every session (resumed runs included): "
        f"{results.get('training_seconds_all_sessions', '?')} s "
        f"({results.get('networks_per_arm', '?')} networks per arm, trained as one ensemble).",
        "",
        *([f"Quick mode leaves out: {'; '.join(leaves)}.", ""] if leaves else []),
        "Gradient flossing needs the network's Jacobians through time — a non-local signal no "
        "synapse has; for e-prop and RFLO it is therefore a developmental phase *before* "
        "learning (pre-flossing of W, U, b toward λ_i = 0 on the task-driven network), never "
        "mixed into the local updates. The same phase is applied to BPTT where listed, for "
        "comparison.",
        "",
        "## Verdicts",
        "",
        *verdict_lines(results["verdicts"],
                       [Claim.from_dict(c) for c in results["claim_verdicts"]]),
        "",
        "## Per gain (mean ± s.e. over seeds)",
        "",
        *table(results["summary"]),
        "",
        *(f"![{n}]({n})" for n in names),
        "",
    ]
    path = out / "index.md"
    path.write_text("\n".join(text))
    return path
