"""Liu, Zhang & Liu (2024, arXiv 2410.11164): *How initial connectivity shapes biologically
plausible learning in recurrent neural networks*.

The paper has no public code; this follows the lab's conventions (REFERENCES §3,
Helena-Yuhan-Liu/LearningRuleSimilarities): CTRNN x ← (1−α)x + α(W tanh x + U u + b) with
α = dt/τ = 0.1, W0 = g·N(0, 1)/√N, N = 200, Adam 3e-4. Tasks: Mante (context-dependent
integration), centre-out reach, delayed XOR (Engelken's flossing task). Rules: BPTT, truncated
BPTT (window 10), e-prop (symmetric feedback), RFLO (random feedback). For every task × rule,
the sweep g × seeds trains as *one* ``RateRNN`` ensemble (members share batches); a second arm
pre-flosses the same initial networks first (gradient flossing as a developmental phase, see
``liu2024_dynamics``). Measured per member: final held-out loss; λ_max driven by the task's
trials before training, after pre-flossing and after training, and of the autonomous network
(zero input) before and after training; the cosine of the rule's estimate with the exact gradient
over training (``track_alignment``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..learning import masked_mse, train
from ..models import RateRNN
from ..store.run_dir import RunDir
from ..tasks import make
from . import liu2024_dynamics as dyn

TASKS = ("mante", "reach", "delayed_xor")
RULES = {"bptt": ("bptt", {}), "tbptt": ("bptt", {"truncation": 10}),
         "eprop": ("eprop", {"feedback": "symmetric"}), "rflo": ("rflo", {})}


@dataclass(frozen=True)
class Setup:
    """Sizes of the reproduction (``paper()`` or ``quick()``)."""

    n_rec: int = 200
    dt: float = 0.1
    lr: float = 3e-4
    batch_size: int = 32
    steps: int = 2000
    gains: tuple = (0.25, 0.5, 1.0, 1.5, 2.0)
    seeds: tuple = (0, 1, 2)
    tasks: tuple = TASKS
    task_options: dict = field(default_factory=lambda: {"mante": {}, "reach": {},
                                                        "delayed_xor": {}})
    rules: tuple = tuple(RULES)
    floss_updates: int = 500
    floss_k: int = 20
    floss_lr: float = 1e-3
    lyap_steps: int = 2000
    lyap_warmup: int = 500
    record_every: int = 50
    test_batch: int = 128
    label: str = "paper"


def paper() -> Setup:
    """The lab's sizes (hours on 2 CPU cores)."""
    return Setup()


def quick() -> Setup:
    """< 10 min on 2 cores: N = 64, 4 gains × 1 seed, 100 updates at Adam 1e-3 (not the
    lab's 3e-4: too slow to show anything in 100 updates), shorter Mante trials, 12 XOR bits,
    50 pre-flossing updates (k = 8)."""
    return replace(Setup(), n_rec=64, lr=1e-3, batch_size=16, steps=100,
                   gains=(0.5, 1.0, 1.5, 2.0), seeds=(0,),
                   task_options={"mante": {"stimulus": 8.0, "delay": 2.0, "decision": 6.0},
                                 "reach": {}, "delayed_xor": {"n_bits": 12}},
                   floss_updates=50, floss_k=8, lyap_steps=300, lyap_warmup=100,
                   record_every=20, test_batch=64, label="quick")


def make_task(name: str, setup: Setup):
    return make(name, dt=setup.dt, **setup.task_options.get(name, {}))


def initial_model(task, setup: Setup) -> tuple[RateRNN, list[tuple[float, int]]]:
    members = [(g, s) for g in setup.gains for s in setup.seeds]
    model = RateRNN(task.n_in, setup.n_rec, task.n_out, gain=[g for g, _ in members],
                    seed=[s for _, s in members], dt=setup.dt, tau=1.0)
    return model, members


