"""Train every arm of the Liu et al. (2024) reproduction (task × rule × flossed), measure each
network before and after, and decide a verdict per claim.

Each arm is trained until its training loss has plateaued where the setup allows it: after its
budget (``Setup.steps_for``), the plateau test of the protocol (``claims.PLATEAU_*``) reads
the geometric-mean training-loss curve of every ini_gain; an arm failing it at some gain is
resumed to twice its updates, up to ``Setup.extend`` times. Every network's row records the
test of its (arm, gain) — the gate of every verdict — and its updates to criterion.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ...analysis.plateau import plateau_test, updates_to_fraction
from ...learning import train
from ...models import RateRNN
from ...models.connectivity import gain_of_ini_gain
from ...store.run_dir import RunDir
from . import claims as verdicts
from . import dynamics as dyn
from .setup import RULES, TASKS, Setup, make_task


def initial_model(task, setup: Setup) -> tuple[RateRNN, list[tuple[float, int]]]:
    """The ensemble of every (ini_gain, seed) in the lab's conventions; members [(ini_gain,
    seed)] in member order."""
    members = [(x, s) for x in setup.ini_gains for s in setup.seeds]
    trainable = ("W", "U", "V", "b") + (("x0",) if setup.learn_x0 else ())
    model = RateRNN(task.n_in, setup.n_rec, task.n_out,
                    gain=[gain_of_ini_gain(x) for x, _ in members],
                    seed=[s for _, s in members], dt=setup.dt, tau=1.0,
                    nonlinearity=setup.nonlinearity, io_scale=setup.io_scale,
                    trainable=trainable)
    return model, members


def held_out_loss(model: RateRNN, task, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """(the task's loss [E] — masked MSE, or cross-entropy for Mante's objective="ce" —, task
    score [E]) on a fixed held-out batch."""
    batch = task.sample(setup.test_batch, generator=torch.Generator().manual_seed(10_007))
    outputs, _ = model.run(batch.inputs, grad=False)
    loss = task.loss(outputs, batch)
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


def loss_curves(path: Path, E: int) -> tuple[np.ndarray, np.ndarray]:
    """(updates [K], training loss [E, K]) from a run's metrics.csv (one row per update and
    member; the last row of a step wins)."""
    rows = RunDir(path).read_metrics()
    steps = sorted({r[0] for r in rows})
    index = {k: i for i, k in enumerate(steps)}
    loss = np.full((E, len(steps)), np.nan)
    for step, member, value, *_ in rows:
        loss[member, index[step]] = value
    return np.array(steps, dtype=float), loss


def plateau_by_gain(updates, loss, members) -> dict[float, dict]:
    """The protocol's plateau test of each ini_gain's seeds (geometric-mean curve); a curve
    with a non-finite or non-positive loss counts as not plateaued."""
    out = {}
    for x in sorted({g for g, _ in members}):
        rows = loss[[e for e, (g, _) in enumerate(members) if g == x]]
        try:
            test = plateau_test(updates, rows, window=verdicts.PLATEAU_WINDOW,
                                tol=verdicts.PLATEAU_TOL, z=verdicts.Z,
                                edge=verdicts.PLATEAU_EDGE).to_dict()
        except ValueError as exc:
            test = {"plateaued": False, "reason": str(exc)}
        out[x] = test
    return out


def to_criterion(updates, loss) -> np.ndarray:
    """[E] updates to ``claims.CRITERION`` of each member's final ln-loss improvement."""
    width = max(1, int(round(verdicts.CRITERION_SMOOTH * len(updates))))
    width += 1 - width % 2  # odd: a centred average
    out = np.full(loss.shape[0], np.nan)
    for e, curve in enumerate(loss):
        if np.all(np.isfinite(curve)) and np.all(curve > 0):
            out[e] = updates_to_fraction(updates, curve, verdicts.CRITERION, scale="log",
                                         smooth=width)
    return out


