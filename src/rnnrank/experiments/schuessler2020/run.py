"""Train the Schuessler et al. (2020) networks, analyse each, and run the whole reproduction:
one ``RateRNN`` ensemble per task (every g × seed a member, each with its own batches)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ... import analysis as an
from ...learning import train
from ...models import RateRNN
from ...store.run_dir import RunDir
from .setup import Setup, differences, make_task


def train_task(name: str, setup: Setup, out: str | Path | None = None, *, progress=False):
    """Train one ensemble (gains × seeds) on ``name``; resumes a run found in ``out``."""
    task = make_task(name, setup)
    gains = setup.gains(name)
    members = [(g, s) for g in gains for s in setup.seeds]
    model = RateRNN(task.n_in, setup.n_rec, task.n_out, gain=[g for g, _ in members],
                    seed=[s for _, s in members], dt=setup.dt, tau=1.0, io_scale="field",
                    trainable=setup.trainable)
    run = train(model, task, rule="bptt", steps=setup.steps[name], lr=setup.lr,
                optimizer="adam", batch_size=setup.batch_size, record_every=setup.record_every,
                independent_batches=setup.independent_batches, out=out, seed=0,
                progress=progress)
    return run, task, members


def _loss_per_update(run, E: int):
    """Training loss per update [S, E] (metrics.csv), or per snapshot without a directory."""
    if run.path is None:
        return np.asarray(run.trajectory.steps), np.asarray(run.trajectory.loss)
    rows = np.array([(r[0], r[1], r[2]) for r in RunDir(run.path).read_metrics()])
    steps = np.unique(rows[:, 0]).astype(int)
    loss = np.full((len(steps), E), np.nan)
    loss[np.searchsorted(steps, rows[:, 0].astype(int)), rows[:, 1].astype(int)] = rows[:, 2]
    return steps, loss


def rank_search(run, task, setup: Setup, member, seed: int, block: int = 6):
    """Functional rank over ``setup.ranks`` (every R = 0 … 25 for the paper), searched in
    increasing blocks of ``block`` ranks that stop after the first block holding an R with
    loss(R) < rel_loss_c · loss(R = 0): the smallest such R is the full search's answer, at a
    fraction of the cost (each R is a 512-trial float64 run of the network).

    Returns (ranks evaluated [R'], loss [R'], score [R'], functional rank or None, the
    ``TruncationResult`` of the first block: trained-network and initial losses).
    """
    grid = list(setup.ranks)
    if grid[0] != 0:
        raise ValueError(f"the rank grid must start at 0, got {grid[:3]}")
    ranks, loss, score, first, fr = [], [], [], None, None
    for lo in range(0, len(grid), block):
        part = grid[lo:lo + block]
        res = an.performance_vs_rank(run.model, task, part if lo == 0 else [0, *part],
                                     trajectory=run.trajectory, member=member,
                                     batch_size=setup.test_batch, seed=10_000 + seed)
        first = first or res
        keep = slice(0, None) if lo == 0 else slice(1, None)
        ranks += list(map(int, res.ranks[keep]))
        loss += list(res.loss[keep])
        score += list(res.score[keep])
        fr = an.functional_rank(ranks, loss, threshold=setup.rel_loss_c)
        if fr is not None:
            break
    return ranks, np.array(loss), np.array(score), fr, first


def analyse_task(run, task, members, setup: Setup) -> list[dict]:
    """Per member: functional rank (every R in ``setup.ranks``), ‖ΔW‖_F, shuffle ratio,
    convergence time, spectra, truncation curve, effective ranks over training, and the
    authors' gate ``converged`` (a convergence time > 0 *and* a functional rank > 0).

    ``run`` holds an ensemble (``members`` its (g, seed) in order) or one network (a lone run,
    e.g. a sweep's; ``members`` its single (g, seed)).
    """
    steps, loss = _loss_per_update(run, len(members))
    c = setup.rel_loss_c
    ensemble = bool(run.trajectory.ensemble)
    out = []
    for e, (g, seed) in enumerate(members):
        traj = run.trajectory
        m = e if ensemble else None
        ranks, tl, ts, fr, trunc = rank_search(run, task, setup, m, seed)
        shuf = an.shuffle_test(run.model, task, trajectory=traj, member=m,
                               n_draws=setup.n_shuffles, batch_size=setup.test_batch,
                               seed=20_000 + seed)
        over = an.ranks_over_training(traj, member=m)
        svals = an.spectra_over_training(traj, member=m, snapshots=[len(traj) - 1])[0]
        ct = an.convergence_time(loss[:, e], steps, threshold=c)
        out.append({
            "task": task.name, "g": g, "seed": seed,
            "functional_rank": fr, "convergence_time": ct,
            "converged": bool(ct is not None and ct > 0 and fr is not None and fr > 0),
            "delta_norm": float(np.sqrt(np.sum(svals**2))),
            "w0_norm": float(np.linalg.norm(np.asarray(
                traj.weights[0][e] if ensemble else traj.weights[0], np.float64))),
            "shuffle_ratio": shuf.ratio("permuted_w0"), "shuffle": shuf.ratios(),
            "final_loss": float(loss[-1, e]), "initial_loss": float(loss[0, e]),
            "final_score": trunc.score_full,
            "score_name": task.score_name, "svals": svals[:30].tolist(),
            "rank_grid": list(setup.ranks), "ranks": ranks,
            "trunc_loss_ratio": (tl / tl[0]).tolist(), "trunc_score": ts.tolist(),
            "steps": np.asarray(traj.steps).tolist(),
            "participation": over["participation"].tolist(),
            "fraction90": over["fraction"].tolist(),
        })
    return out


def linear_part(setup: Setup) -> list[dict]:
    """The authors' linear experiment (``linear``) at the setup's sizes: one
    row per (ẑ, g, draw)."""
    from .linear import run_linear

    return run_linear(setup.linear_n, setup.linear_gains, setup.linear_z_hats,
                      setup.linear_lr0, epochs=setup.linear_epochs, draws=setup.linear_draws)


def lstm_part(setup: Setup, out: Path) -> dict:
    """The paper's LSTM experiment (``lstm``), at the reproduction's size."""
    from .lstm import paper_lstm, quick_lstm, run_lstm

    return run_lstm(quick_lstm() if setup.label == "quick" else paper_lstm(),
                    Path(out) / "runs" / "lstm")


def collect(setup: Setup, rows: list[dict], linear: list[dict], lstm: dict | None,
            timings: dict, seconds: float) -> dict:
    """results.json: the setup and how it differs from the paper's, every network, the gated
    summary, every claim with its verdict, the linear model, the LSTM, wall times."""
    from .claims import linear_claims, network_claims, summarise
    from .linear import summarise_linear

    summary = summarise(rows)
    lin_summary = summarise_linear(linear) if linear else []
    claims = network_claims(summary, budget=setup.steps) + linear_claims(lin_summary)
    if lstm is not None and "verdict" in lstm:
        claims.append(lstm["verdict"])
    return {"setup": {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in asdict(setup).items()},
            "differences_from_paper": differences(setup), "summary": summary,
            "claims": claims, "networks": rows, "linear": linear, "linear_summary": lin_summary,
            "lstm": lstm, "seconds_per_part": timings, "seconds": round(seconds, 1),
            "network_count": len(rows) + (lstm is not None)}


def run_networks(out: Path, setup: Setup, *, lstm: bool = True, linear: bool = True,
                 progress: bool = False) -> dict:
    """Train what is missing under ``out/runs/<task>`` (resumable), analyse every network, run
    the linear model and the LSTM; returns the results (``collect``), writes nothing else."""
    t0 = time.perf_counter()
    rows, timings = [], {}
    for name in setup.tasks:
        t1 = time.perf_counter()
        run, task, members = train_task(name, setup, out / "runs" / name, progress=progress)
        rows += analyse_task(run, task, members, setup)
        timings[name] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    lin = linear_part(setup) if linear else []
    timings["linear"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    lstm_result = lstm_part(setup, out) if lstm else None
    timings["lstm"] = round(time.perf_counter() - t1, 1)
    return collect(setup, rows, lin, lstm_result, timings, time.perf_counter() - t0)


def reproduce(out: str | Path = "runs/schuessler2020", *, quick_run: bool = False,
              setup: Setup | None = None, lstm: bool = True, linear: bool = True,
              progress: bool = False) -> dict:
    """Train what is missing under ``out/runs/<task>`` (resumable), analyse, and write the
    report (``out/index.md``, figures, ``results.json``). Returns the results.

    ``setup`` overrides ``paper()`` / ``quick()``; ``lstm`` / ``linear`` switch those parts off.
    The same as ``rr.experiments.reproduce("schuessler2020", ...)``, which also returns the
    verdicts as ``Claim``s.
    """
    from ..framework import reproduce as drive

    return drive("schuessler2020", out, quick=quick_run, setup=setup, progress=progress,
                 lstm=lstm, linear=linear).results
