"""The per-claim verdicts of the Liu et al. (2024) reproduction on planted effects: each claim's
rule must say reproduced / not reproduced / inconclusive where the planted truth says so."""

from __future__ import annotations

import math

import pytest

from rnnrank.experiments.liu2024 import claims as v

GAINS = (0.5, 1.0, 1.5, 2.0)
JITTER = (-1.0, 0.0, 1.0, 0.5)  # per-seed offsets: a finite, known spread


def rows(loss, *, floss_delta=None, lam_init=None, lam_final=None, eps=0.01):
    """Networks with final loss loss[rule][i]·(1 + eps·jitter) at GAINS[i]; flossed arms of
    e-prop with loss + floss_delta[i](seed); λ_max planted likewise."""
    out = []
    for rule, curve in loss.items():
        for i, x in enumerate(GAINS):
            for s, j in enumerate(JITTER):
                base = {"task": "mante", "rule": rule, "ini_gain": x, "g": 1.5 * x, "seed": s,
                        "lambda_init": (lam_init or [0.0] * 4)[i] + 1e-3 * j,
                        "lambda_final": (lam_final or [0.0] * 4)[i] + 1e-3 * j}
                plain = curve[i] * (1 + eps * j)
                out.append({**base, "floss": False, "final_loss": plain,
                            "log10_loss": math.log10(plain)})
                if floss_delta is not None and rule == "eprop":
                    out.append({**base, "floss": True,
                                "final_loss": plain + floss_delta(i, s)})
    return out


U = [4e-3, 1e-3, 1e-3, 4e-3]


def test_claim1_alike_opposite_and_flat_curves():
    c = v.claim1(rows({"bptt": U, "eprop": [10 * u for u in U], "rflo": [0.05] * 4}))
    r = c["per_task"]["mante"]["rules"]
    assert r["eprop"]["verdict"] == "reproduced" and r["eprop"]["pearson_r_log_loss"] > 0.99
    assert r["rflo"]["verdict"] == "inconclusive"  # flat: no effect beyond the spread
    assert c["verdict"] == "partly reproduced"
    c = v.claim1(rows({"bptt": U, "eprop": [1e-3, 4e-3, 4e-3, 1e-3]}))
    assert c["per_task"]["mante"]["rules"]["eprop"]["verdict"] == "not reproduced"
    assert c["verdict"] == "not reproduced"
    c = v.claim1(rows({"bptt": [1e-3] * 4, "eprop": U}))  # nothing in BPTT to mirror
    assert c["verdict"] == "inconclusive"
    c = v.claim1(rows({"bptt": U, "eprop": [1e-3, 1e-3, 4e-3, 4e-3]}))  # r = 0: neither
    assert c["per_task"]["mante"]["rules"]["eprop"]["verdict"] == "inconclusive"


def test_claim2_narrowing_and_widening():
    before, common = [-0.5, -0.1, 0.05, 0.2], [-0.05] * 4
    c = v.claim2(rows({"bptt": U}, lam_init=before, lam_final=common))
    d = c["per_task"]["mante"]["bptt"]
    assert d["verdict"] == "reproduced" and d["narrowing"] == pytest.approx(0.7, abs=1e-2)
    c = v.claim2(rows({"bptt": U}, lam_init=common, lam_final=before))
    assert c["verdict"] == "not reproduced"


@pytest.mark.parametrize("delta, verdict", [
    (lambda i, s: -0.01 * (1 + 0.1 * s), "reproduced"),
    (lambda i, s: +0.01 * (1 + 0.1 * s), "not reproduced"),
    (lambda i, s: 0.01 * (-1) ** s, "inconclusive"),  # mean 0, spread 0.01
])
def test_claim3_paired_differences(delta, verdict):
    c = v.claim3(rows({"eprop": U}, floss_delta=delta))
    d = c["per_task"]["mante"]["eprop"]
    assert d["verdict"] == verdict and c["verdict"] == verdict
    assert [x["n"] for x in d["difference"]] == [4] * 4
