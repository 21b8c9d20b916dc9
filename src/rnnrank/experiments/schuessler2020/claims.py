"""The convergence gate, means ± s.e. over converged networks, and a verdict per claim of
Schuessler et al. (2020) beside the paper's value.

Gate (``figures_nonlinear.ipynb``): a network enters the means only if it converged (training
loss < 0.05·L0 at some update > 0) *and* has a functional rank (some R in 0 … 25 with
loss(R) < 0.05·loss(R = 0)). The authors draw a g only where all 5 samples pass and shade ± one
standard deviation; here every g is reported with its count of converged networks and ± one
standard error of the mean.

Verdict rule, fixed before looking at the numbers: the paper's values were read off its
figures (± 15 %, REFERENCES.md §1), so a value is *reproduced* when |ours − paper| ≤
15 % of the paper's value (at least ``floor``: 1 for the integer functional rank, 0.15 for
ratios that the paper gives as 0 or ≈ 1) + 2 s.e.; *inconclusive* with fewer than 2 converged
networks; *not reproduced* otherwise.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ...stats import mean_se as _mean_se
from ..formatting import num, pm
from ..framework import Claim

# REFERENCES.md §1 (≈, read off the paper's figures; N = 256, mean of 5 seeds).
# g: {task: (convergence updates, ‖ΔW‖_F, shuffle loss/L0, functional rank)}
PAPER = {
    0.0: {"flipflop": (105, 1.9, 0.0, 2), "mante": (360, 2.05, 0.0, 4.7),
          "romo": (">600", 3.45, 0.0, 6.3)},
    0.9: {"flipflop": (40, 1.2, 1.0, 5), "mante": (50, 0.95, 1.0, 4),
          "romo": (320, 2.2, 1.0, 6.2)},
    1.5: {"flipflop": (60, 0.6, 1.0, 7.7), "mante": (45, 0.72, 1.0, 5.5),
          "romo": (80, 1.25, 1.0, 5.5)},
}
METRICS = ("functional_rank", "delta_norm", "shuffle_ratio", "convergence_time")
PAPER_INDEX = {"convergence_time": 0, "delta_norm": 1, "shuffle_ratio": 2, "functional_rank": 3}
FLOOR = {"functional_rank": 1.0, "shuffle_ratio": 0.15, "delta_norm": 0.0,
         "convergence_time": 0.0}


def mean_se_or_none(values) -> tuple[float | None, float | None, int]:
    """``rnnrank.stats.mean_se`` with None for a missing mean or s.e. (n = 0 or 1): the
    summaries are JSON tables where a missing value reads null, and the rules test ``is None``."""
    m = _mean_se(values)
    return (m.mean if m.n else None), (m.se if m.n > 1 else None), m.n


def summarise(rows: list[dict]) -> list[dict]:
    """Per (task, g): ``n`` networks, ``n_converged`` passing the gate, and for each metric
    its mean and s.e. over the converged ones (``<metric>``, ``<metric>_se``); the final
    training loss over all networks."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["task"], float(r["g"]))].append(r)
    out = []
    for (task, g), rs in groups.items():
        ok = [r for r in rs if r["converged"]]
        entry = {"task": task, "g": g, "n": len(rs), "n_converged": len(ok),
                 "final_loss": mean_se_or_none(r["final_loss"] / r["initial_loss"] for r in rs)[0]}
        for m in METRICS:
            entry[m], entry[m + "_se"], _ = mean_se_or_none(r[m] for r in ok)
        out.append(entry)
    return sorted(out, key=lambda e: (e["task"], e["g"]))


def verdict(mean, se, n, paper, *, floor: float = 0.0, rel: float = 0.15) -> str:
    """The module's rule: reproduced / not reproduced / inconclusive (n < 2)."""
    if mean is None or n < 2:
        return "inconclusive"
    tol = max(rel * abs(paper), floor) + 2 * (se or 0.0)
    return "reproduced" if abs(mean - paper) <= tol else "not reproduced"


