"""The per-claim verdicts of the Liu et al. (2024) reproduction on planted effects: each claim's
rule (docs/reproductions/liu2024-protocol.md) must say reproduced / not reproduced /
inconclusive where the planted truth says so, and refuse to decide on unfinished learning."""

from __future__ import annotations

import math

import pytest

from rnnrank.experiments.liu2024 import claims as v

GAINS = (0.25, 0.5, 1.0, 1.5, 2.0)
JITTER = (-1.0, 0.0, 1.0, 0.5, -0.5)  # per-seed offsets: a finite, known spread


def rows(loss, *, speed=None, floss_delta=None, lam_init=None, lam_final=None, eps=0.01,
         unfinished=()):
    """Networks with held-out loss loss[rule][i]·(1 + eps·jitter) and updates to criterion
    speed[rule][i]·(1 + eps·jitter) at GAINS[i]; flossed arms of e-prop with log10 loss +
    floss_delta(i, seed); λ_max planted likewise. ``unfinished``: (rule, floss, ini_gain) arms
    whose plateau test failed."""
    out = []
    for rule, curve in loss.items():
        pace = (speed or {}).get(rule, [300.0] * len(GAINS))
        for i, x in enumerate(GAINS):
            for s, j in enumerate(JITTER):
                base = {"task": "mante", "rule": rule, "ini_gain": x, "g": 1.5 * x, "seed": s,
                        "lambda_init": (lam_init or [0.0] * 5)[i] + 1e-3 * j,
                        "lambda_final": (lam_final or [0.0] * 5)[i] + 1e-3 * j}
                plain = curve[i] * (1 + eps * j)
                n = pace[i] * (1 + eps * j)
                out.append({**base, "floss": False, "final_loss": plain,
                            "log10_loss": math.log10(plain), "updates_to_criterion": n,
                            "log10_updates_to_criterion": math.log10(n),
                            "plateau": (rule, False, x) not in unfinished})
                if floss_delta is not None and rule == "eprop":
                    lf = math.log10(plain) + floss_delta(i, s)
                    out.append({**base, "floss": True, "final_loss": 10 ** lf,
                                "log10_loss": lf, "updates_to_criterion": n,
                                "log10_updates_to_criterion": math.log10(n),
                                "plateau": (rule, True, x) not in unfinished})
    return out


U = [4e-3, 1e-3, 5e-4, 1e-3, 4e-3]  # a U-shaped gain effect
SLOW = [900.0, 400.0, 200.0, 300.0, 800.0]


def c1(loss, **kw):
    c = v.claim1(rows(loss, **kw))
    return c, c["per_task"]["mante"]["rules"]


def test_claim1_alike_opposite_and_flat_curves():
    c, r = c1({"bptt": U, "eprop": [10 * u for u in U], "rflo": [0.05] * 5},
              speed={"bptt": SLOW, "eprop": [3 * s for s in SLOW], "rflo": [2000.0] * 5})
    loss = r["eprop"]["statistics"]["plateau_loss"]
    assert r["eprop"]["verdict"] == "reproduced" and loss["pearson_r"] > 0.99
    assert loss["r_interval"][0] > 0.9
    assert r["rflo"]["verdict"] == "inconclusive"  # flat: no effect beyond the spread
    assert c["verdict"] == "partly reproduced"
    c, r = c1({"bptt": U, "eprop": [5e-4 / u * 1e-3 for u in U]},
              speed={"bptt": SLOW, "eprop": [1e5 / s for s in SLOW]})
    assert r["eprop"]["verdict"] == "not reproduced" and c["verdict"] == "not reproduced"
    c, _ = c1({"bptt": [1e-3] * 5, "eprop": U}, speed={"bptt": [300.0] * 5})
    assert c["verdict"] == "inconclusive"  # nothing in BPTT to mirror


def test_claim1_combines_its_two_statistics():
    """Plateau losses alike, learning speed flat for the rule: partly reproduced."""
    _, r = c1({"bptt": U, "eprop": [10 * u for u in U]},
              speed={"bptt": SLOW, "eprop": [500.0] * 5})
    stats = r["eprop"]["statistics"]
    assert stats["plateau_loss"]["verdict"] == "reproduced"
    assert stats["updates_to_criterion"]["verdict"] == "inconclusive"
    assert r["eprop"]["verdict"] == "partly reproduced"


def test_claim1_is_never_decided_on_unfinished_learning():
    _, r = c1({"bptt": U, "eprop": [10 * u for u in U]},
              speed={"bptt": SLOW, "eprop": [3 * s for s in SLOW]},
              unfinished=[("eprop", False, 0.25)])
    assert r["eprop"]["verdict"] == "inconclusive"
    assert "learning unfinished" in r["eprop"]["why"] and "0.25" in r["eprop"]["why"]
    # rows without a plateau test (results before issue 33) are unfinished too
    plain = rows({"bptt": U, "eprop": U})
    for row in plain:
        del row["plateau"]
    assert v.claim1(plain)["verdict"] == "inconclusive"


