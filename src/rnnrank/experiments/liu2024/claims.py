"""One verdict per claim of Liu, Zhang & Liu (2024) from the measured networks.

The paper's claims are qualitative (REFERENCES §3 holds no numbers), so each verdict tests the
direction of an effect against its spread over seeds (mean ± standard error, s.e. = sd/√n):

1. *The initial gain changes how well e-prop and RFLO learn, as it does BPTT's.* Statistic:
   log10 of the final held-out loss vs ini_gain per rule (log because losses span decades and
   one unstable seed dominates a linear mean: the first quick run's BPTT at ini_gain 2 ended
   at 0.048, 0.0012 and 0.0070). A rule "depends on the gain" when the largest and smallest
   of its per-gain means differ by more than ``Z`` combined standard errors. Per task and
   bio-plausible rule: *reproduced* when BPTT and the rule both depend on the gain and their
   log10-loss curves over the gains correlate (Pearson r ≥ ``R_AGREE``); *not reproduced* when
   both depend on it and the curves anti-correlate as clearly (r ≤ −``R_AGREE``); otherwise
   *inconclusive* (the rule's effect within its spread, |r| < ``R_AGREE`` — with 4 gains r
   itself is noisy: two quick replicates of 4 seeds gave r = −0.15 and 0.13 for e-prop — or
   BPTT showing no dependence).
2. *λ_max before and after training shows what an initialisation demands of training.*
   Statistic: driven λ_max before and after training per ini_gain (mean ± s.e.), and the change
   Δλ. *Reproduced* when the change depends on the gain (range of mean Δλ over gains > ``Z``
   combined s.e.) and training narrows the spread of λ_max across gains (range after < range
   before by more than ``Z`` s.e.): initial gains far from the trained regime demand more change;
   *not reproduced* when the range grows by more than ``Z`` s.e.; else inconclusive.
3. *Gradient flossing improves learning (most at poor initial gains).* Statistic: flossed −
   unflossed final loss per gain, paired by seed (the same initial network), mean ± s.e.
   *Reproduced* when at least one gain improves by more than ``Z`` s.e. and none worsens by
   more; *not reproduced* when some gain worsens by more than ``Z`` s.e. and none improves;
   *inconclusive* otherwise (all within the spread, or mixed signs).
"""

from __future__ import annotations

import math

import numpy as np

from ...stats import mean_se
from ..formatting import pm
from ..framework import Claim, combine

Z = 2.0  # an effect counts when it exceeds Z standard errors (≈ 95 % for a normal statistic)
R_AGREE = 0.5  # loss-vs-gain curves "alike" when their Pearson r over the gains is ≥ this
BIO_RULES = ("eprop", "rflo", "tbptt")


def _curve(rows, task, rule, floss, metric):
    """[(ini_gain, mean, se)] over gains, sorted."""
    gains = sorted({r["ini_gain"] for r in rows if (r["task"], r["rule"]) == (task, rule)})
    def values(x):
        return [r[metric] for r in rows
                if (r["task"], r["rule"], r["floss"], r["ini_gain"]) == (task, rule, floss, x)]
    return [(x, *mean_se(values(x))[:2]) for x in gains]


def _range_test(curve) -> dict:
    """Largest minus smallest mean over the gains, its combined s.e., and significance."""
    pts = [(x, m, s) for x, m, s in curve if math.isfinite(m)]
    if len(pts) < 2:
        return {"range": float("nan"), "se": float("nan"), "significant": False}
    hi = max(pts, key=lambda p: p[1])
    lo = min(pts, key=lambda p: p[1])
    se = math.hypot(hi[2], lo[2])  # NaN with a single seed: never significant
    rng = hi[1] - lo[1]
    return {"range": rng, "se": se, "significant": bool(rng > 0 and rng > Z * se),
            "worst_ini_gain": hi[0], "best_ini_gain": lo[0]}


