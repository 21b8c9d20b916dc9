"""The Pellegrino et al. (2023) fits as ``rr.sweep`` grids of nested fits (resumable fit by fit).

Every run of a grid is one split of one recording at one (rank, N): the trial-invariant RNN,
then the ltrRNN warm-started from it (``rnnrank.fitting.nested_fit``). ``cv_table`` turns a
finished sweep into per-(N, rank) lists over splits — the shape ``one_se_rule`` and the report
read — with the convergence of every fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...fitting import Fit
from ...sweep import run_sweep


def fit_spec(name: str, recording: Path, *, ranks, n_recs, splits, max_iter: int) -> dict:
    """A sweep spec: nested block-CV fits of ``recording`` over rank × N × split."""
    return {"name": name,
            "fit": {"recording": str(recording), "options": {"max_iter": int(max_iter)}},
            "grid": {"rank": [int(r) for r in ranks], "n_rec": [int(n) for n in n_recs],
                     "split": [{"scheme": "blocks", "seed": int(s)} for s in splits]}}


def run_grid(spec: dict, out: Path, *, workers: int | None = None,
             progress: bool = False) -> tuple:
    """Run (or resume) ``spec`` in ``out``; returns (table, the grid's wall seconds).

    The wall seconds are read from the run directories (first ``options.json`` written to last
    ``result.json``), so a resumed or re-read grid reports the time its fits took, not the time
    of this call; a grid resumed in a later session includes the pause between (an upper
    bound)."""
    table = run_sweep(spec, out, workers=workers, progress=progress)
    failed = table[table["status"] != "completed"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} fits of {spec['name']} did not complete, e.g. "
                           f"{failed.iloc[0]['path']}: {failed.iloc[0]['message']}")
    return table, wall_span(table)


def wall_span(table) -> float:
    """Seconds from the first fit's start (its options.json) to the last fit's result."""
    starts = [(Path(p) / "options.json").stat().st_mtime for p in table["path"]]
    ends = [(Path(p) / "result.json").stat().st_mtime for p in table["path"]]
    return round(max(ends) - min(starts), 1)


def cv_table(table) -> dict:
    """{n_rec: {rank: {"error": [...], "invariant": [...], "learning": [...], "splits": [...],
    "iterations": [...], "hit_max_iter": [...], "paths": [...]}}}, lists over splits in
    split order."""
    out: dict = {}
    for row in table.sort_values(["n_rec", "rank", "split.seed"]).to_dict("records"):
        cell = out.setdefault(int(row["n_rec"]), {}).setdefault(int(row["rank"]), {
            k: [] for k in ("error", "invariant", "learning", "splits", "iterations",
                            "invariant_iterations", "hit_max_iter", "paths")})
        cell["error"].append(float(row["test_error"]))
        cell["invariant"].append(float(row["invariant_test_error"]))
        cell["learning"].append(float(row["learning_score"]))
        cell["splits"].append(int(row["split.seed"]))
        cell["iterations"].append(int(row["iterations"]))
        cell["invariant_iterations"].append(int(row["invariant_iterations"]))
        cell["hit_max_iter"].append(bool(row["hit_max_iter"]))
        cell["paths"].append(str(row["path"]))
    return out


def load_fits(cell: dict) -> list[Fit]:
    """The ltrRNN fits of one grid cell, in split order."""
    return [Fit.load(Path(p) / "fit") for p in cell["paths"]]


def grid_flops(cells: dict, shape: tuple[int, int, int], n_prep: int = 5) -> float:
    """Matmul flops of every fit of the grid (both fits of each nested run), from the
    iterations each used (``rnnrank.fitting.cost``)."""
    from ...fitting.cost import flops_per_iteration

    T, K, n = shape
    total = 0.0
    for N, byr in cells.items():
        for R, c in byr.items():
            its = sum(c["iterations"]) + sum(c["invariant_iterations"])
            total += its * flops_per_iteration(T, K, n, int(N), int(R), n_prep=n_prep)
    return total


def convergence(cells: dict) -> dict:
    """How the grid's optimisations ended: fits, how many stopped at max_iter (still improving
    when they were stopped) for the ltrRNN and the trial-invariant RNN, and the iterations."""
    its = [i for n in cells.values() for c in n.values() for i in c["iterations"]]
    cap = [h for n in cells.values() for c in n.values() for h in c["hit_max_iter"]]
    inv = [i for n in cells.values() for c in n.values() for i in c["invariant_iterations"]]
    return {"fits": len(its), "ltr_hit_max_iter": int(np.sum(cap)),
            "ltr_iterations_median": float(np.median(its)) if its else float("nan"),
            "invariant_iterations_median": float(np.median(inv)) if inv else float("nan")}
