"""Schuessler, Mastrogiuseppe, Dubreuil, Ostojic, Barak (NeurIPS 2020): *The interplay between
randomness and structure during learning in RNNs* — the rate-network part, and the linear theory.

Setup (REFERENCES.md §1): h ← (1−dt)h + dt(W tanh h + U u), τ = 1, dt = 0.5, N = 256, W0 = g J/√N,
‖m‖ = √N, ‖w‖ = 1/√N (``io_scale="field"``), Adam lr = 0.05/N, batch 32; flip-flop (2 bits,
``memory="last"``), Mante and Romo with the paper's timings; 1000 / 2000 / 6000 updates;
g ∈ arange(0, g_max + 0.3, 0.3), g_max = 2.1 / 2.7 / 3.0; 5 seeds; as in the authors' code
Mante with fixation, b not trained, the functional rank searched over every R = 0 … 25, and
only converged networks averaged (``schuessler2020_claims``). ``Setup`` names every value once.
Each task trains as *one* ``RateRNN`` ensemble (every g × seed a member, each with its own
batches); analyses run per member. ``--full`` runs the same networks as ``rr.sweep`` runs
(``schuessler2020_full``); the linear model is ``schuessler2020_linear``.

The LSTM part (§5) is in ``schuessler2020_lstm``, run by ``lstm_part``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .. import analysis as an
from ..learning import train
from ..models import RateRNN
from ..store.run_dir import RunDir
from ..tasks import make

TASKS = ("flipflop", "mante", "romo")


@dataclass(frozen=True)
class Setup:
    """Every value of a reproduction, named once (``paper()`` or ``quick()``).

    Sources: the paper (arXiv 2006.11036, §3 and appendix) and the authors' notebooks
    ``generate_nonlinear.ipynb`` / ``generate_linear.ipynb`` / ``figures_nonlinear.ipynb``
    (frschu/neurips_2020_interplay_randomness_structure), as listed in shared/REFERENCES.md §1.
    Rows a–g refer to the table of issue 22.
    """

    n_rec: int = 256  # (f) dim_rec = 256
    dt: float = 0.5  # (f) dt = 0.5, τ = 1
    lr_times_n: float = 0.05  # (f) Adam, lr = 0.05 / N
    batch_size: int = 32  # (f) batch_size = 32
    test_batch: int = 512  # (f) batch_size_test = 512
    steps: dict = field(default_factory=lambda: {  # (c) n_epochs (one update per epoch)
        "flipflop": 1000, "mante": 2000, "romo": 6000})
    g_max: dict = field(default_factory=lambda: {  # (f) gs = arange(0, g_max + 0.3, 0.3)
        "flipflop": 2.1, "mante": 2.7, "romo": 3.0})
    g_step: float = 0.3  # (f) step of the g grid
    g_grid: tuple | None = None  # overrides the arange grid (quick mode only)
    seeds: tuple = (0, 1, 2, 3, 4)  # (f) n_samples = 5
    task_options: dict = field(default_factory=lambda: {
        "flipflop": {"n_bits": 2, "memory": "last"},  # 2 channels, output holds the last pulse
        "mante": {"fixate": True},  # (a) Mante generated with fixate=True
        "romo": {"fixate": True}})  # Romo: target 0 (mask 1) before f2 ends
    trainable: tuple = ("W", "U", "V")  # (b) W_in, W, W_out trained; train_brec=False
    ranks: tuple = tuple(range(26))  # (e) n_ranks = 26: every R = 0 … 25
    rel_loss_c: float = 0.05  # (d) fig_specs.rel_loss_c: convergence and functional rank
    independent_batches: bool = True  # every network its own trials, as separate runs
    record_every: int = 50  # snapshots of W (recording only; not a paper value)
    n_shuffles: int = 1  # the authors shuffle W0 once per network
    # (g) the linear model (generate_linear.ipynb, scenario 'fig_3_4')
    linear_n: int = 1024  # dim_rec = 1024
    linear_gains: tuple = tuple(round(0.1 * i, 1) for i in range(10))  # arange(0, 1, 0.1)
    linear_z_hats: tuple = (0.5, 1.0, 2.0)  # target_amps
    linear_lr0: tuple = (0.015, 0.009, 0.003)  # lr0s per ẑ; SGD lr = lr0·(1 − g²)²
    linear_epochs: int = 200  # n_epochs, batch_size = 1 (one update per epoch)
    linear_draws: int = 5  # n_samples
    tasks: tuple = TASKS
    label: str = "paper"

    def gains(self, task: str) -> list[float]:
        """The g grid of ``task``: arange(0, g_max + step, step), or ``g_grid``."""
        if self.g_grid is not None:
            return [float(g) for g in self.g_grid]
        n = int(round(self.g_max[task] / self.g_step)) + 1
        return [round(i * self.g_step, 10) for i in range(n)]

    @property
    def lr(self) -> float:
        return self.lr_times_n / self.n_rec


def paper() -> Setup:
    """The authors' setup (rows a–g of issue 22). Hours on 2 CPU cores."""
    return Setup()