def claim1(rows: list[dict]) -> dict:
    out = {"statistic": "log10 final held-out loss vs ini_gain per rule, mean ± s.e. over "
           "seeds",
           "paper": "qualitative: e-prop and RFLO depend on the initial gain as BPTT does",
           "per_task": {}}
    for task in sorted({r["task"] for r in rows}):
        rules = sorted({r["rule"] for r in rows if r["task"] == task})
        curves = {rule: _curve(rows, task, rule, False, "log10_loss") for rule in rules}
        tests = {rule: _range_test(c) for rule, c in curves.items()}
        entry = {"curves": {k: [list(p) for p in v] for k, v in curves.items()},
                 "gain_effect": tests, "rules": {}}
        bptt = curves.get("bptt")
        for rule in rules:
            if rule == "bptt" or bptt is None:
                continue
            a = np.array([m for _, m, _ in bptt])
            b = np.array([m for _, m, _ in curves[rule]])
            r = float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 \
                else float("nan")
            if not tests["bptt"]["significant"]:
                verdict = "inconclusive"
                why = "BPTT's loss does not depend on the gain beyond its spread"
            elif not tests[rule]["significant"]:
                verdict = "inconclusive"
                why = f"{rule}'s loss range over the gains is within {Z:g} s.e."
            elif r >= R_AGREE:
                verdict, why = "reproduced", f"both depend on the gain, r = {r:.2f}"
            elif r <= -R_AGREE:
                verdict, why = "not reproduced", (f"both depend on the gain, in opposite ways, "
                                                   f"r = {r:.2f}")
            else:
                verdict, why = "inconclusive", (f"both depend on the gain, curves neither alike "
                                                f"nor opposite, r = {r:.2f}")
            entry["rules"][rule] = {"pearson_r_log_loss": r, "verdict": verdict, "why": why}
        out["per_task"][task] = entry
    out["verdict"] = combine([v["verdict"] for t in out["per_task"].values()
                               for v in t["rules"].values()])
    return out


def claim2(rows: list[dict]) -> dict:
    out = {"statistic": "driven λ_max (per τ) before and after training per ini_gain, "
           "mean ± s.e.; Δλ = after − before",
           "paper": "qualitative: λ_max before/after shows what an initialisation demands",
           "per_task": {}}
    verdicts = []
    for task in sorted({r["task"] for r in rows}):
        entry = {}
        for rule in sorted({r["rule"] for r in rows if r["task"] == task}):
            sel = [r for r in rows if (r["task"], r["rule"], r["floss"]) == (task, rule, False)]
            for r in sel:
                r_delta = r["lambda_final"] - r["lambda_init"]
                r["_delta"] = r_delta
            before = _curve(sel, task, rule, False, "lambda_init")
            after = _curve(sel, task, rule, False, "lambda_final")
            delta = _curve(sel, task, rule, False, "_delta")
            for r in sel:
                del r["_delta"]
            t_delta, t_before, t_after = (_range_test(c) for c in (delta, before, after))
            narrowing = t_before["range"] - t_after["range"]
            se = math.hypot(t_before["se"], t_after["se"])
            if t_delta["significant"] and narrowing > Z * se:
                verdict = "reproduced"
            elif narrowing < -Z * se:
                verdict = "not reproduced"
            else:
                verdict = "inconclusive"
            verdicts.append(verdict)
            entry[rule] = {"before": [list(p) for p in before], "after": [list(p) for p in after],
                           "delta": [list(p) for p in delta], "delta_depends_on_gain": t_delta,
                           "range_before": t_before["range"], "range_after": t_after["range"],
                           "narrowing": narrowing, "narrowing_se": se, "verdict": verdict}
        out["per_task"][task] = entry
    out["verdict"] = combine(verdicts)
    return out


