"""Figures and the Markdown page of the Pellegrino et al. (2023) reproduction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..formatting import num, pm
from ..framework import Claim, verdict_table


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name


def _hand_error_figure(results: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    err, epoch = np.array(results["error_per_trial"]), np.array(results["epoch"])
    ax.plot(np.array(results["null_error_per_trial"]), ".", ms=3, color="0.7",
            label="null (W frozen)")
    ax.plot(err, ".", ms=3, color="k", label="teacher (learning)")
    edges = np.nonzero(np.diff(epoch))[0] + 1
    for b in edges:
        ax.axvline(b - 0.5, color="C3", lw=0.8)
    paper = results["paper"]
    ax.plot([0, edges[0]], [paper["baseline_error"]] * 2, color="C0", lw=2, label="paper")
    ax.plot([edges[0]], [paper["curl_onset_error"]], "o", color="C0")
    ax.plot([edges[1]], [paper["washout_onset_error"]], "o", color="C0")
    ax.set(xlabel="trial k", ylabel="hand error (normalised)",
           title="Hand error per trial: baseline | curl field | washout")
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    return _save(fig, out / "error.png")


def _cv_figure(results: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    cv = results["cv"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (n, byr) in enumerate(sorted(cv["summary"].items(), key=lambda x: int(x[0]))):
        ranks = sorted(byr, key=int)
        x = [int(r) for r in ranks]
        for key, style, label in (("error", "o-", "ltrRNN"), ("invariant", "v--",
                                                               "trial-invariant RNN")):
            m = [byr[r][key] for r in ranks]
            a.errorbar(x, [v[0] for v in m], [np.nan_to_num(v[1]) for v in m], fmt=style,
                       color=f"C{i}", capsize=2, label=f"{label}, N = {n}", ms=4)
        m = [byr[r]["learning"] for r in ranks]
        b.errorbar(x, [v[0] for v in m], [np.nan_to_num(v[1]) for v in m], fmt="s-",
                   color=f"C{i}", capsize=2, label=f"learner, N = {n}", ms=4)
    cpb = cv["cp_baseline"]
    cr = sorted(cpb, key=int)
    a.plot([int(r) for r in cr], [np.mean(cpb[r]) for r in cr], "d:", color="C2",
           label="CP of the data (baseline)")
    a.axhline(np.mean(cv["data_mean"]), color="0.5", lw=1, ls=":", label="data's mean")
    null = results.get("null")
    if null and cv["chosen_rank"] is not None:
        m, se = np.mean(null["learning"]), np.std(null["learning"], ddof=1) / np.sqrt(
            len(null["learning"]))
        b.errorbar([cv["chosen_rank"]], [m], [se], fmt="X", color="C3", ms=8, capsize=3,
                   label="null (W frozen), chosen rank")
    b.axhline(0, color="k", lw=0.5)
    if cv["chosen_rank"] is not None:
        for ax in (a, b):
            ax.axvline(cv["chosen_rank"], color="C3", lw=0.8, ls="--")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xticks(sorted({int(r) for r in cr}), [str(r) for r in sorted({int(r) for r in cr})])
        ax.set_xlabel("rank R")
    a.set(ylabel="held-out nMSE (mean ± s.e., 3 splits)", title="Held-out error")
    b.set(ylabel="learning score", title="Learning score (0: no learning seen)")
    a.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    b.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.set_size_inches(12, 3.8)
    return _save(fig, out / "cv.png")


def _weights_figure(results: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    w = results["weights"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(w["ranks"], w["delta_train_errors"], "o-", color="k", label="ΔW(k), fit error")
    a.plot(w["ranks"], w["centred_train_errors"], "o--", color="0.5",
           label="W(k) − mean_k W(k), fit error")
    held = w["delta_heldout"]
    r = sorted(held, key=int)
    a.errorbar([int(x) for x in r], [np.mean(held[x]) for x in r],
               [np.std(held[x], ddof=1) / np.sqrt(len(held[x])) for x in r], fmt="s",
               color="C0", capsize=2, label="ΔW(k), held-out entries")
    a.axvline(w["cp_rank"], color="C3", lw=0.8, ls="--", label=f"named rank {w['cp_rank']}")
    a.set(xlabel="CP rank", ylabel="relative error", yscale="log",
          title="The teacher's weight tensor")
    a.legend(frameon=False, fontsize=7)
    held = w["restricted_heldout"]
    r = sorted(held, key=int)
    b.errorbar([int(x) for x in r], [np.mean(held[x]) for x in r],
               [np.std(held[x], ddof=1) / np.sqrt(len(held[x])) for x in r], fmt="s-",
               color="C1", capsize=2, label="held-out entries")
    b.axvline(w["restricted_rank"], color="C3", lw=0.8, ls="--",
              label=f"named rank {w['restricted_rank']}")
    b.set(xlabel="CP rank", ylabel="relative error", yscale="log",
          title=f"Pᵀ W(k) P on the {w['activity_dim']} leading PCs of the rates")
    b.legend(frameon=False, fontsize=7)
    return _save(fig, out / "weights.png")


def _factors_figure(out: Path, fit, cp) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    axes[0].plot((cp.factors[0] * cp.weights).numpy())
    axes[0].set_title(f"Teacher: CP trial factors of ΔW(k) (R = {cp.rank})")
    axes[1].plot(fit.factors[0].numpy())
    axes[1].set_title(f"Fit: c(k) of the ltrRNN (R = {fit.rank}, split 0)")
    for a in axes:
        a.set_xlabel("trial k")
    return _save(fig, out / "factors.png")


def _detection_figure(results: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for p in results["detection"]:
        colour = "C0" if p["bin_ms"] < 30 else "C1"
        marker = "o" if p["units"] < 100 else "s"
        ax.errorbar(p["noise_share"], p["learning_score"][0],
                    np.nan_to_num(p["learning_score"][1]), fmt=marker, color=colour,
                    capsize=2, ms=6 + 2 * np.log2(p["rate_scale"]))
        ax.annotate(f"{p['units']}u ×{p['rate_scale']:g} {p['bin_ms']:g}ms",
                    (p["noise_share"], p["learning_score"][0]), fontsize=6,
                    textcoords="offset points", xytext=(4, 4))
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="share of the recorded variance that is counting noise",
           ylabel="learning score (± s.e.)", title="Detection limit: spike counts")
    return _save(fig, out / "detection.png")


def _throughput_lines(t: dict | None) -> list[str]:
    if not t:
        return []
    return [f"The paper grid took {num(t['grid_seconds'], '.0f')} s on this machine: "
            f"{num(t['grid_gflop'], '.0f')} GFLOP of matmul work, "
            f"{num(100 * t['share_of_peak'], '.1f')} % of its {num(t['gemm_peak_gflops'], '.0f')}"
            " GFLOP/s float32 GEMM peak measured in the same run (the fits are bound by "
            "element-wise work over [T, K, n], which the count leaves out).", ""]


def _setup_lines(results: dict) -> list[str]:
    s, t, h = results["setup"], results["teacher"], results["teacher"]["hand_error"]
    p = results["paper"]
    return [
        "## Teacher (fixed from the paper's numbers before any fit)", "",
        "| landmark | teacher | paper |", "|---|---|---|",
        f"| baseline | {num(h['baseline'], '.4f')} | ≈ {p['baseline_error']} |",
        f"| curl onset (first 3 trials) | {num(h['curl_onset'], '.4f')} | ≈ "
        f"{p['curl_onset_error']} |",
        f"| curl onset, evaluation batch (calibrated) | "
        f"{num(h.get('curl_onset_evaluation'), '.4f')} | ≈ {p['curl_onset_error']} |",
        f"| curl, ~15 trials in | {num(h['curl_after_recovery_trials'], '.4f')} | decays "
        "within tens of trials |",
        f"| curl end | {num(h['curl_end'], '.4f')} | back near baseline |",
        f"| washout onset | {num(h['washout_onset'], '.4f')} | ≈ {p['washout_onset_error']} |",
        f"| washout end | {num(h['washout_end'], '.4f')} | back near baseline |", "",
        f"Pretrained {t['pretrain_steps']} Adam updates "
        f"({'converged' if t['pretrain_converged'] else 'stopped at the cap'}: < "
        f"{100 * s['pretrain_tol']:g} % better over {s['pretrain_window']} updates) on reaches "
        f"with a random preparatory period (hold {1.0:g} ± {s['hold_jitter']:g} τ); curl "
        f"{num(t['curl'], '.3f')}, SGD lr {num(t['sgd_lr'], '.4f')} (W only, one step per "
        f"trial); max ‖ΔW‖/‖W(0)‖ = {num(t['max_dW_over_W0'], '.3f')}.", "",
        f"Before any fit: learning is **{num(t['learning_share'], '.4f')}** of the clean rates' "
        f"variance; the null (W frozen) keeps **{num(t['null_within_condition_share'], '.4f')}**"
        f" of its variance within conditions (not learning: the preparatory period); the "
        f"condition mean's held-out nMSE varies by {num(t['condition_mean_spread'], '.4f')} "
        f"(SD) over the splits. → {results['gate']['reason']}.", ""]


def write_report(results: dict, out: Path, *, cells=None, cp=None, fit=None) -> Path:
    """Write ``out/index.md``: the four claims with verdicts and numbers, then figures."""
    out = Path(out)
    claims = [Claim.from_dict(c) for c in results["claim_verdicts"]]
    figs = {"Hand error per trial against the paper's landmarks": _hand_error_figure(results,
                                                                                    out)}
    lines = ["# Pellegrino, Cayco-Gajic & Chadwick (2023) — reproduction", "",
             f"Setup: {results['setup']['label']}. Numbers are mean ± s.e. over the 3 "
             "cross-validation splits.", "", *verdict_table(claims), "",
             *_setup_lines(results)]
    if "cv" in results:
        cv = results["cv"]
        figs["Cross-validation: held-out error and learning score vs rank"] = _cv_figure(
            results, out)
        figs["The teacher's weights: CP error vs rank"] = _weights_figure(results, out)
        c = cv["convergence"]
        lines += ["## Cross-validation (nested fits, 3 block splits)", "",
                  f"Chosen rank (one-SE rule on the learning score, N = "
                  f"{results['setup']['claims_n_rec']}): **{cv['chosen_rank']}**; on the error: "
                  f"{cv['chosen_rank_error']}. {cv['note']}", "",
                  f"Convergence: {c['fits']} ltrRNN fits, {c['ltr_hit_max_iter']} stopped at "
                  f"max_iter = {results['setup']['fit_iter']} (still improving), median "
                  f"{num(c['ltr_iterations_median'], '.0f')} iterations (trial-invariant: "
                  f"{num(c['invariant_iterations_median'], '.0f')}).", "",
                  *_throughput_lines(cv.get("throughput")),
                  "| N | rank | held-out nMSE | trial-invariant | learning score |",
                  "|---|---|---|---|---|"]
        for n, byr in sorted(cv["summary"].items(), key=lambda x: int(x[0])):
            for r, row in sorted(byr.items(), key=lambda x: int(x[0])):
                lines.append(f"| {n} | {r} | {pm(*row['error'][:2], '.4f')} | "
                             f"{pm(*row['invariant'][:2], '.4f')} | "
                             f"{pm(*row['learning'][:2], '.3f')} |")
        lines.append("")
    if "weights" in results:
        w = results["weights"]
        lines += ["## The teacher's weights", "",
                  f"ΔW(k) = W(k) − W(0): CP rank named by the fits' one-SE rule on held-out "
                  f"entries (every {results['setup']['cp_every']}th trial): **{w['cp_rank']}** "
                  f"(held-out relative error {num(w['cp_heldout_error'], '.3f')}); multilinear "
                  f"ranks (trial, post, pre) at 99 % energy (an rnnrank convention): ΔW(k) "
                  f"{tuple(w['multilinear_delta'])}, W(k) − mean_k W(k) "
                  f"{tuple(w['multilinear_centred'])}. Restricted to the {w['activity_dim']} "
                  f"leading PCs of the rates, Pᵀ W(k) P has CP rank **{w['restricted_rank']}** "
                  "by the same rule (the quantity an ltrRNN's J(k) must carry: the baseline "
                  "dynamics too). " + " ".join(f"Note: {n}." for n in w.get("notes", [])), ""]
    null = results.get("null") or {}
    if "learner_minus_null" in null:
        d = null["learner_minus_null"]
        lines += [f"Learning score of the learner minus the null's, paired by split: "
                  f"{pm(d[0], d[1], '.3f')} (reported beside the rule of claim iv; not a "
                  "verdict).", ""]
    if fit is not None and cp is not None:
        figs["Fitted c(k) against the teacher's CP trial factors"] = _factors_figure(out, fit,
                                                                                      cp)
    if results.get("detection"):
        figs["Detection limit: learning score against the counting-noise share"] = (
            _detection_figure(results, out))
        lines += ["## Detection-limit arm (rnnrank's question; no verdict on the paper)", "",
                  "| units | rate × | bin | mean rate | noise share | learning budget | "
                  "learning score | ltrRNN − invariant nMSE |", "|---|---|---|---|---|---|---|---|"]
        for p in results["detection"]:
            lines.append(f"| {p['units']} | {p['rate_scale']:g} | {p['bin_ms']:g} ms | "
                         f"{num(p['mean_rate_hz'], '.1f')} Hz | {num(p['noise_share'], '.3f')} |"
                         f" {pm(*p['budget'][:2], '.4f')} | {pm(*p['learning_score'][:2])} | "
                         f"{pm(*p['ltr_minus_invariant'][:2], '.4f')} |")
        lines.append("")
    secs = results.get("seconds_per_part", {})
    lines += ["## Commands and wall time", "",
              "`rnnrank reproduce pellegrino2023" + (" --quick" if results["quick"] else "")
              + f"` — {num(results.get('seconds'), '.0f')} s in all; per part (s): "
              + ", ".join(f"{k} {num(v, '.0f')}" for k, v in secs.items()) + "."]
    if results["quick_leaves_out"]:
        lines += ["", "Quick mode leaves out: " + "; ".join(results["quick_leaves_out"]) + "."]
    lines += [""] + [f"## {name}\n\n![{name}]({file})\n" for name, file in figs.items()]
    path = out / "index.md"
    path.write_text("\n".join(lines))
    return path
