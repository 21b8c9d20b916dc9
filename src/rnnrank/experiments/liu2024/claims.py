"""One verdict per claim of Liu, Zhang & Liu (2024), by the rules of the pre-registered protocol.

The rules are those of ``PROTOCOL`` (docs/reproductions/liu2024-protocol.md, written and
committed before the decisive run); its rule block lists the constants below, and the report
flags any that differ. The paper's claims are qualitative (REFERENCES §3 holds no numbers), so
each verdict tests the direction of an effect against its spread over seeds (mean ± standard
error, s.e. = sd/√n):

0. *Learning has finished* (the gate, issue 33): a comparison is decided only between arms
   whose training curves have plateaued. Per arm and ini_gain, the geometric-mean training-loss
   curve over seeds must pass ``rr.analysis.plateau_test`` (window ``PLATEAU_WINDOW`` of the
   run, tolerance ``PLATEAU_TOL`` in ln-loss, ``Z`` s.e., window ends of ``PLATEAU_EDGE``). A
   comparison touching an arm that has not plateaued at some gain is *inconclusive*
   ("learning unfinished"), never decided.
1. *The initial gain changes how well e-prop and RFLO learn, as it does BPTT's.* Two
   statistics per rule and ini_gain (mean ± s.e. over seeds): the plateau loss, log10 of the
   trained network's held-out loss, and the updates to criterion, log10 of the update at which
   the seed's smoothed ln training loss first reaches ``CRITERION`` of its final improvement
   (``rr.analysis.updates_to_fraction``, moving average over ``CRITERION_SMOOTH`` of the
   records). For each statistic, a rule "depends on the gain" when the largest and smallest of
   its per-gain means differ by more than ``Z`` combined s.e.; when BPTT and the rule both do,
   their curves over the gains are compared by Pearson r and its 95 % interval (``R_DRAWS``
   draws of every per-gain mean from N(mean, s.e.²), generator seed 0): *reproduced* when
   r ≥ ``R_AGREE`` and the interval lies above 0, *not reproduced* when r ≤ −``R_AGREE`` and
   it lies below 0, else *inconclusive*; inconclusive as well when either rule shows no gain
   effect. The rule's verdict combines its two statistics (``framework.combine``: both
   reproduced → reproduced; one reproduced → partly; …).
2. *λ_max before and after training shows what an initialisation demands of training.*
   Statistic: driven λ_max before and after training per ini_gain, and Δλ = after − before.
   *Reproduced* when Δλ depends on the gain (range over gains > ``Z`` s.e.) and training
   narrows the spread of λ_max across gains (range after < range before by more than ``Z``
   s.e.); *not reproduced* when the range grows by more than ``Z`` s.e.; else inconclusive.
   Only rules whose every gain plateaued are decided.
3. *Gradient flossing improves learning (most at poor initial gains).* Statistic: flossed −
   unflossed log10 held-out loss per gain, paired by seed (the same initial network),
   mean ± s.e., over the gains where both arms plateaued. *Reproduced* when at least one gain
   improves by more than ``Z`` s.e. and none worsens by more; *not reproduced* when some gain
   worsens by more than ``Z`` s.e. and none improves; *inconclusive* otherwise (all within the
   spread, mixed signs, or no gain with both arms plateaued). Where it improves most is
   reported.
"""

from __future__ import annotations

import math

import numpy as np

from ...stats import mean_se
from ..formatting import pm
from ..framework import Claim, combine

PROTOCOL = "docs/reproductions/liu2024-protocol.md"  # the rules below, pre-registered there

Z = 2.0  # an effect counts when it exceeds Z standard errors (≈ 95 % for a normal statistic)
R_AGREE = 0.5  # curves over the gains alike (opposite) at Pearson r ≥ R_AGREE (≤ −R_AGREE) ...
R_DRAWS = 4000  # ... with r's 95 % interval, from this many parametric draws, clear of 0
PLATEAU_WINDOW = 0.25  # the plateau test reads the last quarter of each arm's updates
PLATEAU_TOL = 0.05  # largest ln-loss fall over that window that counts as flat (≈ 5 %)
PLATEAU_EDGE = 0.2  # criterion A compares the means of the window's first and last fifths
CRITERION = 0.9  # updates to criterion: first update at 90 % of the final ln-loss improvement
CRITERION_SMOOTH = 0.05  # moving average over 5 % of the records before the crossing
VERDICT_RULES = {"Z": Z, "R_AGREE": R_AGREE, "R_DRAWS": R_DRAWS,
                 "PLATEAU_WINDOW": PLATEAU_WINDOW, "PLATEAU_TOL": PLATEAU_TOL,
                 "PLATEAU_EDGE": PLATEAU_EDGE,
                 "CRITERION": CRITERION, "CRITERION_SMOOTH": CRITERION_SMOOTH}
"""Every constant of the rules, by the name the protocol's rule block gives it."""

