"""Fit the Pellegrino et al. (2023) teacher's recordings and decide the four claims.

Everything runs through ``grid`` (``rr.sweep`` grids of nested fits, resumable fit by fit):

- the paper grid: R ∈ ``setup.ranks`` × N ∈ ``setup.fit_n_recs`` × 3 block splits on the paper
  arm; the rank is chosen at N = ``setup.claims_n_rec`` by the one-SE rule on the learning score
  (where it saturates over rank), and must beat the data's mean by 2 s.e. (else none is chosen);
- the null: the frozen teacher at the chosen rank on the same splits;
- the detection-limit arm: the chosen rank at N = ``setup.detect_n_rec`` on every point.

Claims (verdict rules in ``claims``): (i) the teacher's ΔW(k) tensor — its rank named by the
same one-SE rule on held-out entries, its training-error curve beside that of W(k) − mean_k W(k),
multilinear ranks; (ii) the CV rank against the CP rank of Pᵀ W(k) P (P the leading PCs of the
teacher's rates); (iii) principal angles and R² of c(k) against chance, on all units; (iv) the
learning score against the null's, gated by the learning-only budget against the fits' spread.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from ...analysis import select_cp_rank
from ...fitting import oracle_budget, split_masks
from ...fitting.crossval import cp_baseline, mean_baseline, one_se_rule, paired_difference
from ...stats import mean_se
from ...sweep.throughput import gemm_peak, share_of_peak
from . import claims as V
from . import grid, measures, recordings
from .recordings import learning_oracle


def _chosen_rank(cells: dict, data_mean: list[float]) -> tuple[int | None, int | None, str]:
    """(rank by learning score, rank by error, note), as ``cross_validate`` chooses: only ranks
    whose held-out error beats the data's mean by 2 s.e. of the paired difference over the
    splits are candidates, the one-SE rule runs on those; None when there is none."""
    beats = [r for r, c in cells.items()
             if (d := paired_difference(data_mean, c["error"]))[0] - 2 * d[1] > 0]
    if not beats:
        return None, None, "no rank explains held-out data better than its mean"
    by_learning = one_se_rule({r: cells[r]["learning"] for r in beats}, higher_is_better=True)
    by_error = one_se_rule({r: cells[r]["error"] for r in beats})
    return by_learning, by_error, ""


def _summary(cells: dict) -> dict:
    """{N: {rank: {"error", "invariant", "learning": mean ± s.e. (n)}}} for JSON."""
    return {str(n): {str(r): {k: list(mean_se(c[k])) for k in ("error", "invariant", "learning")}
                     for r, c in byr.items()} for n, byr in cells.items()}


def _cached(path, compute):
    """``compute()``'s JSON-ready result, kept in ``path`` (deterministic parts of a run: a
    rerun of a finished reproduction does not redo them)."""
    import json

    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.write_text(json.dumps(value))
    return value


def _weights_claims(setup, arrays, say, out) -> tuple[dict, object]:
    """Claims (i) and (ii)'s teacher side: held-out CP errors and named ranks (cached in
    ``out/weights.json``), and the CP decomposition of ΔW at the named rank."""
    from ...analysis import cp_decompose

    W = arrays["W"]
    delta = torch.as_tensor(W - W[:1])[1:].double()  # ΔW(0) = 0 carries no direction
    wc = _cached(out / "weights.json",
                 lambda: _weights_numbers(setup, W, delta, arrays["rates"], say))
    cp = cp_decompose(delta, wc["cp_rank"], n_restarts=setup.cp_restarts, seed=setup.seed)
    wc["notes"] = ([f"the named CP rank {wc['cp_rank']} is the largest tried: the held-out "
                    "error still falls at it, so the rank may be larger"]
                   if wc["cp_rank"] == max(setup.cp_ranks) else [])
    return wc, cp


def _weights_numbers(setup, W, delta, rates, say) -> dict:
    centred = torch.as_tensor(W - W.mean(0)).double()
    held = measures.heldout_cp_errors(delta[::setup.cp_every], setup.cp_ranks,
                                      splits=setup.cp_splits, seed=setup.seed)
    cp_rank = measures.elbow_rank(held)
    sel = select_cp_rank(delta, ranks=setup.cp_ranks, n_restarts=setup.cp_restarts,
                         seed=setup.seed)
    sel_c = select_cp_rank(centred, ranks=setup.cp_ranks, n_restarts=setup.cp_restarts,
                           seed=setup.seed)
    P = measures.activity_basis(rates, variance=setup.activity_variance)
    restricted = measures.restricted_weights(W, P)
    r_ranks = list(range(1, min(max(setup.ranks), P.shape[1] ** 2) + 1))
    held_r = measures.heldout_cp_errors(restricted[::setup.cp_every], r_ranks,
                                        splits=setup.cp_splits, seed=setup.seed)
    restricted_rank = measures.elbow_rank(held_r)
    say(f"teacher weights: ΔW CP rank {cp_rank} (held-out), restricted to {P.shape[1]} PCs: "
        f"{restricted_rank}")
    return {"delta_heldout": {str(r): v for r, v in held.items()}, "cp_rank": cp_rank,
            "cp_heldout_error": mean_se(held[cp_rank]).mean,
            "delta_train_errors": sel.errors[:, 0].tolist(),
            "centred_train_errors": sel_c.errors[:, 0].tolist(),
            "ranks": [int(r) for r in sel.ranks],
            "multilinear_delta": list(measures.multilinear_ranks(delta)),
            "multilinear_centred": list(measures.multilinear_ranks(centred)),
            "activity_dim": int(P.shape[1]),
            "restricted_heldout": {str(r): v for r, v in held_r.items()},
            "restricted_rank": restricted_rank}


def _detection(out, setup, task, arrays, rank: int, say, workers, progress) -> list[dict]:
    """Every detection-limit point: noise share, learning budget, learning score ± s.e."""
    points, paths = [], []
    rec_dir = out / "recordings"
    for n_units, scale, bins in itertools.product(setup.detect_units,
                                                  setup.detect_rate_scales, setup.detect_bins):
        kw = dict(n_units=n_units, rate_scale=scale, bin_steps=bins, bin_s=setup.bin_s,
                  smooth_bins=setup.smooth_bins, seed=setup.seed)
        learn = recordings.detection_point(arrays, task, key="rates", **kw)
        null = recordings.detection_point(arrays, task, key="null_rates", **kw)
        oracle = recordings.zscore(learning_oracle(learn["smoothed_expected"],
                                                   null["smoothed_expected"],
                                                   arrays["condition"]), learn["stats"])[0]
        path = rec_dir / f"detect_u{n_units}_x{scale:g}_b{bins}.npz"
        learn["recording"].save(path)
        budget = [oracle_budget(torch.as_tensor(oracle), learn["recording"],
                                *split_masks(learn["recording"], seed=int(s)))
                  for s in setup.splits]
        paths.append(str(path))
        points.append({"units": n_units, "rate_scale": scale, "bin_ms": 1000 * setup.bin_s * bins,
                       "noise_share": learn["noise_share"], "mean_rate_hz": learn["mean_rate_hz"],
                       "budget": list(mean_se(budget)), "recording": str(path)})
    spec = grid.fit_spec("pellegrino2023-detection", paths[0], ranks=[rank],
                         n_recs=[setup.detect_n_rec], splits=setup.splits,
                         max_iter=setup.fit_iter)
    spec["grid"]["recording"] = paths
    table, secs = grid.run_grid(spec, out / "sweeps" / "detection", workers=workers,
                                progress=progress)
    for p in points:
        rows = table[table["recording"] == p["recording"]]
        p["learning_score"] = list(mean_se(rows["learning_score"].tolist()))
        p["ltr_minus_invariant"] = list(mean_se(
            (rows["test_error"] - rows["invariant_test_error"]).tolist()))
        say(f"detection {p['units']} units × {p['rate_scale']:g} rate, {p['bin_ms']:g} ms: "
            f"noise {p['noise_share']:.3f}, budget {p['budget'][0]:.4f}, learning score "
            f"{p['learning_score'][0]:.3f} ± {p['learning_score'][1]:.3f}")
    return points, secs


def fit_and_decide(out, setup, task, arrays, rec, null_rec, seconds: dict, say, workers,
                   progress: bool = False) -> dict:
    """The grids, the numbers of the four claims and their verdicts (module docstring)."""
    rec_dir = out / "recordings"
    spec = grid.fit_spec("pellegrino2023-paper", rec_dir / "paper_learner.npz",
                         ranks=setup.ranks, n_recs=setup.fit_n_recs, splits=setup.splits,
                         max_iter=setup.fit_iter)
    table, seconds["paper_grid"] = grid.run_grid(spec, out / "sweeps" / "paper",
                                                 workers=workers, progress=progress)
    cells = grid.cv_table(table)
    main = cells[setup.claims_n_rec]
    splits = [split_masks(rec, seed=int(s)) for s in setup.splits]
    data_mean = [mean_baseline(rec, "blocks", sp, "mse") for sp in splits]
    chosen, chosen_err, note = _chosen_rank(main, data_mean)
    if chosen is not None and chosen == max(setup.ranks):
        note = (f"the chosen rank {chosen} is the largest of the grid: the rank may be larger "
                "(the learning score and the error still improve at it)")
    say(f"CV at N = {setup.claims_n_rec}: rank {chosen} by learning score, {chosen_err} by "
        f"error {note}")
    t = time.perf_counter()
    cp_curve = _cached(out / "cp_baseline.json", lambda: {
        str(r): [cp_baseline(rec, r, tr, te, seed=i) for i, (tr, te) in enumerate(splits)]
        for r in setup.ranks})
    seconds["cp_baseline"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    wc, cp = _weights_claims(setup, arrays, say, out)
    seconds["weights"] = round(time.perf_counter() - t, 1)
    peak = gemm_peak()  # measured now, in this run, after the grid (nothing else computing)
    flops = grid.grid_flops(cells, rec.shape)
    throughput = {"grid_seconds": seconds["paper_grid"], "grid_gflop": flops / 1e9,
                  "gemm_peak_gflops": peak,
                  "share_of_peak": share_of_peak(flops, seconds["paper_grid"], peak)}
    say(f"paper grid: {seconds['paper_grid']:.0f} s, {flops / 1e9:.0f} GFLOP of matmul work, "
        f"{100 * throughput['share_of_peak']:.1f} % of the {peak:.0f} GFLOP/s GEMM peak")
    out_d = {"cv": {"summary": _summary(cells), "chosen_rank": chosen,
                    "chosen_rank_error": chosen_err, "note": note, "data_mean": data_mean,
                    "cp_baseline": cp_curve, "convergence": grid.convergence(cells),
                    "throughput": throughput},
             "weights": wc, "seconds_per_part": seconds}
    if chosen is None:
        v4 = V._v(V.INCONCLUSIVE, note)
        out_d["verdicts"] = _verdicts(V.rank_low_verdict(wc["cp_rank"], wc["cp_heldout_error"]),
                                      V._v(V.INCONCLUSIVE, note), V._v(V.INCONCLUSIVE, note),
                                      v4, wc, {}, {})
        out_d["_context"] = {"cells": cells, "cp": cp}
        return out_d
    null_spec = grid.fit_spec("pellegrino2023-null", rec_dir / "paper_null.npz", ranks=[chosen],
                              n_recs=[setup.claims_n_rec], splits=setup.splits,
                              max_iter=setup.fit_iter)
    null_table, seconds["null_grid"] = grid.run_grid(null_spec, out / "sweeps" / "null",
                                                     workers=workers, progress=progress)
    null_cell = grid.cv_table(null_table)[setup.claims_n_rec][chosen]
    oracle = learning_oracle(rec.data.double().numpy(), null_rec.data.double().numpy(),
                             arrays["condition"])
    budget = mean_se(oracle_budget(torch.as_tensor(oracle), rec, tr, te) for tr, te in splits)
    diffs = np.subtract(main[chosen]["error"], main[chosen]["invariant"])
    spread = float(np.std(diffs, ddof=1))
    score, null = mean_se(main[chosen]["learning"]), mean_se(null_cell["learning"])
    beyond_null = mean_se(np.subtract(main[chosen]["learning"], null_cell["learning"]))
    v4 = V.learning_verdict(score, null, budget=budget.mean, spread=spread)
    fits = grid.load_fits(main[chosen])
    units = np.arange(rec.shape[2])
    rec_fits = [measures.recovery(f, cp, units) for f in fits]
    chance = measures.chance_levels(cp, units, chosen, rec.shape[1], seed=setup.seed)
    angle = mean_se(r["mean_angle"] for r in rec_fits)
    r2 = mean_se(r["mean_c_r2"] for r in rec_fits)
    v3 = V.recovery_verdict(angle, chance["angle_p5"], r2, chance["r2_p95"])
    v2 = V.rank_match_verdict(wc["restricted_rank"], chosen, setup.ranks, v4["verdict"])
    v1 = V.rank_low_verdict(wc["cp_rank"], wc["cp_heldout_error"])
    points, seconds["detection_grid"] = _detection(out, setup, task, arrays, chosen, say,
                                                   workers, progress)
    out_d["null"] = {"learning": null_cell["learning"], "error": null_cell["error"],
                     "invariant": null_cell["invariant"],
                     "learner_minus_null": list(beyond_null)}
    out_d["learning"] = {"budget_per_split": list(map(float, [
        oracle_budget(torch.as_tensor(oracle), rec, tr, te) for tr, te in splits])),
        "nested_difference": diffs.tolist()}
    out_d["recovery"] = rec_fits
    out_d["detection"] = points
    out_d["verdicts"] = _verdicts(v1, v2, v3, v4, wc, {"angle": angle, "r2": r2,
                                                       "chance": chance},
                                  {"score": score, "null": null, "budget": budget,
                                   "spread": spread, "chosen": chosen})
    out_d["_context"] = {"cells": cells, "cp": cp, "fit": fits[0]}
    return out_d


def _verdicts(v1, v2, v3, v4, wc, rec: dict, learn: dict) -> dict:
    """The four verdicts with the numbers behind them (JSON-ready)."""
    CLAIM_PAPER = V.CLAIM_PAPER
    return {
        "i_true_rank_low": {**v1, "true_cp_rank": wc["cp_rank"],
                            "relative_error": wc["cp_heldout_error"],
                            "multilinear_ranks": wc["multilinear_delta"],
                            "paper": CLAIM_PAPER["i_true_rank_low"]},
        "ii_cv_rank_matches": {**v2, "chosen_rank": learn.get("chosen"),
                               "restricted_cp_rank": wc["restricted_rank"],
                               "activity_dim": wc["activity_dim"],
                               "paper": CLAIM_PAPER["ii_cv_rank_matches"]},
        "iii_factor_recovery": {**v3, "mean_angle": rec.get("angle"),
                                "mean_c_r2": rec.get("r2"), "chance": rec.get("chance"),
                                "paper": CLAIM_PAPER["iii_factor_recovery"]},
        "iv_learning_score": {**v4, "learning_score": learn.get("score"),
                              "null_learning_score": learn.get("null"),
                              "budget": learn.get("budget"), "spread": learn.get("spread"),
                              "paper": CLAIM_PAPER["iv_learning_score"]},
    }
