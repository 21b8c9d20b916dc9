"""Report of the Liu et al. (2024) reproduction: verdicts, tables and figures from its results.

It opens with the protocol (docs/reproductions/liu2024-protocol.md): the commit that last
changed it, now and when the run began, and every rule constant or setup value of this run that
differs from it — a run that is not the pre-registered grid says so before its verdicts.

Figures (one panel per task, x axis the lab's ini_gain with rnnrank's g = 1.5·ini_gain on top):
final held-out loss vs gain per rule, mean ± s.e. over seeds (solid: from the random initial
network; dashed: after pre-flossing); driven λ_max before and after training; the cosine of each
rule's estimate with the exact gradient, averaged over training; and the training-loss curves
per rule and gain (one panel per task and rule), with the plateau test's verdict per arm.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..formatting import num, pm
from ..framework import Claim, verdict_table
from . import protocol
from .claims import CRITERION, PLATEAU_TOL, PLATEAU_WINDOW, PROTOCOL, R_AGREE, Z

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


def curve_figure(results: dict, out: Path) -> list[str]:
    """Training loss (log10, mean ± s.e. over seeds, binned) against updates, one panel per
    task and rule, one colour per ini_gain (solid: random init; dashed: pre-flossed)."""
    curves = results.get("loss_curves") or []
    if not curves:
        return []
    import matplotlib.pyplot as plt

    panels = sorted({(c["task"], c["rule"]) for c in curves},
                    key=lambda k: (k[0], list(COLOURS).index(k[1]) if k[1] in COLOURS else 9))
    gains = sorted({c["ini_gain"] for c in curves})
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.4), squeeze=False)
    for ax, (task, rule) in zip(axes[0], panels, strict=True):
        for c in curves:
            if (c["task"], c["rule"]) != (task, rule):
                continue
            colour = cmap(gains.index(c["ini_gain"]) / max(1, len(gains) - 1))
            ax.plot(c["updates"], c["log10_loss"], "--" if c["floss"] else "-", color=colour,
                    lw=1, label=None if c["floss"] else f"ini_gain {c['ini_gain']:g}")
        ax.set_title(f"{task} / {rule}")
        ax.set_xlabel("update")
        ax.set_ylabel("log10 training loss")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=110)
    plt.close(fig)
    return ["loss_curves.png"]


def plateau_lines(results: dict) -> list[str]:
    """The plateau test of every arm and gain (the gate of every verdict)."""
    tests = results.get("plateau") or []
    if not tests:
        return ["No plateau test in these results (written before issue 33): every comparison "
                "is inconclusive by the protocol's gate."]
    lines = [f"Plateau test (`rr.analysis.plateau_test`, last {PLATEAU_WINDOW:g} of each arm's "
             f"updates, tolerance {PLATEAU_TOL:g} in ln-loss, {Z:g} s.e.) of the geometric-mean "
             "training-loss curve over seeds: "
             f"{sum(bool(t['plateaued']) for t in tests)} of {len(tests)} arm × gain curves "
             "plateaued.", "",
             "| task | rule | pre-flossed | ini_gain | updates | plateaued | ln-loss drop | "
             "fitted decline | why |", "|---|---|---|---|---|---|---|---|---|"]
    for t in tests:
        lines.append(f"| {t['task']} | {t['rule']} | {'yes' if t['floss'] else 'no'} | "
                     f"{t['ini_gain']:g} | {t['steps']} | "
                     f"{'**yes**' if t['plateaued'] else 'no'} | {num(t.get('drop'))} | "
                     f"{num(t.get('decline'))} | {t.get('reason', '')} |")
    return lines


def protocol_lines(results: dict) -> list[str]:
    """The protocol's commit (now and at run time) and every difference from it."""
    p = protocol.check(results)
    if p["commit"] is None:
        head = f"- Protocol: `{PROTOCOL}`, not in any commit (or no git here)."
    else:
        head = (f"- Protocol: `{PROTOCOL}` at commit `{p['commit']}`"
                + (" — **modified since that commit**." if p["modified"] else "."))
    lines = [head]
    at_run = p["commit_at_run"]
    if at_run is None and "protocol" not in results:
        lines.append("- The run did not record the protocol's commit (results written before "
                     "issue 33).")
    elif at_run != p["commit"] or p["modified_at_run"]:
        lines.append("- **When the run began the protocol stood at "
                     + (f"`{at_run}`" if at_run else "no commit")
                     + (" with uncommitted changes" if p["modified_at_run"] else "")
                     + "**: the rules were not fixed in a commit before the run, or changed "
                     "after it.")
    else:
        lines.append("- The run began at the same commit of the protocol.")
    if p["rule_differences"]:
        lines.append("- **Rules that differ from the protocol**: "
                     + "; ".join(p["rule_differences"]) + ".")
    else:
        lines.append("- Every rule constant of the code equals the protocol's.")
    if p["setup_differences"]:
        lines.append("- **This run is not the pre-registered decisive grid** "
                     "(`liu2024.decisive()`); it differs in: "
                     + "; ".join(p["setup_differences"])
                     + ". Its verdicts apply the protocol's rules to another setup.")
    else:
        lines.append("- The run's setup is the pre-registered decisive grid.")
    return lines


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
        for stat, tests in e["gain_effect"].items():
            if not isinstance(tests, dict) or "range" in tests:
                continue  # results written before issue 33 (one statistic, no name)
            effects = ", ".join(
                f"{rule}: range {num(t['range'])} ± {num(t['se'], '.2g')}"
                f"{' (significant)' if t['significant'] else ''}"
                for rule, t in tests.items())
            lines.append(f"- (1) {task}, {stat}: range over gains (max − min of means) — "
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
                f"{pm(dd['range'], dd['se'])} → **{d['verdict']}**"
                + (f" ({d['why']})." if d.get("why") else "."))
    c3 = v["claim3_flossing_improves"]["per_task"]
    for task, e in c3.items():
        for rule, d in e.items():
            diffs = "; ".join(f"ini_gain {x['ini_gain']:g}: {pm(x['mean'], x['se'])}"
                              for x in d["difference"])
            lines.append(f"- (3) {task}/{rule}: flossed − unflossed log10 loss {diffs} → "
                         f"**{d['verdict']}**" + (f" ({d['why']})." if d.get("why") else "."))
    lines += ["", f"Rules for the verdicts (`liu2024.claims`, as `{PROTOCOL}`): only arms whose "
              "training loss plateaued are compared; an effect counts beyond "
              f"{Z:g} standard errors over seeds; curves over the gains are alike (opposite) at "
              f"Pearson r ≥ {R_AGREE:g} (≤ −{R_AGREE:g}) with r's 95 % interval clear of 0; "
              f"updates to criterion at {CRITERION:g} of the final ln-loss improvement; "
              "inconclusive when the effect is within the spread."]
    return lines


