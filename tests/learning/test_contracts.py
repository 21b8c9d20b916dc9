"""The trainer's explicit contracts: config form, rule and hook protocols, model protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import TrainingHook, register_adjoint, register_hook
from rnnrank.learning.adjoints import find_adjoint
from rnnrank.learning.bptt import BPTT
from rnnrank.learning.rate_bptt import rate_bptt
from rnnrank.learning.rules import LearningRule, RuleResult, register_rule

FF = dict(n_bits=2, duration=10.0, interval=(3.0, 6.0), settle=2.0, dt=0.5)


def _setup(**model_kw):
    task = rr.tasks.make("flipflop", **FF)
    model = rr.RateRNN(task.n_in, 16, task.n_out, gain=1.0, seed=0, dt=0.5,
                       dtype=torch.float64, **model_kw)
    return model, task


def test_config_object_and_keywords_train_the_same_run():
    model_a, task = _setup()
    a = rr.train(model_a, task, rr.TrainConfig(steps=6, lr=1e-2, batch_size=4, record_every=2))
    model_b, _ = _setup()
    b = rr.train(model_b, task, steps=6, lr=1e-2, batch_size=4, record_every=2)
    np.testing.assert_array_equal(np.asarray(a.trajectory.weights),
                                  np.asarray(b.trajectory.weights))
    # keywords override the config's fields; rule options stay apart from training options
    model_c, _ = _setup()
    c = rr.train(model_c, task, rr.TrainConfig(steps=99, batch_size=4, record_every=2),
                 steps=6, lr=1e-2, rule_options={"truncation": 3})
    assert c.steps == 6 and c.trajectory.loss.shape == a.trajectory.loss.shape
    assert not np.array_equal(np.asarray(c.trajectory.weights), np.asarray(a.trajectory.weights))


@register_hook("_weight_decay")
class _WeightDecay(TrainingHook):
    """Adds the gradient of λ‖W‖² and counts its calls (state that must survive a resume)."""

    def __init__(self, lam: float = 0.1) -> None:
        self.lam, self.calls = lam, 0

    def options(self) -> dict:
        return {"lam": self.lam}

    crash_at: int | None = None  # not an option: lets a test interrupt a run

    def before_update(self, model, step) -> None:
        if step == self.crash_at:
            raise KeyboardInterrupt
        self.calls += 1

    def extra_gradients(self, model, batch, step):
        return {"W": 2 * self.lam * model.W.detach()}

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state) -> None:
        self.calls = int(state.get("calls", 0))


def test_a_hooks_gradient_is_added_to_the_rules():
    """One SGD step with the hook = W − lr (∂L/∂W + 2λW), the BPTT gradient computed here."""
    model, task = _setup()
    batch = task.sample(4, generator=torch.Generator().manual_seed(0)).to(dtype=torch.float64)
    W0 = model.W.detach().clone()
    _, grads, _ = rate_bptt(model, batch.inputs,
                            lambda y: rr.learning.masked_mse(y, batch.targets, batch.mask))
    hook = _WeightDecay(lam=0.3)
    rr.train(model, task, steps=1, lr=0.5, optimizer="sgd", batch_size=4, record_every=1,
             hooks=[hook])
    torch.testing.assert_close(model.W.detach(), W0 - 0.5 * (grads["W"] + 0.6 * W0),
                               rtol=0, atol=1e-12)
    assert hook.calls == 1


def test_hook_state_and_options_are_saved_and_resumed(tmp_path):
    kw = dict(steps=8, lr=1e-2, batch_size=4, record_every=2, checkpoint_every=3)
    model, task = _setup()
    ref = rr.train(model, task, hooks=[_WeightDecay()], **kw)
    crashing = _WeightDecay()
    crashing.crash_at = 5
    model, task = _setup()
    with pytest.raises(KeyboardInterrupt):
        rr.train(model, task, out=tmp_path / "r", hooks=[crashing], **kw)
    hook = _WeightDecay()
    model, task = _setup()
    run = rr.train(model, task, out=tmp_path / "r", hooks=[hook], **kw)
    np.testing.assert_array_equal(np.asarray(run.trajectory.weights),
                                  np.asarray(ref.trajectory.weights))
    assert hook.calls == 8  # 3 restored from the checkpoint at step 3 + 5 after the resume
    model, task = _setup()
    with pytest.raises(ValueError, match="hooks: saved"):
        rr.train(model, task, out=tmp_path / "r", hooks=[_WeightDecay(lam=0.2)], **kw)


@register_rule("_random_feedback_probe")
class _RandomFeedbackProbe(BPTT):
    """BPTT that draws a 'feedback matrix' in ``init`` (as e-prop's random feedback will)."""

    drawn: list = []

    def init(self, model, generator) -> None:
        self.B = torch.randn(3, 3, generator=generator)
        _RandomFeedbackProbe.drawn.append(self.B)


def test_rule_randomness_follows_the_runs_seed():
    _RandomFeedbackProbe.drawn.clear()
    for seed in (0, 0, 1):
        model, task = _setup()
        rr.train(model, task, rule="_random_feedback_probe", steps=1, batch_size=2, seed=seed)
    a, b, c = _RandomFeedbackProbe.drawn
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


class _NoModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))


def test_a_model_without_the_protocol_is_refused_by_name():
    _, task = _setup()
    with pytest.raises(ValueError, match=r"lacks \['config', 'ensemble_size'.*TrainableModel"):
        rr.train(_NoModel(), task, steps=1)


class _SubRate(rr.RateRNN):
    pass


def test_bptt_finds_the_adjoint_by_registration():
    assert find_adjoint(_SubRate(2, 4, 2)) is rate_bptt  # inherited through the class's MRO
    assert find_adjoint(rr.models.LSTMNet(2, 4, 2)) is None
    calls = []

    class _Counted(rr.RateRNN):
        pass

    def counted(model, inputs, loss_fn, **kw):
        calls.append(kw["truncation"])
        return rate_bptt(model, inputs, loss_fn, **kw)

    register_adjoint(_Counted, counted)
    task = rr.tasks.make("flipflop", **FF)
    model = _Counted(task.n_in, 8, task.n_out, dt=0.5)
    rr.train(model, task, steps=2, batch_size=2, truncation=4)
    assert calls == [4, 4]


class _ConstantRule(LearningRule):
    def gradients(self, model, batch, *, loss_fn, noise):
        raise AssertionError("not called")


def test_rules_default_init_and_state_are_empty():
    rule = _ConstantRule()
    assert rule.init(None, torch.Generator()) is None and rule.state_dict() == {}
    assert isinstance(RuleResult(torch.zeros(1), {}, torch.zeros(1)).grads, dict)
