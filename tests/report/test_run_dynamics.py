"""``rnnrank analyze RUN --lyapunov --fixed-points``: before = W(0), after = the trained weights."""

from __future__ import annotations

import json

import numpy as np
import torch

import rnnrank as rr
from rnnrank.cli import main
from rnnrank.report.run_dynamics import dynamics_report

FF = dict(n_bits=2, duration=10.0, interval=(3.0, 6.0), settle=2.0, dt=0.5)


def test_report_measures_the_initial_and_the_trained_network(tmp_path, capsys):
    task = rr.tasks.make("flipflop", **FF)
    model = rr.RateRNN(task.n_in, 12, task.n_out, gain=1.5, seed=0, dt=0.5, dtype=torch.float64)
    initial = rr.RateRNN(task.n_in, 12, task.n_out, gain=1.5, seed=0, dt=0.5,
                         dtype=torch.float64)
    rr.train(model, task, steps=5, lr=3e-2, batch_size=4, record_every=5, out=tmp_path / "r")
    kw = dict(k=3, steps=300, warmup=100, seed=0)
    summary = dynamics_report(tmp_path / "r", k=3, steps=300, warmup=100, n_init=8)
    lya = summary["lyapunov"]
    # the same estimator on the models held here: equal up to round-off (the report reloads
    # the parameters from the stored trajectory, float64 both)
    for label, m in (("before", initial), ("after", model)):
        ref = rr.dynamics.lyapunov_spectrum(m, **kw)
        np.testing.assert_allclose(lya[label]["spectrum_per_step"][0], ref.numpy(), rtol=0,
                                   atol=1e-10)
    assert lya["before"]["spectrum_per_step"] != lya["after"]["spectrum_per_step"]
    for label, m in (("before", initial), ("after", model)):
        fp = rr.dynamics.fixed_points(m, n_init=8)
        assert summary["fixed_points"][label][0]["n_points"] == len(fp)
    for name in ("dynamics.json", "lyapunov.png", "fixed_points.png"):
        assert (tmp_path / "r" / "analysis" / name).exists()
    # the command line: one JSON summary, and bad input exits 2
    assert main(["analyze", str(tmp_path / "r"), "--lyapunov", "--lyapunov-steps", "100",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) >= {"lyapunov", "final_step"} and printed["final_step"] == 5
    assert main(["analyze", str(tmp_path / "r"), "--fixed-points", "--member", "3"]) == 2
