"""Learning-rate warm-up/decay, per-member clipping, and the best snapshot (issue 13, part 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import LearningRule, RuleResult, make_rule, register_rule
from rnnrank.store.run_dir import RunDir

FF = dict(n_bits=2, duration=20.0, interval=(3.0, 8.0), settle=2.0, dt=0.5)


def _setup(n_rec=16, gain=1.0, seed=0, **model_kw):
    task = rr.tasks.make("flipflop", **FF)
    model = rr.RateRNN(task.n_in, n_rec, task.n_out, gain=gain, seed=seed, dt=0.5,
                       dtype=torch.float64, **model_kw)
    return model, task


@register_rule("_unit_gradient")
class _UnitGradient(LearningRule):
    """Every trainable parameter gets gradient 1: plain SGD then moves it by −lr_k exactly."""

    def gradients(self, model, batch, *, loss_fn, noise):
        outputs, _ = model.run(batch.inputs, noise=noise, grad=False)
        grads = {n: torch.ones_like(p) for n, p in model.named_parameters() if p.requires_grad}
        return RuleResult(loss_fn(outputs), grads, outputs)


def _steps_taken(kw, **model_kw):
    """ΔW of every update, read from a trajectory recorded at every update: [S, ...]."""
    model, task = _setup(**model_kw)
    run = rr.train(model, task, rule="_unit_gradient", optimizer="sgd", record_every=1, **kw)
    return -np.diff(np.asarray(run.trajectory.weights), axis=0)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_follows_warmup_and_decay_formula(schedule):
    S, W, lr = 12, 4, 0.1
    dw = _steps_taken(dict(steps=S, lr=lr, batch_size=2, lr_warmup=W, lr_schedule=schedule))
    expected = []
    for k in range(S):  # written out independently of schedule.py
        if k < W:
            expected.append(lr * (k + 1) / W)
        elif schedule == "constant":
            expected.append(lr)
        else:
            expected.append(lr * 0.5 * (1 + math.cos(math.pi * (k - W) / (S - W))))
    expected = np.array(expected)[:, None, None] * np.ones_like(dw)
    np.testing.assert_allclose(dw, expected, rtol=1e-12, atol=1e-15)  # float64: round-off only


def test_library_default_is_constant_rate_without_clipping():
    cfg = rr.TrainConfig()
    assert cfg.grad_clip is None and cfg.lr_warmup == 0 and cfg.lr_schedule == "constant"
    dw = _steps_taken(dict(steps=3, lr=0.05, batch_size=2))
    np.testing.assert_allclose(dw, 0.05, rtol=1e-12)  # SGD on unit gradients: −lr each update


def test_clipping_scales_each_member_to_the_bound():
    # unit gradients on W, U, V, b: a member's norm is √P (P its parameter count); clip c < √P
    # scales every entry to c/√P; the ensemble's members are clipped each on its own.
    n, c, lr = 16, 0.5, 0.1
    P = n * n + 2 * n + 2 * n + n  # W, U (n×2), V (2×n), b
    dw = _steps_taken(dict(steps=2, lr=lr, batch_size=2, grad_clip=c), n_rec=n,
                      gain=[1.0, 0.5], seed=[0, 1])
    np.testing.assert_allclose(dw, lr * c / math.sqrt(P), rtol=1e-9)  # float64 + 1e-12 guard


def _smoothed(losses: np.ndarray, w: int) -> np.ndarray:
    """Brute force: mean of the last min(w, k+1) losses at every k, [S, E]."""
    return np.stack([losses[max(0, k - w + 1):k + 1].mean(0) for k in range(len(losses))])


def test_best_snapshot_is_the_argmin_of_the_recorded_losses(tmp_path):
    model, task = _setup(gain=[0.8, 1.6], seed=[0, 1])
    S, w = 40, 5
    run = rr.train(model, task, steps=S, lr=2e-2, batch_size=4, record_every=1, best_window=w,
                   out=tmp_path / "r")
    rows = RunDir(tmp_path / "r").read_metrics()
    loss = np.array([r[2] for r in rows]).reshape(S + 1, 2)[:S]  # updates only, not the last
    smooth = _smoothed(loss, w)
    best = rr.load_best(tmp_path / "r")
    np.testing.assert_array_equal(best.step, run.best_step)
    W = np.asarray(run.trajectory.weights)
    for e in range(2):
        k = int(best.step[e])
        # metrics.csv keeps 9 significant digits: the tracker's minimum must be the brute-force
        # minimum to that precision (exact argmin up to ties within 1e-8 relative)
        assert smooth[k, e] <= smooth[:, e].min() * (1 + 1e-8)
        assert best.loss[e] == pytest.approx(smooth[:, e].min(), rel=1e-8)
        # the snapshot holds the parameters before update k, i.e. the recorded W(k)
        np.testing.assert_array_equal(best.params["W"][e].numpy(), W[k, e])
    assert 0 < best.step.min() and best.step.max() < S


def test_restore_best_loads_the_best_parameters(tmp_path):
    model, task = _setup()
    run = rr.train(model, task, steps=20, lr=5e-2, batch_size=4, record_every=1,
                   best_window=3, restore_best=True, out=tmp_path / "r")
    k = int(run.best_step[0])
    np.testing.assert_array_equal(run.model.W.detach().numpy(),
                                  np.asarray(run.trajectory.weights)[k])


def test_resume_with_schedule_and_best_reproduces_the_uninterrupted_run(tmp_path):
    kw = dict(steps=24, lr=2e-2, batch_size=4, record_every=3, checkpoint_every=5,
              lr_warmup=6, lr_schedule="cosine", grad_clip=0.5, best_window=4)
    model, task = _setup(gain=[0.8, 1.4], seed=[0, 1], noise=0.1)
    ref = rr.train(model, task, out=tmp_path / "ref", **kw)

    model, task = _setup(gain=[0.8, 1.4], seed=[0, 1], noise=0.1)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        rr.train(model, task, out=cut, rule=make_rule("_interrupt_at_13"), **kw)
    # the interrupting rule is a different rule: resume the same directory under plain BPTT
    cfg = (cut / "config.yaml").read_text().replace("_interrupt_at_13", "bptt")
    (cut / "config.yaml").write_text(cfg.replace(
        "rule_options: {}", "rule_options:\n    truncation: null\n    backward: auto"))
    model, task = _setup(gain=[0.8, 1.4], seed=[0, 1], noise=0.1)
    run = rr.train(model, task, out=cut, **kw)
    np.testing.assert_array_equal(np.asarray(ref.trajectory.weights),
                                  np.asarray(run.trajectory.weights))
    a, b = rr.load_best(tmp_path / "ref"), rr.load_best(cut)
    np.testing.assert_array_equal(a.step, b.step)
    np.testing.assert_array_equal(a.loss, b.loss)
    for name in a.params:
        torch.testing.assert_close(a.params[name], b.params[name], rtol=0, atol=0)


@register_rule("_interrupt_at_13")
class _Interrupting(LearningRule):
    def __init__(self) -> None:
        self.calls, self.bptt = 0, make_rule("bptt")

    def gradients(self, model, batch, *, loss_fn, noise):
        self.calls += 1
        if self.calls == 14:
            raise KeyboardInterrupt
        return self.bptt.gradients(model, batch, loss_fn=loss_fn, noise=noise)


def test_cosine_run_cannot_be_extended(tmp_path):
    model, task = _setup()
    rr.train(model, task, steps=6, lr_schedule="cosine", out=tmp_path / "c")
    model, task = _setup()
    with pytest.raises(ValueError, match="decays its learning rate to 0 at step 6"):
        rr.train(model, task, steps=12, lr_schedule="cosine", out=tmp_path / "c")


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr_schedule="step"), "lr_schedule must be one of"),
    (dict(steps=5, lr_warmup=6), "lr_warmup must be <= steps"),
    (dict(lr_warmup=-1), "lr_warmup must be an integer"),
    (dict(best_window=0), "best_window must be an integer"),
])
def test_bad_schedule_options(kwargs, match):
    model, task = _setup()
    with pytest.raises(ValueError, match=match):
        rr.train(model, task, **kwargs)
