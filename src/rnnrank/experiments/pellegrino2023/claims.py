"""Verdicts of the Pellegrino et al. (2023) claims: pure functions of measured numbers.

Each returns ``{"verdict": "reproduced" | "not reproduced" | "inconclusive", "reason": str}``;
the numbers go in beside it. ``z`` standard errors (default 2) decide "above/below" a threshold.

- ``learning_verdict`` (claim iv: a fixed network cannot explain the learning). First the
  *learning budget* — how much an oracle that tracks learning lowers the held-out error below the
  condition mean (nMSE units) — is compared with the *spread* of the fits over seeds/splits (the
  SD of the fit's held-out nMSE minus the condition mean's, paired per split so that the split's
  difficulty cancels). Budget ≤ spread: the data cannot show learning at this size →
  inconclusive. Otherwise reproduced when the ltrRNN's learning score is above 0 by z s.e. and
  the null control's (same teacher, W frozen) is not above 0 by z s.e.; else not reproduced.
- ``rank_low_verdict`` (claim i): the CP rank chosen for the true ΔW(k) tensor is ≤ ``low``
  and that CP model explains ΔW (relative error ≤ ``max_error``).
- ``rank_match_verdict`` (claim ii): the rank chosen from activity equals the true CP rank;
  inconclusive when the learning verdict is (learning the fits cannot see cannot fix a rank).
- ``recovery_verdict`` (claim iii): the fitted directions are closer to the true ones than
  random subspaces (mean principal angle below the chance 5th percentile by z s.e.) and the
  fitted c(k) explain the true trial factors better than random smooth factors do (R² above the
  chance 95th percentile by z s.e.). Both → reproduced, neither → not, one → inconclusive.
"""

from __future__ import annotations

import math

from ..formatting import num, pm
from ..framework import Claim, Verdict

REPRODUCED, NOT, INCONCLUSIVE = Verdict.REPRODUCED, Verdict.NOT, Verdict.INCONCLUSIVE

CLAIM_PAPER = {  # what the paper claims, per claim
    "i_true_rank_low": "low tensor rank (rank ≤ (d_in + d_out)² for linear networks)",
    "ii_cv_rank_matches": "the rank chosen from activity recovers the teacher's",
    "iii_factor_recovery": "fitted factors match the teacher's",
    "iv_learning_score": "an ltrRNN explains learning a fixed RNN cannot"}


def _v(verdict: str, reason: str) -> dict:
    return {"verdict": verdict, "reason": reason}


def _finite(*xs: float) -> bool:
    return all(math.isfinite(float(x)) for x in xs)


def learning_verdict(score: tuple[float, float], null: tuple[float, float], *, budget: float,
                     spread: float, z: float = 2.0) -> dict:
    """Claim (iv). ``score``, ``null``: (mean, s.e.) of the learning score of the fit to the
    learning teacher and to the frozen teacher; ``budget``, ``spread`` in nMSE units."""
    if not _finite(*score, *null, budget, spread):
        return _v(INCONCLUSIVE, "a number is missing (NaN)")
    if budget <= spread:
        return _v(INCONCLUSIVE, f"learning budget {budget:.4f} ≤ the fits' spread {spread:.4f}: "
                                "the held-out data cannot show learning at this size")
    up = score[0] - z * score[1] > 0
    null_ok = null[0] - z * null[1] <= 0
    if up and null_ok:
        return _v(REPRODUCED, f"learning score {score[0]:.3f} ± {score[1]:.3f} > 0 and null "
                              f"{null[0]:.3f} ± {null[1]:.3f} ≤ 0 (within {z:g} s.e.)")
    why = [] if up else [f"learning score {score[0]:.3f} ± {score[1]:.3f} not > 0"]
    why += [] if null_ok else [f"null control {null[0]:.3f} ± {null[1]:.3f} > 0"]
    return _v(NOT, "; ".join(why))


def rank_low_verdict(best_rank: int, relative_error: float, *, low: int = 5,
                     max_error: float = 0.1) -> dict:
    """Claim (i): the rank named for the teacher's ΔW(k) tensor (by the fits' one-SE rule on
    held-out entries) is ≤ ``low`` and that CP model describes ΔW (held-out relative error ≤
    ``max_error``). Both thresholds are rnnrank conventions, not the paper's: 5 = d_in + d_out,
    the matrix-rank bound of its theory for linear networks; 0.1 unsquared = 99 % of the
    energy."""
    if not _finite(relative_error):
        return _v(INCONCLUSIVE, "no CP error")
    if best_rank > low:
        return _v(NOT, f"CP rank {best_rank} > {low} (rnnrank convention)")
    if relative_error > max_error:
        return _v(INCONCLUSIVE, f"CP rank {best_rank} named but its held-out relative error "
                                f"{relative_error:.3f} > {max_error} (rnnrank convention): ΔW "
                                "is not described")
    return _v(REPRODUCED, f"CP rank {best_rank} ≤ {low}, held-out relative error "
                          f"{relative_error:.3f} ≤ {max_error} (rnnrank conventions)")


def nearest_grid_rank(rank: int, grid) -> list[int]:
    """The ranks of ``grid`` nearest to ``rank`` (two on a tie)."""
    d = [abs(int(g) - int(rank)) for g in grid]
    return sorted(int(g) for g, x in zip(grid, d, strict=True) if x == min(d))


