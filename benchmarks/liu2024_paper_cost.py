"""Cost of the Liu et al. (2024) reproduction at paper size, measured and extrapolated.

For every task × rule of ``liu2024.paper()`` (one arm = the ini_gains × seeds ensemble trained as
one ``RateRNN``, batch 32): seconds per update (2 updates timed after one warm-up run), seconds
per pre-flossing update and per λ_max estimate; then the extrapolated wall time of the whole
paper setup (every arm, flossed and not, ``steps`` updates) on one thread. Prints JSON.

    OMP_NUM_THREADS=1 python benchmarks/liu2024_paper_cost.py
"""

from __future__ import annotations

import json
import time

import torch

import rnnrank as rr
from rnnrank.experiments import liu2024 as liu
from rnnrank.experiments.liu2024 import dynamics as dyn


def measure(setup: liu.Setup) -> dict:
    out: dict = {"networks_per_arm": len(setup.ini_gains) * len(setup.seeds), "tasks": {}}
    for task_name in setup.tasks:
        task = liu.make_task(task_name, setup)
        entry = {"steps_per_trial": task.sample(1).n_steps, "s_per_update": {}}
        for key in setup.rules:
            rule, opts = liu.RULES[key]
            model, _ = liu.initial_model(task, setup)
            kw = dict(rule=rule, rule_options=opts, lr=setup.lr, batch_size=setup.batch_size,
                      record_every=10**6)
            rr.train(model, task, steps=1, **kw)  # warm-up
            t = time.perf_counter()
            rr.train(model, task, steps=2, **kw)
            entry["s_per_update"][key] = (time.perf_counter() - t) / 2
        model, _ = liu.initial_model(task, setup)
        t = time.perf_counter()
        dyn.preflossing(model, task, updates=3, k=setup.floss_k, lr=setup.floss_lr, seed=1)
        entry["s_per_floss_update"] = (time.perf_counter() - t) / 3
        t = time.perf_counter()
        dyn.lambda_max(model, liu.lyap_inputs(task), steps=setup.lyap_steps,
                       warmup=setup.lyap_warmup)
        entry["s_per_lambda_max"] = time.perf_counter() - t
        out["tasks"][task_name] = entry
    total = 0.0
    for entry in out["tasks"].values():
        for key, sec in entry["s_per_update"].items():
            arms = 2 if key in setup.floss_rules else 1
            total += arms * (sec * setup.steps + 4 * entry["s_per_lambda_max"])
            if key in setup.floss_rules:
                total += setup.floss_updates * entry["s_per_floss_update"]
    out["extrapolated_hours"] = total / 3600
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(measure(liu.paper()), indent=1))
