"""Schuessler, Mastrogiuseppe, Dubreuil, Ostojic, Barak (NeurIPS 2020): *The interplay between
randomness and structure during learning in RNNs* — the rate-network part, and the linear theory.

Setup (REFERENCES.md §1): h ← (1−dt)h + dt(W tanh h + U u), τ = 1, dt = 0.5, N = 256, W0 = g J/√N,
‖m‖ = √N, ‖w‖ = 1/√N (``io_scale="field"``), Adam lr = 0.05/N, batch 32; flip-flop (2 bits,
``memory="last"``), Mante and Romo with the paper's timings; 1000 / 2000 / 6000 updates;
g ∈ arange(0, g_max + 0.3, 0.3), g_max = 2.1 / 2.7 / 3.0; 5 seeds. Each task trains as *one*
``RateRNN`` ensemble (every g × seed a member, members share batches); analyses run per member.

The LSTM part (§5) is in ``schuessler2020_lstm``, run by ``lstm_part``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import analysis as an
from ..learning import train
from ..models import RateRNN
from ..store.run_dir import RunDir
from ..tasks import make

TASKS = ("flipflop", "mante", "romo")
TASK_OPTIONS = {"flipflop": {"n_bits": 2, "memory": "last"}, "mante": {}, "romo": {}}


@dataclass(frozen=True)
class Setup:
    """Sizes of a reproduction (``paper()`` or ``quick()``)."""

    n_rec: int = 256
    dt: float = 0.5
    lr_times_n: float = 0.05
    batch_size: int = 32
    steps: dict = field(default_factory=lambda: {"flipflop": 1000, "mante": 2000, "romo": 6000})
    g_max: dict = field(default_factory=lambda: {"flipflop": 2.1, "mante": 2.7, "romo": 3.0})
    g_grid: tuple | None = None  # overrides arange(0, g_max + 0.3, 0.3)
    seeds: tuple = (0, 1, 2, 3, 4)
    record_every: int = 10
    ranks: tuple = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30)
    test_batch: int = 512
    n_shuffles: int = 3
    linear_n: int = 1024
    linear_gains: tuple = (0.0, 0.3, 0.6, 0.9)
    linear_z_hat: float = 0.5
    tasks: tuple = TASKS
    label: str = "paper"

    def gains(self, task: str) -> list[float]:
        if self.g_grid is not None:
            return [float(g) for g in self.g_grid]
        return [round(float(g), 10) for g in np.arange(0, self.g_max[task] + 0.3 - 1e-9, 0.3)]


def paper() -> Setup:
    """The paper's sizes (hours on 2 CPU cores)."""
    return Setup()


def quick() -> Setup:
    """A < 10 min version on 2 cores: N = 128, g ∈ {0, 0.9, 1.5}, one seed, fewer updates,
    a 256-trial test batch, N = 256 for the linear model."""
    return replace(Setup(), n_rec=128, steps={"flipflop": 400, "mante": 400, "romo": 600},
                   g_grid=(0.0, 0.9, 1.5), seeds=(0,), record_every=20, test_batch=256,
                   n_shuffles=2, ranks=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20), linear_n=256,
                   label="quick")


def make_task(name: str, setup: Setup):
    return make(name, dt=setup.dt, **TASK_OPTIONS[name])