BIO_RULES = ("eprop", "rflo", "tbptt")
STATISTICS = {"plateau_loss": ("log10_loss", "log10 held-out loss of the trained network"),
              "updates_to_criterion": ("log10_updates_to_criterion",
                                       f"log10 updates to {CRITERION:g} of the final ln-loss "
                                       "improvement")}


def _curve(rows, task, rule, floss, metric):
    """[(ini_gain, mean, se)] over gains, sorted."""
    gains = sorted({r["ini_gain"] for r in rows if (r["task"], r["rule"]) == (task, rule)})
    def values(x):
        return [r.get(metric) for r in rows
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


def unfinished(rows, task, rule, floss=False) -> list[float]:
    """The ini_gains at which arm (task, rule, floss) has not been shown to plateau (its rows'
    ``plateau`` is not True: the test failed, or was never run)."""
    return sorted({r["ini_gain"] for r in rows
                   if (r["task"], r["rule"], r["floss"]) == (task, rule, floss)
                   and r.get("plateau") is not True})


def pearson_interval(a, b) -> tuple[float, float, float]:
    """(r, 2.5 %, 97.5 %) of the Pearson r of two curves ``[(x, mean, se)]`` over the same x:
    r of the means, and its interval over ``R_DRAWS`` draws of every mean from N(mean, se²)
    (numpy generator seed 0). NaN where fewer than 3 points, a flat curve, or a missing s.e."""
    ma, sa = np.array([p[1] for p in a]), np.array([p[2] for p in a])
    mb, sb = np.array([p[1] for p in b]), np.array([p[2] for p in b])
    nan = (float("nan"),) * 3
    if len(ma) < 3 or len(ma) != len(mb) or not np.all(np.isfinite(np.r_[ma, mb])) \
            or ma.std() == 0 or mb.std() == 0:
        return nan
    r = float(np.corrcoef(ma, mb)[0, 1])
    if not np.all(np.isfinite(np.r_[sa, sb])):
        return r, float("nan"), float("nan")
    gen = np.random.default_rng(0)
    da = ma + sa * gen.standard_normal((R_DRAWS, len(ma)))
    db = mb + sb * gen.standard_normal((R_DRAWS, len(mb)))
    da, db = da - da.mean(1, keepdims=True), db - db.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rs = (da * db).sum(1) / np.sqrt((da * da).sum(1) * (db * db).sum(1))
    lo, hi = np.nanpercentile(rs, [2.5, 97.5])
    return r, float(lo), float(hi)


def _alike(bptt, other, t_bptt, t_other, rule, stat) -> dict:
    """Claim 1's rule for one statistic: BPTT's curve over the gains against ``rule``'s."""
    r, lo, hi = pearson_interval(bptt, other)
    out = {"pearson_r": r, "r_interval": [lo, hi]}
    ci = f"r = {r:.2f} [{lo:.2f}, {hi:.2f}]"
    if not t_bptt["significant"]:
        return {**out, "verdict": "inconclusive",
                "why": f"{stat}: BPTT's does not depend on the gain beyond {Z:g} s.e."}
    if not t_other["significant"]:
        return {**out, "verdict": "inconclusive",
                "why": f"{stat}: {rule}'s range over the gains is within {Z:g} s.e."}
    if r >= R_AGREE and lo > 0:
        return {**out, "verdict": "reproduced", "why": f"{stat}: alike, {ci}"}
    if r <= -R_AGREE and hi < 0:
        return {**out, "verdict": "not reproduced", "why": f"{stat}: opposite, {ci}"}
    return {**out, "verdict": "inconclusive",
            "why": f"{stat}: both depend on the gain, curves neither clearly alike nor "
                   f"opposite, {ci}"}


def claim1(rows: list[dict]) -> dict:
    out = {"statistic": "plateau loss (log10 held-out) and log10 updates to "
           f"{CRITERION:g} of the final improvement vs ini_gain per rule, mean ± s.e. over "
           "seeds", "paper": "qualitative: e-prop and RFLO depend on the initial gain as "
           "BPTT does", "per_task": {}}
    for task in sorted({r["task"] for r in rows}):
        rules = sorted({r["rule"] for r in rows if r["task"] == task and not r["floss"]})
        entry = {"curves": {}, "gain_effect": {}, "rules": {},
                 "unfinished": {rule: unfinished(rows, task, rule) for rule in rules}}
        for stat, (metric, _) in STATISTICS.items():
            curves = {rule: _curve(rows, task, rule, False, metric) for rule in rules}
            entry["curves"][stat] = {k: [list(p) for p in v] for k, v in curves.items()}
            entry["gain_effect"][stat] = {rule: _range_test(c) for rule, c in curves.items()}
        for rule in rules:
            if rule == "bptt" or "bptt" not in rules:
                continue
            late = {k: entry["unfinished"][k] for k in ("bptt", rule) if entry["unfinished"][k]}
            if late:
                where = "; ".join(f"{k} at ini_gain {', '.join(f'{x:g}' for x in v)}"
                                  for k, v in late.items())
                entry["rules"][rule] = {"verdict": "inconclusive",
                                        "why": f"learning unfinished (no plateau): {where}",
                                        "statistics": {}}
                continue
            per = {}
            for stat in STATISTICS:
                c = entry["curves"][stat]
                t = entry["gain_effect"][stat]
                per[stat] = _alike(c["bptt"], c[rule], t["bptt"], t[rule], rule, stat)
            entry["rules"][rule] = {"verdict": str(combine([d["verdict"] for d in per.values()])),
                                    "why": "; ".join(d["why"] for d in per.values()),
                                    "statistics": per}
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
            sel = [{**r, "_delta": r["lambda_final"] - r["lambda_init"]} for r in rows
                   if (r["task"], r["rule"], r["floss"]) == (task, rule, False)]
            if not sel:
                continue
            before = _curve(sel, task, rule, False, "lambda_init")
            after = _curve(sel, task, rule, False, "lambda_final")
            delta = _curve(sel, task, rule, False, "_delta")
            t_delta, t_before, t_after = (_range_test(c) for c in (delta, before, after))
            narrowing = t_before["range"] - t_after["range"]
            se = math.hypot(t_before["se"], t_after["se"])
            late = unfinished(rows, task, rule)
            if late:
                verdict = "inconclusive"
                why = ("learning unfinished (no plateau) at ini_gain "
                       + ", ".join(f"{x:g}" for x in late))
            elif t_delta["significant"] and narrowing > Z * se:
                verdict, why = "reproduced", "Δλ depends on the gain and the spread narrows"
            elif narrowing < -Z * se:
                verdict, why = "not reproduced", "the spread of λ_max over gains grows"
            else:
                verdict, why = "inconclusive", "no narrowing beyond the spread"
            verdicts.append(verdict)
            entry[rule] = {"before": [list(p) for p in before], "after": [list(p) for p in after],
                           "delta": [list(p) for p in delta], "delta_depends_on_gain": t_delta,
                           "range_before": t_before["range"], "range_after": t_after["range"],
                           "narrowing": narrowing, "narrowing_se": se, "verdict": verdict,
                           "why": why}
        out["per_task"][task] = entry
    out["verdict"] = combine(verdicts)
    return out


def claim3(rows: list[dict]) -> dict:
    out = {"statistic": "flossed − unflossed log10 held-out loss per ini_gain, paired by "
           "seed, mean ± s.e.", "paper": "qualitative: flossing improves bio-plausible "
           "learning, most at poor initial gains", "per_task": {}}
    verdicts = []
    for task in sorted({r["task"] for r in rows}):
        entry = {}
        rules = sorted({r["rule"] for r in rows if r["task"] == task and r["floss"]})
        for rule in rules:
            late = set(unfinished(rows, task, rule, False)) | set(
                unfinished(rows, task, rule, True))
            diffs = []
            for x in sorted({r["ini_gain"] for r in rows if r["task"] == task}):
                if x in late:
                    continue
                pairs = {}
                for r in rows:
                    if (r["task"], r["rule"], r["ini_gain"]) == (task, rule, x):
                        pairs.setdefault(r["seed"], {})[r["floss"]] = r["log10_loss"]
                d = [p[True] - p[False] for p in pairs.values() if len(p) == 2]
                m, s, n = mean_se(d)
                diffs.append({"ini_gain": x, "mean": m, "se": s, "n": n})
            better = [d for d in diffs if math.isfinite(d["se"]) and d["mean"] < -Z * d["se"]]
            worse = [d for d in diffs if math.isfinite(d["se"]) and d["mean"] > Z * d["se"]]
            verdict = ("reproduced" if better and not worse else
                       "not reproduced" if worse and not better else "inconclusive")
            why = (f"improves at {len(better)}, worsens at {len(worse)} of {len(diffs)} gains "
                   f"beyond {Z:g} s.e.")
            if not diffs:
                why = "learning unfinished (no plateau) at every gain"
            elif late:
                why += "; left out (no plateau): ini_gain " + ", ".join(
                    f"{x:g}" for x in sorted(late))
            verdicts.append(verdict)
            most = min(diffs, key=lambda d: d["mean"]) if diffs else None
            entry[rule] = {"difference": diffs, "improves_at": [d["ini_gain"] for d in better],
                           "worsens_at": [d["ini_gain"] for d in worse],
                           "unfinished": sorted(late),
                           "largest_improvement_at": None if most is None else most["ini_gain"],
                           "verdict": verdict, "why": why}
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
            effects = entry["gain_effect"]
            loss = effects.get("plateau_loss", effects)  # results written before issue 33
            out += [f"{task}/{rule}: log10-loss range over gains {pm(t['range'], t['se'])}"
                    for rule, t in loss.items()]
        elif key == "claim2_lambda_before_after":
            out += [f"{task}/{rule}: λ_max range narrows by {pm(d['narrowing'], d['narrowing_se'])}"
                    for rule, d in entry.items()]
        else:
            for rule, d in entry.items():
                best = min(d["difference"], key=lambda x: x["mean"], default=None)
                out.append(f"{task}/{rule}: best flossed − unflossed log10 loss "
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
