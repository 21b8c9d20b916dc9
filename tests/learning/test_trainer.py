"""The training loop: learning happens, trajectories are recorded, runs resume and stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import make_rule, register_rule
from rnnrank.learning.bptt import BPTT
from rnnrank.learning.rules import RuleResult

FF = dict(n_bits=2, duration=20.0, interval=(3.0, 8.0), settle=2.0, dt=0.5)


def _setup(n_rec=32, gain=1.0, seed=0, **model_kw):
    task = rr.tasks.make("flipflop", **FF)
    model = rr.RateRNN(task.n_in, n_rec, task.n_out, gain=gain, seed=seed, dt=0.5, **model_kw)
    return model, task


def test_training_lowers_the_loss_and_records_the_trajectory(tmp_path):
    model, task = _setup()
    run = rr.train(model, task, steps=60, lr=3e-3, batch_size=16, record_every=10,
                   out=tmp_path / "ff")
    traj = rr.load_trajectory(tmp_path / "ff")
    assert run.status == "completed" and len(traj) == 7
    np.testing.assert_array_equal(traj.steps, np.arange(0, 61, 10))
    assert traj.weights.shape == (7, 32, 32)
    # W(0) is the initial connectivity, W(K) the trained one held by the model
    w0 = rr.RateRNN(task.n_in, 32, task.n_out, gain=1.0, seed=0, dt=0.5).W.detach().numpy()
    np.testing.assert_array_equal(traj.weights[0], w0)
    np.testing.assert_array_equal(traj.weights[-1], model.W.detach().numpy())
    assert traj.loss[-1] < 0.5 * traj.loss[0]
    assert traj.score[-1] > traj.score[0]


def test_linear_network_from_zero_keeps_rank_within_inputs_plus_outputs():
    """Theorem (REFERENCES.md §2): a linear RNN from W0 = 0 (x0 = 0) trained by plain gradient
    descent keeps every W(k) in span[U0, V0ᵀ] ⊗ span[U0, V0ᵀ], so rank W(k) ≤ d_in + d_out."""
    model, task = _setup(n_rec=24, gain=0.0, nonlinearity="identity", dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.cat([model.U.detach(), model.V.detach().T], dim=1))
    run = rr.train(model, task, steps=40, lr=0.2, optimizer="sgd", batch_size=8,
                   record_every=4)
    weights = np.asarray(run.trajectory.weights)
    assert run.trajectory.loss[-1] < run.trajectory.loss[0]  # it did learn
    P = basis.numpy() @ basis.numpy().T
    d = task.n_in + task.n_out
    for w in weights[1:]:
        s = np.linalg.svd(w, compute_uv=False)
        assert s[0] > 1e-3  # W has moved
        assert np.sum(s > 1e-10 * s[0]) <= d  # float64: outside the span only round-off
        np.testing.assert_allclose(P @ w @ P, w, atol=1e-12 * np.abs(w).max())
    # Control: Adam rescales coordinates and breaks the span argument, so the check can fail.
    model, task = _setup(n_rec=24, gain=0.0, nonlinearity="identity", dtype=torch.float64)
    run = rr.train(model, task, steps=40, lr=1e-2, batch_size=8, record_every=40)
    s = np.linalg.svd(np.asarray(run.trajectory.weights)[-1], compute_uv=False)
    assert np.sum(s > 1e-10 * s[0]) > d


def test_ensemble_training_equals_separate_runs():
    gains, seeds = [0.5, 1.5], [0, 1]
    task = rr.tasks.make("flipflop", **FF)
    ens = rr.RateRNN(2, 16, 2, gain=gains, seed=seeds, dt=0.5, dtype=torch.float64)
    run_e = rr.train(ens, task, steps=12, lr=1e-2, batch_size=4, record_every=4)
    for e in range(2):
        single = rr.RateRNN(2, 16, 2, gain=gains[e], seed=seeds[e], dt=0.5,
                            dtype=torch.float64)
        run_s = rr.train(single, task, steps=12, lr=1e-2, batch_size=4, record_every=4)
        # Adam is elementwise and members share batches: equal up to float64 round-off
        np.testing.assert_allclose(np.asarray(run_e.trajectory.weights)[:, e],
                                   np.asarray(run_s.trajectory.weights), atol=1e-12)
        np.testing.assert_allclose(run_e.trajectory.loss[:, e], run_s.trajectory.loss,
                                   rtol=1e-10)


def test_independent_batches_give_members_different_data():
    task = rr.tasks.make("flipflop", **FF)
    ens = rr.RateRNN(2, 16, 2, gain=1.0, seed=[0, 0], dt=0.5)
    run = rr.train(ens, task, steps=3, batch_size=4, record_every=1, independent_batches=True)
    loss = run.trajectory.loss  # identical networks, different trials → different losses
    assert loss.shape == (4, 2) and not np.allclose(loss[:, 0], loss[:, 1])


class _Crash(Exception):
    pass


@register_rule("_crash_at_17")
class _CrashingBPTT(BPTT):
    """BPTT that raises during the 18th update, standing in for a killed process."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def options(self) -> dict:
        return {}

    def gradients(self, model, batch, *, loss_fn, noise):
        self.calls += 1
        if self.calls == 18:
            raise _Crash
        return super().gradients(model, batch, loss_fn=loss_fn, noise=noise)