def rank_match_verdict(target_rank: int, chosen_rank: int | None, grid, learning: str) -> dict:
    """Claim (ii): the rank chosen from activity is the grid rank nearest to the CP rank of the
    teacher's weights as the activity sees them (Pᵀ W(k) P, P the leading PCs of its rates: an
    ltrRNN's J(k) carries the baseline dynamics too, so ΔW alone is not the same quantity).
    ``grid``: the ranks the CV could choose; ``learning``: claim (iv)'s verdict — inconclusive
    when learning is not visible, or when no rank was chosen."""
    if learning == INCONCLUSIVE:
        return _v(INCONCLUSIVE, "learning is not visible in the held-out data (claim iv), so "
                                "the rank it would fix cannot be read from activity")
    if chosen_rank is None:
        return _v(INCONCLUSIVE, "no rank explains held-out data better than its mean")
    near = nearest_grid_rank(target_rank, grid)
    if chosen_rank in near:
        return _v(REPRODUCED, f"chosen rank {chosen_rank} is the grid rank nearest to the "
                              f"teacher's {target_rank}")
    return _v(NOT, f"chosen rank {chosen_rank}; the grid rank nearest to the teacher's "
                   f"{target_rank} is {' or '.join(map(str, near))}")


def teacher_can_test(learning_share: float, spread: float) -> dict:
    """Before any fit: the part of the clean rates' variance that only learning explains must
    exceed the split-to-split spread of held-out errors (here the SD over splits of the
    condition mean's held-out nMSE, a predictor that needs no fit); else no fit on this teacher
    can show learning and the claims are not tested."""
    if not _finite(learning_share, spread):
        return _v(INCONCLUSIVE, "a number is missing (NaN)")
    if learning_share <= spread:
        return _v(INCONCLUSIVE, f"this teacher cannot test the claim: learning is "
                                f"{learning_share:.4f} of the variance, below the splits' "
                                f"spread {spread:.4f}")
    return _v(REPRODUCED, f"learning is {learning_share:.4f} of the variance, above the "
                          f"splits' spread {spread:.4f}")


def recovery_verdict(angle: tuple[float, float], angle_chance_p5: float,
                     r2: tuple[float, float], r2_chance_p95: float, z: float = 2.0) -> dict:
    """Claim (iii). ``angle``: (mean, s.e.) over fits of the mean principal angle (degrees);
    ``r2``: (mean, s.e.) of the R² of the true c(k) from the fitted c(k); chance thresholds
    from random subspaces / random smooth factors."""
    if not _finite(*angle, *r2, angle_chance_p5, r2_chance_p95):
        return _v(INCONCLUSIVE, "a number is missing (NaN)")
    a_ok = angle[0] + z * angle[1] < angle_chance_p5
    c_ok = r2[0] - z * r2[1] > r2_chance_p95
    text = (f"mean angle {angle[0]:.1f}° ± {angle[1]:.1f} vs chance 5th pct "
            f"{angle_chance_p5:.1f}°; R² of c {r2[0]:.3f} ± {r2[1]:.3f} vs chance 95th pct "
            f"{r2_chance_p95:.3f}")
    if a_ok and c_ok:
        return _v(REPRODUCED, "both beat chance: " + text)
    if not a_ok and not c_ok:
        return _v(NOT, "neither beats chance: " + text)
    return _v(INCONCLUSIVE, "one of two beats chance: " + text)


def decided(results: dict) -> list[Claim]:
    """The four verdicts of ``results["verdicts"]`` as ``Claim``s, numbers beside them."""
    v = results["verdicts"]
    i, ii, iii, iv = (v[k] for k in ("i_true_rank_low", "ii_cv_rank_matches",
                                     "iii_factor_recovery", "iv_learning_score"))
    chance = iii.get("chance") or {}
    angle, r2 = iii.get("mean_angle") or [None, None], iii.get("mean_c_r2") or [None, None]
    lscore = iv.get("learning_score") or [None, None]
    null = iv.get("null_learning_score") or [None, None]
    budget = iv.get("budget") or [None, None]
    return [
        Claim("i_true_rank_low", "(i) the teacher's ΔW(k) tensor has low CP rank", i["verdict"],
              i["paper"], f"CP rank {i.get('true_cp_rank', '–')} (held-out error "
              f"{num(i.get('relative_error'))}; multilinear ranks "
              f"{i.get('multilinear_ranks', '–')})", i["reason"],
              statistic=i.get("true_cp_rank")),
        Claim("ii_cv_rank_matches", "(ii) the rank chosen by cross-validation from activity "
              "matches the teacher's", ii["verdict"], ii["paper"],
              f"chosen {ii.get('chosen_rank', '–')}; teacher's weights seen by the activity "
              f"{ii.get('restricted_cp_rank', '–')} (d = {ii.get('activity_dim', '–')} PCs)",
              ii["reason"]),
        Claim("iii_factor_recovery", "(iii) fitted factors recover the teacher's better than "
              "chance", iii["verdict"], iii["paper"],
              f"mean angle {pm(angle[0], angle[1], '.1f')}° (chance 5th pct "
              f"{num(chance.get('angle_p5'), '.1f')}°); R² of c {pm(r2[0], r2[1])} "
              f"(chance 95th pct {num(chance.get('r2_p95'))})", iii["reason"],
              statistic=r2[0], se=r2[1]),
        Claim("iv_learning_score", "(iv) an ltrRNN explains learning that a fixed RNN cannot",
              iv["verdict"], iv["paper"],
              f"learning score {pm(lscore[0], lscore[1])}, null {pm(null[0], null[1])}; "
              f"budget {pm(budget[0], budget[1], '.4f')} vs spread "
              f"{num(iv.get('spread'), '.4f')} (nMSE)", iv["reason"],
              statistic=lscore[0], se=lscore[1]),
    ]