def quick() -> Setup:
    """A smaller run that keeps the method: Mante with fixation, b untrained, the convergence
    gate, every rank 0 … 25, 2 seeds. What it changes is listed by ``differences``."""
    return replace(Setup(), n_rec=128, steps={"flipflop": 600, "mante": 800, "romo": 1200},
                   g_grid=(0.0, 0.9, 1.5), seeds=(0, 1), test_batch=256, record_every=50,
                   linear_n=256, linear_gains=(0.0, 0.3, 0.6, 0.9), linear_z_hats=(0.5, 2.0),
                   linear_lr0=(0.015, 0.003), linear_draws=2, label="quick")


def differences(setup: Setup) -> list[str]:
    """Every field in which ``setup`` differs from ``paper()``, as "name: ours (paper: …)"."""
    ref = paper()
    out = []
    for f in fields(Setup):
        if f.name == "label":
            continue
        mine, theirs = getattr(setup, f.name), getattr(ref, f.name)
        if mine != theirs:
            if f.name == "g_grid":
                theirs = {t: ref.gains(t) for t in setup.tasks}
            out.append(f"{f.name}: {mine} (paper: {theirs})")
    return out


def make_task(name: str, setup: Setup):
    return make(name, dt=setup.dt, **setup.task_options[name])


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
    """The authors' linear experiment (``schuessler2020_linear``) at the setup's sizes: one
    row per (ẑ, g, draw)."""
    from .schuessler2020_linear import run_linear

    return run_linear(setup.linear_n, setup.linear_gains, setup.linear_z_hats,
                      setup.linear_lr0, epochs=setup.linear_epochs, draws=setup.linear_draws)


def lstm_part(setup: Setup, out: Path) -> dict:
    """The paper's LSTM experiment (``schuessler2020_lstm``), at the reproduction's size."""
    from .schuessler2020_lstm import paper_lstm, quick_lstm, run_lstm

    return run_lstm(quick_lstm() if setup.label == "quick" else paper_lstm(),
                    Path(out) / "runs" / "lstm")


def collect(setup: Setup, rows: list[dict], linear: list[dict], lstm: dict | None,
            timings: dict, seconds: float) -> dict:
    """results.json: the setup and how it differs from the paper's, every network, the gated
    summary, every claim with its verdict, the linear model, the LSTM, wall times."""
    from .schuessler2020_claims import linear_claims, network_claims, summarise
    from .schuessler2020_linear import summarise_linear

    summary = summarise(rows)
    lin_summary = summarise_linear(linear) if linear else []
    claims = network_claims(summary, budget=setup.steps) + linear_claims(lin_summary)
    if lstm is not None and "verdict" in lstm:
        claims.append(lstm["verdict"])
    return {"setup": {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in asdict(setup).items()},
            "differences_from_paper": differences(setup), "summary": summary,
            "claims": claims, "networks": rows, "linear": linear, "linear_summary": lin_summary,
            "lstm": lstm, "seconds_per_part": timings, "seconds": round(seconds, 1)}


def reproduce(out: str | Path = "runs/schuessler2020", *, quick_run: bool = False,
              setup: Setup | None = None, lstm: bool = True, linear: bool = True,
              progress: bool = False) -> dict:
    """Train what is missing under ``out/runs/<task>`` (resumable), analyse, and write the
    report (``out/index.md``, figures, ``results.json``). Returns the results.

    ``setup`` overrides ``paper()`` / ``quick()``; ``lstm`` / ``linear`` switch those parts off.
    """
    from .schuessler2020_report import write_report

    setup = setup or (quick() if quick_run else paper())
    out = Path(out)
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
    results = collect(setup, rows, lin, lstm_result, timings, time.perf_counter() - t0)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    write_report(results, out)
    return results