@register_rule("_nan_at_9")
class _NanBPTT(_CrashingBPTT):
    def gradients(self, model, batch, *, loss_fn, noise):
        result = BPTT.gradients(self, model, batch, loss_fn=loss_fn, noise=noise)
        self.calls += 1
        if self.calls == 10:
            return RuleResult(result.loss * float("nan"), result.grads, result.outputs)
        return result


def test_resume_after_interruption_reproduces_the_uninterrupted_run(tmp_path):
    kw = dict(steps=30, lr=3e-3, batch_size=8, record_every=3, checkpoint_every=5)
    model, task = _setup(noise=0.1)
    ref = rr.train(model, task, out=tmp_path / "ref", **kw)

    model, task = _setup(noise=0.1)
    with pytest.raises(_Crash):
        rr.train(model, task, out=tmp_path / "cut", **{**kw, "rule": make_rule("_crash_at_17")})
    assert len(rr.load_trajectory(tmp_path / "cut")) == 6  # snapshots 0..15 were kept
    # the crashing rule is a different rule: resume the same directory under plain BPTT
    cfg = (tmp_path / "cut" / "config.yaml").read_text().replace("_crash_at_17", "bptt")
    cfg = cfg.replace("rule_options: {}", "rule_options:\n    truncation: null\n"
                      "    backward: auto")
    (tmp_path / "cut" / "config.yaml").write_text(cfg)
    model, task = _setup(noise=0.1)
    run = rr.train(model, task, out=tmp_path / "cut", **kw)
    a, b = ref.trajectory, rr.load_trajectory(tmp_path / "cut")
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(np.asarray(a.weights), np.asarray(b.weights))
    np.testing.assert_array_equal(a.loss, b.loss)
    torch.testing.assert_close(run.model.W, ref.model.W, rtol=0, atol=0)
    metrics = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 1 + 31  # header + one row per step 0..30, no duplicates


KILL_SCRIPT = textwrap.dedent("""
    import sys, rnnrank as rr
    task = rr.tasks.make("flipflop", n_bits=2, duration=20.0, interval=(3.0, 8.0), settle=2.0,
                         dt=0.5)
    model = rr.RateRNN(2, 32, 2, gain=1.0, seed=0, dt=0.5)
    rr.train(model, task, steps=int(sys.argv[2]), lr=3e-3, batch_size=8, record_every=2,
             checkpoint_every=4, out=sys.argv[1])
""")