def _claim(name, task, g, paper, mean, se, n, verdict_, note=""):
    return {"claim": name, "task": task, "g": g, "paper": paper, "ours": mean, "se": se,
            "n": n, "verdict": verdict_, "note": note}


def network_claims(summary: list[dict], budget: dict | None = None) -> list[dict]:
    """One claim per (metric, task, g ∈ {0, 0.9, 1.5}) with a paper value, plus per task the
    ‖ΔW‖ decrease with g and the U-shape of the convergence time."""
    by = {(e["task"], round(e["g"], 6)): e for e in summary}
    claims = []
    for g, per_task in PAPER.items():
        for task, values in per_task.items():
            e = by.get((task, g))
            if e is None:
                continue
            n = e["n_converged"]
            for m in METRICS:
                p = values[PAPER_INDEX[m]]
                mean, se = e[m], e[m + "_se"]
                if isinstance(p, str):  # ">600": a lower bound
                    bound = float(p[1:])
                    steps = (budget or {}).get(task)
                    if n == 0 and steps is not None and steps >= bound and e["n"] >= 2:
                        v, note = "reproduced", (f"none of {e['n']} converged within {steps} "
                                                 f"updates (> {bound:g})")
                    else:
                        v = ("inconclusive" if n < 2 else
                             "reproduced" if mean - 2 * (se or 0) > (1 - 0.15) * bound else
                             "not reproduced")
                        note = ""
                    claims.append(_claim(m, task, g, p, mean, se, n, v, note))
                else:
                    claims.append(_claim(m, task, g, p, mean, se, n,
                                         verdict(mean, se, n, p, floor=FLOOR[m])))
    tasks = sorted({e["task"] for e in summary})
    for task in tasks:
        claims.append(_decrease(task, [by.get((task, g)) for g in (0.0, 0.9, 1.5)]))
        claims.append(_u_shape(task, [e for e in summary if e["task"] == task]))
    return claims


def _diff(a, b, key):
    """(a − b, 2 combined s.e.) of ``key``."""
    return a[key] - b[key], 2 * float(np.hypot(a[key + "_se"] or 0, b[key + "_se"] or 0))


def _decrease(task, entries) -> dict:
    """‖ΔW‖ falls with g (paper, e.g. flip-flop 1.9 → 1.2 → 0.6 at g = 0, 0.9, 1.5):
    reproduced when the means fall step by step and g = 0 exceeds g = 1.5 by > 2 s.e.; not
    reproduced when a step rises by > 2 s.e.; inconclusive otherwise."""
    paper = " → ".join(f"{PAPER[g][task][1]:g}" for g in (0.0, 0.9, 1.5))
    if any(e is None or e["n_converged"] < 2 for e in entries):
        return _claim("delta_norm decreases with g", task, None, paper, None, None, 0,
                      "inconclusive", "fewer than 2 converged networks at some g")
    ours = " → ".join(f"{e['delta_norm']:.2f} ± {e['delta_norm_se'] or 0:.2f}" for e in entries)
    steps = [_diff(entries[i], entries[i + 1], "delta_norm") for i in range(2)]
    ends = _diff(entries[0], entries[2], "delta_norm")
    if all(d > 0 for d, _ in steps) and ends[0] > ends[1]:
        v = "reproduced"
    elif any(-d > tol for d, tol in steps):
        v = "not reproduced"
    else:
        v = "inconclusive"
    return _claim("delta_norm decreases with g", task, None, paper, ours, None,
                  min(e["n_converged"] for e in entries), v)


