"""The closing-note numbers of issue 15: λ_max before/after training and the effect of flossing.

1. An ensemble of four flip-flop networks (3 bits, N = 64, g = 0.5, 1.0, 1.5, 2.0, seed 0; BPTT,
   Adam 3e-3, batch 32, 400 updates): λ_max of the autonomous network (nats per step; dt = 0.2,
   so × 5 per τ) and driven by 8 trials, before and after training; fixed points after.
2. One chaotic network (g = 2, same task and training) with and without gradient flossing
   (k = 10, target 0, 200 pre-flossing updates and one 100-update burst at update 200).

    PYTHONPATH=src python benchmarks/lyapunov_flipflop.py      # ~3 min on one CPU thread
"""

from __future__ import annotations

import json

import numpy as np
import torch

import rnnrank as rr

torch.set_num_threads(1)
task = rr.tasks.make("flipflop", n_bits=3)
gains, N, STEPS = [0.5, 1.0, 1.5, 2.0], 64, 400
train_kw = dict(rule="bptt", steps=STEPS, lr=3e-3, batch_size=32, record_every=50)
kw = dict(k=1, steps=2000, warmup=500, n_init=4, full=True)

model = rr.RateRNN(task.n_in, N, task.n_out, gain=gains, seed=0)
inputs = task.sample(8, generator=torch.Generator().manual_seed(123)).inputs
before = rr.dynamics.lyapunov_spectrum(model, **kw)
before_d = rr.dynamics.lyapunov_spectrum(model, inputs=inputs, **kw)
run = rr.train(model, task, **train_kw)
after = rr.dynamics.lyapunov_spectrum(model, **kw)
after_d = rr.dynamics.lyapunov_spectrum(model, inputs=inputs, **kw)
fps = rr.dynamics.fixed_points(model, n_init=64)
table = {}
for e, g in enumerate(gains):
    table[f"g={g}"] = dict(
        lmax_before=float(before.exponents[e, 0]), se_before=float(before.stderr[e, 0]),
        lmax_after=float(after.exponents[e, 0]), se_after=float(after.stderr[e, 0]),
        lmax_driven_before=float(before_d.exponents[e, 0]),
        lmax_driven_after=float(after_d.exponents[e, 0]),
        loss_first=float(run.trajectory.loss[0, e]), loss_final=float(run.final_loss[e]),
        acc_final=float(run.trajectory.score[-1, e]),
        fixed_points_after=len(fps[e]), stable_after=int(fps[e].stable.sum()))
print(json.dumps(table, indent=1), flush=True)

spectra = dict(k=10, steps=2000, warmup=500)
result = {}
for label in ("plain", "flossing"):
    floss = rr.learning.Flossing(k=10, pre=200, every=200, steps=100, times=1, lr=1e-3) \
        if label == "flossing" else None
    m = rr.RateRNN(task.n_in, N, task.n_out, gain=2.0, seed=0)
    lb = rr.dynamics.lyapunov_spectrum(m, **spectra)
    r = rr.train(m, task, flossing=floss, **train_kw)
    la = rr.dynamics.lyapunov_spectrum(m, **spectra)
    result[label] = dict(top3_before=lb[:3].tolist(), top3_after=la[:3].tolist(),
                         loss=[round(float(v), 4) for v in r.trajectory.loss],
                         acc_final=float(r.trajectory.score[-1]))
    if floss is not None:  # W(0) of this run is the network after pre-flossing
        m0 = rr.RateRNN(task.n_in, N, task.n_out, gain=2.0, seed=0)
        m0.load_state_dict({k: torch.as_tensor(np.asarray(r.trajectory.parameter(k)[0]))
                            for k in ("W", "U", "V", "b", "x0")})
        result[label]["top3_after_preflossing"] = \
            rr.dynamics.lyapunov_spectrum(m0, **spectra)[:3].tolist()
        result[label]["floss_loss_first_200th_last"] = [floss.losses[0], floss.losses[199],
                                                        floss.losses[-1]]
print(json.dumps(result, indent=1))