def mean_curve(updates, loss, members, points: int = 200) -> list[dict]:
    """Per ini_gain, the mean ± s.e. over seeds of log10 training loss, averaged in at most
    ``points`` bins of updates (for the report's figure)."""
    bins = np.array_split(np.arange(len(updates)), min(points, len(updates)))
    out = []
    for x in sorted({g for g, _ in members}):
        logs = np.log10(loss[[e for e, (g, _) in enumerate(members) if g == x]])
        binned = np.stack([logs[:, b].mean(1) for b in bins], 1)  # [S, bins]
        n = binned.shape[0]
        out.append({"ini_gain": x, "updates": [float(updates[b].mean()) for b in bins],
                    "log10_loss": binned.mean(0).tolist(),
                    "se": (binned.std(0, ddof=1) / np.sqrt(n)).tolist() if n > 1
                    else [float("nan")] * len(bins)})
    return out


def run_arm(task_name: str, rule_key: str, floss: bool, setup: Setup, out: Path, *,
            progress: bool = False, details: dict | None = None) -> list[dict]:
    """Train one ensemble (ini_gains × seeds) with one rule, with or without pre-flossing,
    until it plateaus (up to ``setup.extend`` doublings of its budget). ``details``, when
    given, receives the arm's plateau tests and mean loss curves."""
    task = make_task(task_name, setup)
    model, members = initial_model(task, setup)
    inputs = lyap_inputs(task)
    lyap = dict(steps=setup.lyap_steps, warmup=setup.lyap_warmup)
    silent = torch.zeros(1, 4, task.n_in)  # the autonomous network, 4 random starts
    lam_init = dyn.lambda_max(model, inputs, **lyap).numpy()
    auto_init = dyn.lambda_max(model, silent, **lyap).numpy()
    lam_floss = np.full(len(members), np.nan)
    if floss:  # the task-driven network is flossed: the one lam_init / lam_floss measure
        dyn.preflossing(model, task, updates=setup.floss_updates, k=setup.floss_k,
                        lr=setup.floss_lr, batch=setup.floss_batch, seed=1)
        lam_floss = dyn.lambda_max(model, inputs, **lyap).numpy()
    rule, options = RULES[rule_key]
    path = out / "runs" / task_name / (rule_key + ("_floss" if floss else ""))
    steps, first = setup.steps_for(rule_key), 0
    saved = RunDir(path).read_config().get("train", {}).get("steps") \
        if RunDir(path).is_run() else None
    while saved is not None and steps < saved and first < setup.extend:
        steps, first = steps * 2, first + 1  # a rerun: the arm was extended before
    for attempt in range(first, setup.extend + 1):
        run = train(model, task, rule=rule, rule_options=options, steps=steps, lr=setup.lr,
                    batch_size=setup.batch_size, record_every=setup.record_every, seed=0,
                    track_alignment=rule_key != "bptt", out=path, progress=progress)
        updates, curves = loss_curves(path, len(members))
        tests = plateau_by_gain(updates, curves, members)
        if all(t["plateaued"] for t in tests.values()) or attempt == setup.extend:
            break
        steps *= 2  # resume the arm (all of its members) to twice its updates
    crit = to_criterion(updates, curves)
    if details is not None:
        details["plateau"] = [{"task": task_name, "rule": rule_key, "floss": floss,
                               "ini_gain": x, "steps": steps, **t} for x, t in tests.items()]
        details["curves"] = [{"task": task_name, "rule": rule_key, "floss": floss, **c}
                             for c in mean_curve(updates, curves, members)]
    # training time over every session of this arm (a resumed run keeps counting from its
    # checkpoint), so a rerun's report does not show only the part it redid
    train_seconds = float(RunDir(path).read_status().get("seconds") or 0.0)
    loss, score = held_out_loss(model, task, setup)
    lam_final = dyn.lambda_max(model, inputs, **lyap).numpy()
    auto_final = dyn.lambda_max(model, silent, **lyap).numpy()
    cos = mean_alignment(path, len(members)) if rule_key != "bptt" else np.ones(len(members))
    return [{"task": task_name, "rule": rule_key, "floss": floss, "ini_gain": x,
             "g": gain_of_ini_gain(x), "seed": s,
             "final_loss": float(loss[e]), "log10_loss": float(np.log10(loss[e])),
             "score": float(score[e]),
             "score_name": task.score_name, "lambda_init": float(lam_init[e]),
             "lambda_floss": float(lam_floss[e]), "lambda_final": float(lam_final[e]),
             "lambda_auto_init": float(auto_init[e]), "lambda_auto_final": float(auto_final[e]),
             "alignment": float(cos[e]), "status": run.status,
             "arm_training_seconds": train_seconds, "steps": steps,
             "plateau": bool(tests[x]["plateaued"]),
             "updates_to_criterion": float(crit[e]),
             "log10_updates_to_criterion": float(np.log10(crit[e])) if crit[e] > 0
             else float("nan")}
            for e, (x, s) in enumerate(members)]