def claim3(rows: list[dict]) -> dict:
    out = {"statistic": "flossed − unflossed final loss per ini_gain, paired by seed, "
           "mean ± s.e.", "paper": "qualitative: flossing improves bio-plausible learning, "
           "most at poor initial gains", "per_task": {}}
    verdicts = []
    for task in sorted({r["task"] for r in rows}):
        entry = {}
        rules = sorted({r["rule"] for r in rows if r["task"] == task and r["floss"]})
        for rule in rules:
            diffs = []
            for x in sorted({r["ini_gain"] for r in rows if r["task"] == task}):
                pairs = {}
                for r in rows:
                    if (r["task"], r["rule"], r["ini_gain"]) == (task, rule, x):
                        pairs.setdefault(r["seed"], {})[r["floss"]] = r["final_loss"]
                d = [p[True] - p[False] for p in pairs.values() if len(p) == 2]
                m, s, n = mean_se(d)
                diffs.append({"ini_gain": x, "mean": m, "se": s, "n": n})
            better = [d for d in diffs if math.isfinite(d["se"]) and d["mean"] < -Z * d["se"]]
            worse = [d for d in diffs if math.isfinite(d["se"]) and d["mean"] > Z * d["se"]]
            verdict = ("reproduced" if better and not worse else
                       "not reproduced" if worse and not better else "inconclusive")
            verdicts.append(verdict)
            most = min(diffs, key=lambda d: d["mean"]) if diffs else None
            entry[rule] = {"difference": diffs, "improves_at": [d["ini_gain"] for d in better],
                           "worsens_at": [d["ini_gain"] for d in worse],
                           "largest_improvement_at": None if most is None else most["ini_gain"],
                           "verdict": verdict}
        out["per_task"][task] = entry
    out["verdict"] = combine(verdicts)
    return out


def decide(rows: list[dict]) -> dict:
    """The three claims' statistics and verdicts (JSON-ready)."""
    return {"claim1_gain_shapes_bio_learning": claim1(rows),
            "claim2_lambda_before_after": claim2(rows),
            "claim3_flossing_improves": claim3(rows)}


CLAIM_TEXT = {
    "claim1_gain_shapes_bio_learning":
        "(1) the initial gain changes how well e-prop / RFLO learn, as it does BPTT's",
    "claim2_lambda_before_after":
        "(2) λ_max before/after training shows what an initialisation demands",
    "claim3_flossing_improves":
        "(3) gradient flossing improves bio-plausible learning (most at poor gains)"}


def _parts(key: str, c: dict) -> str:
    """The per-task, per-rule verdicts behind one combined verdict, in a line."""
    out = []
    for task, entry in c["per_task"].items():
        rules = entry["rules"] if key == "claim1_gain_shapes_bio_learning" else entry
        out += [f"{task}/{rule}: {d['verdict']}" + (f" ({d['why']})" if "why" in d else "")
                for rule, d in rules.items()]
    return "; ".join(out)


def _ours(key: str, c: dict) -> str:
    """The numbers behind a claim per task and rule, mean ± s.e. over seeds."""
    out = []
    for task, entry in c["per_task"].items():
        if key == "claim1_gain_shapes_bio_learning":
            out += [f"{task}/{rule}: log10-loss range over gains {pm(t['range'], t['se'])}"
                    for rule, t in entry["gain_effect"].items()]
        elif key == "claim2_lambda_before_after":
            out += [f"{task}/{rule}: λ_max range narrows by {pm(d['narrowing'], d['narrowing_se'])}"
                    for rule, d in entry.items()]
        else:
            for rule, d in entry.items():
                best = min(d["difference"], key=lambda x: x["mean"], default=None)
                out.append(f"{task}/{rule}: best flossed − unflossed loss "
                           + ("–" if best is None else
                              f"{pm(best['mean'], best['se'])} at ini_gain {best['ini_gain']:g}"))
    return "; ".join(out) or c["statistic"]


def decided(results: dict) -> list[Claim]:
    """The three claims of ``results["verdicts"]`` as ``Claim``s; the reason lists the
    per-task, per-rule verdicts they combine."""
    v = results["verdicts"]
    return [Claim(key, CLAIM_TEXT[key], v[key]["verdict"], v[key]["paper"],
                  _ours(key, v[key]), _parts(key, v[key]),
                  source="REFERENCES.md §3 (abstract and summaries)") for key in CLAIM_TEXT]