def test_r_needs_its_interval_clear_of_zero():
    """r of the means ≥ 0.5, but with s.e.s as large as the effect the 95 % interval of r
    spans 0: the rule must not call the curves alike."""
    a = [(x, m, 0.01) for x, m in zip(GAINS, [0.0, 1.0, 2.0, 3.0, 4.0], strict=True)]
    tight = [(x, m, 0.01) for x, m in zip(GAINS, [0.0, 1.1, 1.9, 3.2, 3.9], strict=True)]
    r, lo, hi = v.pearson_interval(a, tight)
    assert r > 0.99 and lo > 0.95
    wide = [(x, m, 3.0) for x, m in zip(GAINS, [0.0, 1.1, 1.9, 3.2, 3.9], strict=True)]
    r, lo, hi = v.pearson_interval(a, wide)
    assert r > 0.99 and lo < 0 < hi
    t = {"significant": True}
    assert v._alike(a, wide, t, t, "eprop", "x")["verdict"] == "inconclusive"
    assert v._alike(a, tight, t, t, "eprop", "x")["verdict"] == "reproduced"
    opposite = [(x, -m, s) for x, m, s in tight]
    assert v._alike(a, opposite, t, t, "eprop", "x")["verdict"] == "not reproduced"
    assert math.isnan(v.pearson_interval(a[:2], tight[:2])[0])  # too few gains


def test_claim2_narrowing_widening_and_the_gate():
    before, common = [-0.6, -0.5, -0.1, 0.05, 0.2], [-0.05] * 5
    c = v.claim2(rows({"bptt": U}, lam_init=before, lam_final=common))
    d = c["per_task"]["mante"]["bptt"]
    assert d["verdict"] == "reproduced" and d["narrowing"] == pytest.approx(0.8, abs=1e-2)
    c = v.claim2(rows({"bptt": U}, lam_init=common, lam_final=before))
    assert c["verdict"] == "not reproduced"
    c = v.claim2(rows({"bptt": U}, lam_init=common, lam_final=common))
    assert c["verdict"] == "inconclusive"
    c = v.claim2(rows({"bptt": U}, lam_init=before, lam_final=common,
                      unfinished=[("bptt", False, 2.0)]))
    assert c["verdict"] == "inconclusive"
    assert "unfinished" in c["per_task"]["mante"]["bptt"]["why"]


@pytest.mark.parametrize("delta, verdict", [
    (lambda i, s: -0.3 * (1 + 0.1 * s), "reproduced"),
    (lambda i, s: +0.3 * (1 + 0.1 * s), "not reproduced"),
    (lambda i, s: 0.3 * (-1) ** s, "inconclusive"),  # mean ≈ 0, spread 0.3
])
def test_claim3_paired_log_differences(delta, verdict):
    c = v.claim3(rows({"eprop": U}, floss_delta=delta))
    d = c["per_task"]["mante"]["eprop"]
    assert d["verdict"] == verdict and c["verdict"] == verdict
    assert [x["n"] for x in d["difference"]] == [5] * 5


def test_claim3_leaves_out_gains_without_a_plateau():
    improve = lambda i, s: -0.3 * (1 + 0.1 * s)  # noqa: E731
    c = v.claim3(rows({"eprop": U}, floss_delta=improve,
                      unfinished=[("eprop", True, 0.25), ("eprop", False, 2.0)]))
    d = c["per_task"]["mante"]["eprop"]
    assert [x["ini_gain"] for x in d["difference"]] == [0.5, 1.0, 1.5]
    assert d["verdict"] == "reproduced" and d["unfinished"] == [0.25, 2.0]
    every = [("eprop", True, x) for x in GAINS]
    c = v.claim3(rows({"eprop": U}, floss_delta=improve, unfinished=every))
    assert c["verdict"] == "inconclusive" and "every gain" in c["per_task"]["mante"]["eprop"][
        "why"]


def test_decided_turns_the_verdicts_into_claims():
    r = rows({"bptt": U, "eprop": [10 * u for u in U]}, speed={"bptt": SLOW,
             "eprop": [3 * s for s in SLOW]}, floss_delta=lambda i, s: -0.3 * (1 + 0.1 * s))
    claims = v.decided({"verdicts": v.decide(r)})
    assert [c.verdict for c in claims] == ["reproduced", "inconclusive", "reproduced"]
    assert "mante/eprop: reproduced" in claims[0].reason