def test_kill_minus_9_loses_nothing_before_the_last_checkpoint(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out), "100000"])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some snapshots and a checkpoint exist
        if (out / "checkpoint.pt").exists() and len(rr.load_trajectory(out)) >= 12:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    traj = rr.load_trajectory(out)
    k = len(traj)
    assert k >= 12
    w = np.asarray(traj.weights)
    assert np.isfinite(w).all()  # no half-written (NaN-filled) snapshot is visible
    np.testing.assert_array_equal(traj.steps, 2 * np.arange(k))
    # resume to a fixed length and compare with an uninterrupted run
    steps = 2 * k + 6
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(out), str(steps)], check=True)
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(ref), str(steps)], check=True)
    np.testing.assert_array_equal(np.asarray(rr.load_trajectory(out).weights),
                                  np.asarray(rr.load_trajectory(ref).weights))


def test_divergence_stops_with_a_message_and_keeps_the_record(tmp_path):
    model, task = _setup()
    with pytest.raises(rr.TrainingDiverged, match="diverged at step 9") as info:
        rr.train(model, task, steps=30, record_every=2, out=tmp_path / "nan",
                 rule=make_rule("_nan_at_9"))
    traj = rr.load_trajectory(tmp_path / "nan")
    np.testing.assert_array_equal(traj.steps, [0, 2, 4, 6, 8])
    assert info.value.run.status == "diverged"
    assert '"diverged"' in (tmp_path / "nan" / "status.json").read_text()
    assert 0 <= rr.load_best(tmp_path / "nan").step[0] < 9  # kept: the best before step 9


def test_resume_refuses_a_different_configuration(tmp_path):
    model, task = _setup()
    rr.train(model, task, steps=4, record_every=2, out=tmp_path / "r")
    model, task = _setup(gain=2.0)
    with pytest.raises(ValueError, match="gains"):
        rr.train(model, task, steps=4, record_every=2, out=tmp_path / "r")
    with pytest.raises(ValueError, match="already holds a run"):
        rr.train(model, task, steps=4, record_every=2, out=tmp_path / "r", resume=False)
    run = rr.train(model, task, steps=4, record_every=2, out=tmp_path / "r", overwrite=True)
    assert run.status == "completed"


def test_extending_a_completed_run_continues_it(tmp_path):
    model, task = _setup()
    rr.train(model, task, steps=6, record_every=3, out=tmp_path / "x")
    model, task = _setup()
    run = rr.train(model, task, steps=12, record_every=3, out=tmp_path / "x")
    np.testing.assert_array_equal(run.trajectory.steps, [0, 3, 6, 9, 12])
    # re-running a completed run trains nothing and returns it
    model, task = _setup()
    again = rr.train(model, task, steps=12, record_every=3, out=tmp_path / "x")
    torch.testing.assert_close(again.model.W, run.model.W, rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=-1), "steps must be an integer"),
    (dict(record_every=0), "record_every must be an integer"),
    (dict(lr=0.0), "lr must be > 0"),
    (dict(optimizer="lbfgs"), "optimizer must be one of"),
    (dict(rule="hebb"), "unknown learning rule"),
    (dict(truncation=0), "truncation must be a positive integer"),
    (dict(warp=3), "unknown option"),
])
def test_bad_training_options(kwargs, match):
    model, task = _setup()
    with pytest.raises(ValueError, match=match):
        rr.train(model, task, **kwargs)


def test_model_and_task_must_agree():
    model = rr.RateRNN(2, 8, 2, dt=0.2)
    with pytest.raises(ValueError, match="dt=0.2 but task dt=0.5"):
        rr.train(model, rr.tasks.make("flipflop", **FF), steps=1)
    with pytest.raises(ValueError, match="needs n_in=3"):
        rr.train(model, rr.tasks.make("flipflop", n_bits=3), steps=1)


def test_a_refused_resume_leaves_the_run_untouched(tmp_path):
    model, task = _setup()
    rr.train(model, task, steps=6, record_every=3, out=tmp_path / "r")
    before = (tmp_path / "r" / "config.yaml").read_text()
    model, task = _setup()
    w_before = model.W.detach().clone()
    with pytest.raises(ValueError, match="beyond steps=3"):
        rr.train(model, task, steps=3, record_every=3, out=tmp_path / "r")
    assert (tmp_path / "r" / "config.yaml").read_text() == before
    torch.testing.assert_close(model.W, w_before, rtol=0, atol=0)  # the model was not touched