def held_out_loss(model: RateRNN, task, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """(masked MSE [E], task score [E]) on a fixed held-out batch."""
    batch = task.sample(setup.test_batch, generator=torch.Generator().manual_seed(10_007))
    outputs, _ = model.run(batch.inputs, grad=False)
    loss = masked_mse(task.effector(outputs), batch.targets, batch.mask)
    return loss.double().numpy(), task.score(outputs, batch).double().numpy().reshape(-1)


def lyap_inputs(task):
    return task.sample(8, generator=torch.Generator().manual_seed(20_011)).inputs


def mean_alignment(path: Path, E: int) -> np.ndarray:
    """Mean over recorded steps of ``cos_all`` per member (NaN where never recorded)."""
    run = RunDir(path)
    fields = run.metric_fields()
    if "cos_all" not in fields:
        return np.full(E, np.nan)
    rows = np.array(run.read_metrics(), dtype=float)
    col = rows[:, fields.index("cos_all")]
    return np.array([np.nanmean(col[(rows[:, 1] == e) & np.isfinite(col)])
                     if np.isfinite(col[rows[:, 1] == e]).any() else np.nan for e in range(E)])


def run_arm(task_name: str, rule_key: str, floss: bool, setup: Setup, out: Path, *,
            progress: bool = False) -> list[dict]:
    """Train one ensemble (gains × seeds) with one rule, with or without pre-flossing."""
    task = make_task(task_name, setup)
    model, members = initial_model(task, setup)
    inputs = lyap_inputs(task)
    lyap = dict(steps=setup.lyap_steps, warmup=setup.lyap_warmup)
    silent = torch.zeros(1, 4, task.n_in)  # the autonomous network, 4 random starts
    lam_init = dyn.lambda_max(model, inputs, **lyap).numpy()
    auto_init = dyn.lambda_max(model, silent, **lyap).numpy()
    lam_floss = np.full(len(members), np.nan)
    if floss:
        dyn.preflossing(model, updates=setup.floss_updates, k=setup.floss_k,
                        lr=setup.floss_lr, seed=1)
        lam_floss = dyn.lambda_max(model, inputs, **lyap).numpy()
    rule, options = RULES[rule_key]
    path = out / "runs" / task_name / (rule_key + ("_floss" if floss else ""))
    run = train(model, task, rule=rule, rule_options=options, steps=setup.steps, lr=setup.lr,
                batch_size=setup.batch_size, record_every=setup.record_every, seed=0,
                track_alignment=rule_key != "bptt", out=path, progress=progress)
    loss, score = held_out_loss(model, task, setup)
    lam_final = dyn.lambda_max(model, inputs, **lyap).numpy()
    auto_final = dyn.lambda_max(model, silent, **lyap).numpy()
    cos = mean_alignment(path, len(members)) if rule_key != "bptt" else np.ones(len(members))
    return [{"task": task_name, "rule": rule_key, "floss": floss, "g": g, "seed": s,
             "final_loss": float(loss[e]), "score": float(score[e]),
             "score_name": task.score_name, "lambda_init": float(lam_init[e]),
             "lambda_floss": float(lam_floss[e]), "lambda_final": float(lam_final[e]),
             "lambda_auto_init": float(auto_init[e]), "lambda_auto_final": float(auto_final[e]),
             "alignment": float(cos[e]), "status": run.status}
            for e, (g, s) in enumerate(members)]


def summary(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (task, rule, floss, g)."""
    keys = sorted({(r["task"], r["rule"], r["floss"], r["g"]) for r in rows},
                  key=lambda k: (TASKS.index(k[0]) if k[0] in TASKS else 99,
                                 list(RULES).index(k[1]), k[2], k[3]))
    out = []
    for task, rule, floss, g in keys:
        group = [r for r in rows if (r["task"], r["rule"], r["floss"], r["g"]) == (task, rule,
                                                                                   floss, g)]
        mean = {m: float(np.nanmean([r[m] for r in group])) if any(
            np.isfinite(r[m]) for r in group) else float("nan")
            for m in ("final_loss", "score", "lambda_init", "lambda_floss", "lambda_final",
                      "lambda_auto_init", "lambda_auto_final", "alignment")}
        out.append({"task": task, "rule": rule, "floss": floss, "g": g, "n": len(group),
                     **mean})
    return out


def reproduce(out: str | Path = "runs/liu2024", *, quick_run: bool = False,
              progress: bool = False) -> dict:
    """Train every task × rule × {no flossing, pre-flossing} arm under ``out/runs`` (each run
    resumable), measure, and write the report (``out/index.md``, figures, ``results.json``)."""
    from .liu2024_report import write_report

    setup = quick() if quick_run else paper()
    out = Path(out)
    t0 = time.perf_counter()
    rows, timings = [], {}
    for task_name in setup.tasks:
        for rule_key in setup.rules:
            for floss in (False, True):
                t1 = time.perf_counter()
                rows += run_arm(task_name, rule_key, floss, setup, out, progress=progress)
                name = f"{task_name}/{rule_key}{'_floss' if floss else ''}"
                timings[name] = round(time.perf_counter() - t1, 1)
    results = {"setup": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in asdict(setup).items()},
               "lyapunov_source": dyn.source(), "networks": rows, "summary": summary(rows),
               "seconds_per_arm": timings, "seconds": round(time.perf_counter() - t0, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    write_report(results, out)
    return results