def _budget(s: dict) -> str:
    """"500 updates" or "bptt 500, eprop 1500, rflo 1500 updates" (+ extensions), from a
    results' setup."""
    per = s.get("steps_per_rule") or {}
    text = (", ".join(f"{r} {per.get(r, s['steps'])}" for r in s["rules"]) if per
            else str(s["steps"])) + " updates"
    if s.get("extend"):
        text += (f" (an arm not plateaued resumed to twice its updates, at most "
                 f"{s['extend']} time{'s' if s['extend'] > 1 else ''})")
    return text


def write_report(results: dict, out: Path) -> Path:
    out = Path(out)
    names = figures(results, out) + curve_figure(results, out)
    s = results["setup"]
    leaves = s.get("leaves_out") or []
    text = [
        "# Liu, Zhang & Liu (2024) — initial connectivity and bio-plausible learning",
        "",
        f"Setup ({s['label']}): N = {s['n_rec']}, dt/τ = {s['dt']}, φ = {s['nonlinearity']}, "
        f"inputs {s['io_scale']}, learned x0 = {s['learn_x0']}, Adam {s['lr']:g}, "
        f"{_budget(s)} of batch {s['batch_size']}; ini_gain ∈ {s['ini_gains']} "
        f"(g = 1.5·ini_gain ∈ {[round(g, 3) for g in s['gains']]}), seeds {s['seeds']}; "
        f"pre-flossing {s['floss_updates']} updates (k = {s['floss_k']}, lr {s['floss_lr']:g}) "
        f"for {s['floss_rules']}. λ_max in nats per τ, driven by task trials (autonomous: zero "
        f"input), from `{results['lyapunov_source']}`. {results['seconds']} s in this "
        f"invocation; training over every session (resumed runs included): "
        f"{results.get('training_seconds_all_sessions', '?')} s "
        f"({results.get('networks_per_arm', '?')} networks per arm, trained as one ensemble).",
        "",
        *([f"The {s['label']} setup leaves out: {'; '.join(leaves)}.", ""] if leaves else []),
        "Gradient flossing needs the network's Jacobians through time — a non-local signal no "
        "synapse has; for e-prop and RFLO it is therefore a developmental phase *before* "
        "learning (pre-flossing of W, U, b toward λ_i = 0 on the task-driven network), never "
        "mixed into the local updates. The same phase is applied to BPTT where listed, for "
        "comparison.",
        "",
        "## Protocol",
        "",
        *protocol_lines(results),
        "",
        "## Verdicts",
        "",
        *verdict_lines(results["verdicts"],
                       [Claim.from_dict(c) for c in results["claim_verdicts"]]),
        "",
        "## Has learning finished?",
        "",
        *plateau_lines(results),
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
