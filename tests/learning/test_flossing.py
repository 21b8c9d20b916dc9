"""Gradient flossing: exact gradients, only W, U, b move, any rule, exact resume, and it works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import Flossing, TrainingHook, register_hook
from rnnrank.learning.flossing import flossing_exponents
from rnnrank.learning.rules import available_rules
from rnnrank.models import rate_dynamics as rd

F64 = torch.float64
FF = dict(n_bits=2, duration=10.0, interval=(3.0, 6.0), settle=2.0, dt=0.5)


def test_flossing_exponents_have_the_finite_difference_gradient():
    model = rr.RateRNN(1, 6, 1, gain=1.5, seed=0, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 6, generator=gen, dtype=F64)
    Q = torch.linalg.qr(torch.randn(1, 2, 6, 2, generator=gen, dtype=F64))[0]
    p = model.params()

    def lam(W, b):
        params = rd.RateParams(W, p.U.detach(), p.V.detach(), b, p.x0.detach())
        return flossing_exponents(params, x, Q, alpha=model.alpha, phi=model.phi,
                                  window=8, discard=2)

    W = p.W.detach().clone().requires_grad_(True)
    b = (0.1 * torch.randn(1, 6, generator=gen, dtype=F64)).requires_grad_(True)
    # central differences in float64 (eps 1e-6): agreement to ~1e-6 is the truth here
    assert torch.autograd.gradcheck(lam, (W, b), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_flossing_moves_only_recurrent_weights_and_bias():
    model = rr.RateRNN(2, 16, 2, gain=2.0, seed=1, dtype=F64)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    hook = Flossing(k=3, pre=3, window=10, discard=2, warmup=5, inputs="none")
    hook.init(model, torch.Generator().manual_seed(0))
    hook.before_update(model, 0)
    after = dict(model.named_parameters())
    assert not torch.equal(after["W"], before["W"]) and not torch.equal(after["b"], before["b"])
    for name in ("U", "V", "x0"):  # U: the flossed dynamics are autonomous (zero input)
        assert torch.equal(after[name], before[name]), name
    assert len(hook.losses) == 3 and hook.pre_done
    hook.before_update(model, 0)  # pre-flossing happens once
    assert len(hook.losses) == 3


@register_hook("_crash_at")
class _CrashAt(TrainingHook):
    """Interrupts a run before update ``at`` (like a kill); ``at`` is no option, so the
    resumed run, without a crash, has the same configuration."""

    at: int | None = None

    def before_update(self, model, step) -> None:
        if step == self.at:
            raise KeyboardInterrupt


def _floss() -> Flossing:
    return Flossing(k=2, pre=2, every=3, steps=2, times=2, window=8, discard=2, warmup=4)


# "_"-prefixed rules are test doubles registered by other test modules (crash, NaN on purpose)
@pytest.mark.parametrize("rule", [r for r in available_rules() if not r.startswith("_")])
def test_flossing_runs_with_every_rule_and_resumes_exactly(rule, tmp_path):
    task = rr.tasks.make("flipflop", **FF)
    kw = dict(rule=rule, steps=8, lr=1e-2, batch_size=4, record_every=1, checkpoint_every=2)

    def model():
        return rr.RateRNN(task.n_in, 12, task.n_out, gain=1.5, seed=0, dt=0.5, dtype=F64)

    ref_hook = _floss()
    # same hook list in every run: a hook's generator is seeded by its place in the list
    ref = rr.train(model(), task, flossing=ref_hook, hooks=[_CrashAt()], **kw)
    assert len(ref_hook.losses) == 2 + 2 * 2  # pre + two bursts (at updates 3 and 6)
    plain = rr.train(model(), task, **kw)
    assert not np.array_equal(np.asarray(ref.trajectory.weights)[0],
                              np.asarray(plain.trajectory.weights)[0])  # pre-flossing acted
    crash = _CrashAt()
    crash.at = 5
    with pytest.raises(KeyboardInterrupt):
        rr.train(model(), task, out=tmp_path / "r", flossing=_floss(), hooks=[crash], **kw)
    hook = _floss()
    run = rr.train(model(), task, out=tmp_path / "r", flossing=hook, hooks=[_CrashAt()], **kw)
    np.testing.assert_array_equal(np.asarray(run.trajectory.weights),
                                  np.asarray(ref.trajectory.weights))
    assert hook.losses == ref_hook.losses
    config = (tmp_path / "r" / "config.yaml").read_text()
    assert "flossing" in config and "every: 3" in config


def test_bad_options_and_models_are_refused():
    with pytest.raises(ValueError, match="discard=55 must be < window=55"):
        Flossing(window=55, discard=55)
    with pytest.raises(ValueError, match="k=20 exceeds the network size N=8"):
        Flossing(k=20, inputs="none").init(rr.RateRNN(1, 8, 1), torch.Generator())
    with pytest.raises(TypeError, match="Flossing needs a RateRNN"):
        Flossing().init(torch.nn.Linear(2, 2), torch.Generator(), task=object())
    with pytest.raises(ValueError, match="needs the run's task"):
        Flossing(k=2).init(rr.RateRNN(1, 8, 1), torch.Generator())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_flossing_drives_lambda_max_of_a_chaotic_network_to_the_target(seed):
    """h ← W tanh(h) at g = 2, N = 128: λ_max ≈ 0.11–0.15 per step before (mean field 0.155);
    100 flossing updates bring it to |λ_max − 0| < 0.03 (measured 0.002 and −0.0002)."""
    torch.set_num_threads(1)
    model = rr.RateRNN(1, 128, 1, gain=2.0, seed=seed, dt=1.0, tau=1.0)
    before = float(rr.dynamics.lyapunov_max(model, steps=1000))
    hook = Flossing(k=1, target=0.0, pre=100, lr=3e-3, window=40, discard=10, batch=2,
                    warmup=50, inputs="none")
    hook.init(model, torch.Generator().manual_seed(0))
    hook.before_update(model, 0)
    after = float(rr.dynamics.lyapunov_max(model, steps=1000))
    assert before > 0.08  # chaotic to begin with (s.e. ~0.003)
    assert abs(after - 0.0) < 0.03  # 0.03: ~10 s.e. of the 1000-step estimate, 1/4 of before


def test_task_driven_exponents_sum_to_the_mean_log_det_of_the_driven_jacobians(gen):
    """With k = N the flossed exponents sum to (1/T) Σ_t log|det J_t| along the driven path —
    J_t built densely here from the written-out step (float64 round-off: 1e-10)."""
    model = rr.RateRNN(2, 6, 1, gain=1.8, seed=2, dt=0.5, dtype=F64)
    p = model.params()
    u = torch.randn(12, 1, 2, generator=gen, dtype=F64)
    x0 = torch.randn(1, 1, 6, generator=gen, dtype=F64)
    Q = torch.linalg.qr(torch.randn(1, 1, 6, 6, generator=gen, dtype=F64))[0]
    lam = flossing_exponents(p, x0, Q, alpha=0.5, phi=model.phi, window=9, discard=0,
                             inputs=u, offset=2)
    x, total = x0, 0.0
    for t in range(9):
        J = rd.jacobian(p, x, alpha=0.5, phi=model.phi)[0, 0]
        total += torch.linalg.slogdet(J).logabsdet
        x = rd.step(p, x, u[(2 + t) % 12], alpha=0.5, phi=model.phi)
    torch.testing.assert_close(lam.sum(), total / 9, rtol=0, atol=1e-10)


def test_flossing_in_a_run_is_driven_by_the_tasks_trials():
    """inputs='task' (default): the run's trials drive the flossed dynamics, so U moves too;
    inputs='none' leaves U untouched."""
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=0.5)
    for inputs, u_moves in (("task", True), ("none", False)):
        model = rr.RateRNN(2, 12, 2, gain=2.0, seed=0, dt=0.5, dtype=F64,
                           trainable=("W", "U", "b"))
        U0 = model.U.detach().clone()
        hook = Flossing(k=2, pre=2, window=8, discard=2, warmup=3, inputs=inputs)
        rr.train(model, task, steps=1, lr=1e-12, hooks=[hook])  # the rule barely moves U
        assert len(hook.losses) == 2
        assert (not torch.allclose(model.U.detach(), U0, rtol=0, atol=1e-9)) == u_moves