METRICS = ("final_loss", "log10_loss", "score", "lambda_init", "lambda_floss", "lambda_final",
           "lambda_auto_init", "lambda_auto_final", "alignment", "updates_to_criterion",
           "log10_updates_to_criterion")


def summary(rows: list[dict]) -> list[dict]:
    """Mean and standard error over seeds per (task, rule, floss, ini_gain)."""
    keys = sorted({(r["task"], r["rule"], r["floss"], r["ini_gain"]) for r in rows},
                  key=lambda k: (TASKS.index(k[0]) if k[0] in TASKS else 99,
                                 list(RULES).index(k[1]), k[2], k[3]))
    out = []
    for task, rule, floss, x in keys:
        group = [r for r in rows if (r["task"], r["rule"], r["floss"], r["ini_gain"])
                 == (task, rule, floss, x)]
        stats = {}
        for m in METRICS:
            mean, se, _ = verdicts.mean_se([r[m] for r in group])
            stats[m], stats[m + "_se"] = mean, se
        out.append({"task": task, "rule": rule, "floss": floss, "ini_gain": x,
                    "g": gain_of_ini_gain(x), "n": len(group),
                    "plateau": all(r.get("plateau") is True for r in group),
                    "steps": max((r.get("steps") or 0) for r in group), **stats})
    return out


def arms(setup: Setup) -> list[tuple[str, str, bool]]:
    """Every (task, rule, flossed) arm of a setup, in run order."""
    return [(t, r, f) for t in setup.tasks for r in setup.rules
            for f in ((False, True) if r in setup.floss_rules else (False,))]


def run_arms(out: Path, setup: Setup, *, progress: bool = False) -> dict:
    """Train every arm under ``out/runs`` (each run resumable), measure, decide a verdict per
    claim; returns the results."""
    from . import protocol

    t0 = time.perf_counter()
    at_start = protocol.commit()  # the protocol as it stood when the run began
    rows, timings, plateau, curves = [], {}, [], []
    for task_name, rule_key, floss in arms(setup):
        t1 = time.perf_counter()
        details: dict = {}
        rows += run_arm(task_name, rule_key, floss, setup, out, progress=progress,
                        details=details)
        plateau += details["plateau"]
        curves += details["curves"]
        timings[f"{task_name}/{rule_key}{'_floss' if floss else ''}"] = round(
            time.perf_counter() - t1, 1)
    setup_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(setup).items()}
    setup_dict["gains"] = list(setup.gains)
    return {"setup": setup_dict, "protocol": at_start, "lyapunov_source": dyn.source(),
            "networks": rows, "summary": summary(rows), "plateau": plateau,
            "loss_curves": curves, "verdicts": verdicts.decide(rows),
            "verdict_rules": dict(verdicts.VERDICT_RULES),
            "seconds_per_arm": timings, "seconds": round(time.perf_counter() - t0, 1),
            "training_seconds_all_sessions": round(sum(
                {(r["task"], r["rule"], r["floss"]): r["arm_training_seconds"]
                 for r in rows}.values()), 1),
            "networks_per_arm": len(setup.ini_gains) * len(setup.seeds),
            "network_count": len(rows)}


def reproduce(out: str | Path = "runs/liu2024", *, quick_run: bool = False,
              progress: bool = False, setup: Setup | None = None) -> dict:
    """Train every arm under ``out/runs`` (each run resumable), measure, decide a verdict per
    claim, and write the report (``out/index.md``, figures, ``results.json``); the same as
    ``rr.experiments.reproduce("liu2024", ...)``, which also returns the verdicts as
    ``Claim``s."""
    from ..framework import reproduce as drive

    return drive("liu2024", out, quick=quick_run, setup=setup, progress=progress).results