def _u_shape(task, entries) -> dict:
    """Convergence time is U-shaped in g with its minimum inside the grid (paper: near
    0.9–1.5). A g where no network converged counts as slower than every converged one."""
    entries = sorted(entries, key=lambda e: e["g"])
    conv = [e for e in entries if e["n_converged"] >= 2]
    paper = "U-shaped, minimum near g ≈ 0.9–1.5"
    if entries and entries[-1]["g"] <= 1.5:
        return _claim("convergence time U-shaped", task, None, paper, None, None, 0,
                      "inconclusive", f"the g grid ends at {entries[-1]['g']:g}: the rise "
                      "beyond the minimum is not sampled")
    if len(conv) < 3:
        return _claim("convergence time U-shaped", task, None, paper, None, None, len(conv),
                      "inconclusive", "fewer than 3 g with 2 converged networks")
    i = int(np.argmin([e["convergence_time"] for e in conv]))
    best = conv[i]

    def slower(e):
        if e["n_converged"] < 2:
            return e["n_converged"] < e["n"]  # some never converged: slower
        se = np.hypot(e["convergence_time_se"] or 0, best["convergence_time_se"] or 0)
        return e["convergence_time"] - best["convergence_time"] > 2 * se

    left, right = entries[0], entries[-1]
    ok = left is not best and right is not best and slower(left) and slower(right)
    ours = (f"minimum {best['convergence_time']:.0f} ± {best['convergence_time_se'] or 0:.0f} "
            f"at g = {best['g']:g}; g = {left['g']:g}: {_fmt_t(left)}, "
            f"g = {right['g']:g}: {_fmt_t(right)}")
    return _claim("convergence time U-shaped", task, best["g"], paper, ours, None,
                  best["n_converged"], "reproduced" if ok else "not reproduced")


def _fmt_t(e) -> str:
    if e["n_converged"] == 0:
        return f"0/{e['n']} converged"
    return f"{e['convergence_time']:.0f} ({e['n_converged']}/{e['n']} converged)"


def linear_claims(summary: list[dict], *, gains=(0.3, 0.6, 0.9)) -> list[dict]:
    """Per ẑ and g: L_shuff/(ẑ²/2) against g⁴(2 − g²)², the learning time to 5 % relative to
    g = 0 against (1 − g²)², and ‖ΔW‖ against ẑ(1 − g²). The theory is exact (no read-off
    error), so the verdict is the issue's bound on the mean alone: within 15 % (the s.e. is
    reported beside it, not added to the tolerance)."""
    claims = []
    for e in summary:
        if round(e["g"], 6) not in gains:
            continue
        n = e["n"]
        for name, key, theory in (("linear shuffle ratio g⁴(2−g²)²", "shuffle",
                                   "shuffle_theory"),
                                  ("linear learning time (1−g²)²", "time_ratio",
                                   "time_ratio_theory"),
                                  ("linear ‖ΔW‖ ẑ(1−g²)", "delta_norm", "delta_norm_theory")):
            c = _claim(name, f"ẑ={e['z_hat']:g}", e["g"], e[theory], e[key], e[key + "_se"], n,
                       verdict(e[key], 0.0, n, e[theory]))
            claims.append(c)
    return claims


TEXT = {"functional_rank": "functional rank of ΔW", "delta_norm": "‖ΔW‖_F",
        "shuffle_ratio": "shuffle loss / L0", "convergence_time": "convergence time (updates)"}


def decided(results: dict) -> list[Claim]:
    """Every claim row of ``results["claims"]`` (networks, linear model, LSTM) as a ``Claim``."""
    out = []
    for c in results["claims"]:
        where = " · ".join(x for x in (c["task"], None if c["g"] is None else f"g={c['g']:g}")
                           if x)
        ours = (c["ours"] if isinstance(c["ours"], str) else
                pm(c["ours"], c["se"]) + (f" (n = {c['n']})" if c.get("n") is not None else ""))
        out.append(Claim(
            key=f"{c['claim']} · {where}" if where else c["claim"],
            text=f"{TEXT.get(c['claim'], c['claim'])}, {where}" if where else
            TEXT.get(c["claim"], c["claim"]),
            verdict=c["verdict"], paper=num(c["paper"]), ours=ours,
            reason=c.get("note", ""), source="REFERENCES.md §1 (read off the paper's figures)",
            statistic=None if isinstance(c["ours"], str) else c["ours"], se=c.get("se"),
            n=c.get("n")))
    return out