def train_task(name: str, setup: Setup, out: str | Path | None = None, *, progress=False):
    """Train one ensemble (gains × seeds) on ``name``; resumes a run found in ``out``."""
    task = make_task(name, setup)
    gains = setup.gains(name)
    members = [(g, s) for g in gains for s in setup.seeds]
    model = RateRNN(task.n_in, setup.n_rec, task.n_out, gain=[g for g, _ in members],
                    seed=[s for _, s in members], dt=setup.dt, tau=1.0, io_scale="field")
    run = train(model, task, rule="bptt", steps=setup.steps[name],
                lr=setup.lr_times_n / setup.n_rec, optimizer="adam",
                batch_size=setup.batch_size, record_every=setup.record_every, out=out, seed=0,
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


def analyse_task(run, task, members, setup: Setup) -> list[dict]:
    """Per member: functional rank, ‖ΔW‖_F, shuffle ratios, convergence time, spectra,
    truncation curve and effective ranks over training."""
    steps, loss = _loss_per_update(run, len(members))
    ranks = [r for r in setup.ranks if r < setup.n_rec] + [setup.n_rec]
    out = []
    for e, (g, seed) in enumerate(members):
        traj = run.trajectory
        trunc = an.performance_vs_rank(run.model, task, ranks, trajectory=traj, member=e,
                                       batch_size=setup.test_batch, seed=10_000 + seed)
        shuf = an.shuffle_test(run.model, task, trajectory=traj, member=e,
                               n_draws=setup.n_shuffles, batch_size=setup.test_batch,
                               seed=20_000 + seed)
        over = an.ranks_over_training(traj, member=e)
        svals = an.spectra_over_training(traj, member=e, snapshots=[len(traj) - 1])[0]
        out.append({
            "task": task.name, "g": g, "seed": seed,
            "functional_rank": trunc.functional_rank(),
            "delta_norm": float(np.sqrt(np.sum(svals**2))),
            "w0_norm": float(np.linalg.norm(np.asarray(traj.weights[0][e], np.float64))),
            "shuffle_ratio": shuf.ratio("permuted_w0"), "shuffle": shuf.ratios(),
            "convergence_time": an.convergence_time(loss[:, e], steps),
            "final_loss": float(loss[-1, e]), "final_score": trunc.score_full,
            "score_name": task.score_name, "svals": svals[:30].tolist(),
            "ranks": list(map(int, trunc.ranks)), "trunc_loss_ratio":
                (trunc.loss / trunc.loss_initial).tolist(),
            "trunc_score": trunc.score.tolist(), "steps": np.asarray(traj.steps).tolist(),
            "participation": over["participation"].tolist(),
            "fraction90": over["fraction"].tolist(),
        })
    return out


def linear_part(setup: Setup) -> list[dict]:
    """The linear model (only W trained by gradient descent) at each g: measured vs predicted
    learning-time ratio t(g)/t(0), ‖ΔW‖ at convergence and L_shuff/L0."""
    lt = an.linear_theory
    rows, t_ref = [], None
    for g in setup.linear_gains:
        p = lt.LinearProblem.draw(setup.linear_n, g, setup.linear_z_hat, seed=0)
        run = lt.simulate(p, lr=0.02, steps=int(6 / 0.02 / lt.beta(g) ** 2) + 1,
                          record_svals=False, refresh_every=100)
        t = run.convergence_step()
        t_ref = t if t_ref is None else t_ref
        shuf = np.mean([lt.shuffled_loss(p, run.delta, seed=s) for s in range(5)]) / run.loss[0]
        rows.append({"g": g, "convergence_step": t, "time_ratio": t / t_ref,
                     "time_ratio_theory": float(lt.convergence_time_ratio(g, 0.0)),
                     "delta_norm": float(np.linalg.norm(run.delta)),
                     "delta_norm_theory": float(lt.delta_norm_at_convergence(g, p.z_hat)),
                     "shuffle_ratio": float(shuf),
                     "shuffle_ratio_theory": float(lt.shuffle_ratio(g))})
    return rows


def lstm_part(setup: Setup, out: Path) -> dict:
    """The paper's LSTM experiment (``schuessler2020_lstm``), at the reproduction's size."""
    from .schuessler2020_lstm import paper_lstm, quick_lstm, run_lstm

    return run_lstm(quick_lstm() if setup.label == "quick" else paper_lstm(),
                    Path(out) / "runs" / "lstm")


def reproduce(out: str | Path = "runs/schuessler2020", *, quick_run: bool = False,
              progress: bool = False) -> dict:
    """Train what is missing under ``out/runs/<task>`` (resumable), analyse, and write the
    report (``out/index.md``, figures, ``results.json``). Returns the results."""
    from .schuessler2020_report import write_report

    setup = quick() if quick_run else paper()
    out = Path(out)
    t0 = time.perf_counter()
    rows, timings = [], {}
    for name in setup.tasks:
        t1 = time.perf_counter()
        run, task, members = train_task(name, setup, out / "runs" / name, progress=progress)
        rows += analyse_task(run, task, members, setup)
        timings[name] = round(time.perf_counter() - t1, 1)
    linear = linear_part(setup)
    lstm = lstm_part(setup, out)
    results = {"setup": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in asdict(setup).items()},
               "networks": rows, "linear": linear, "lstm": lstm, "seconds_per_task": timings,
               "seconds": round(time.perf_counter() - t0, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    write_report(results, out)
    return results
