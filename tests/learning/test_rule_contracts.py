"""Contract over every registered rule × every registered task (STYLE §10): the estimate has the
parameters' names and shapes, is finite and deterministic under the seed; every rule lowers the
loss of an easy task; runs with random feedback resume exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.store.run_dir import RunDir

TASKS = [name for name in rr.tasks.available_tasks() if name != "neurogym"]  # needs an env
RULES = rr.learning.available_rules()


@pytest.mark.parametrize("task_name", TASKS)
def test_every_rule_runs_on_every_task(task_name):
    task = rr.tasks.make(task_name, dt=0.5)
    model = rr.RateRNN(task.n_in, 12, task.n_out, gain=1.2, seed=[0, 1], dt=0.5)
    batch = task.sample(3, generator=torch.Generator().manual_seed(0))

    def loss_fn(y):
        return masked_mse(task.effector(y), batch.targets, batch.mask)
    shapes = {n: p.shape for n, p in model.named_parameters() if p.requires_grad}
    for rule in RULES:
        a = rr.learning.estimate_gradients(model, batch, rule=rule, loss_fn=loss_fn, seed=4)
        b = rr.learning.estimate_gradients(model, batch, rule=rule, loss_fn=loss_fn, seed=4)
        assert {k: v.shape for k, v in a.grads.items()} == shapes, rule
        assert a.loss.shape == (2,) and a.outputs.shape == (batch.n_steps, 2, 3, task.n_out)
        for name, g in a.grads.items():
            assert bool(torch.isfinite(g).all()), (rule, name)
            assert torch.equal(g, b.grads[name]), (rule, name)
        # every rule's loss is the loss of the network's own outputs
        torch.testing.assert_close(a.loss, loss_fn(model.run(batch.inputs, grad=False)[0]),
                                   rtol=1e-5, atol=1e-7)  # float32 sums in another order


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_lowers_the_loss_of_an_easy_task(rule):
    """Flip-flop at dt = 0.5, three networks as one ensemble, 80 Adam 1e-3 updates: the median
    held-out loss ratio was measured 0.29 (bptt), 0.58 (eprop), 0.62 (rflo), 0.45 (fa); the
    assertion leaves a wide margin for float32 round-off on other CPUs."""
    task = rr.tasks.make("flipflop", dt=0.5)
    model = rr.RateRNN(task.n_in, 32, task.n_out, gain=0.8, seed=[0, 1, 2], dt=0.5)
    held_out = task.sample(32, generator=torch.Generator().manual_seed(99))

    def loss():
        outputs, _ = model.run(held_out.inputs, grad=False)
        return masked_mse(outputs, held_out.targets, held_out.mask)

    before = loss()
    rr.train(model, task, rule=rule, steps=80, lr=1e-3, batch_size=16, record_every=80)
    ratio = loss() / before
    assert float(ratio.median()) < 0.85, ratio


@pytest.mark.parametrize("rule", ["eprop", "rflo", "fa"])
def test_a_resumed_run_with_random_feedback_equals_an_uninterrupted_one(rule, tmp_path):
    task = rr.tasks.make("flipflop", n_bits=2, duration=6.0, dt=0.5)

    def fresh():
        return rr.RateRNN(task.n_in, 10, task.n_out, gain=1.0, seed=[0, 1], dt=0.5)
    opts = {"feedback": "random"} if rule == "eprop" else {}
    kw = dict(rule=rule, rule_options=opts, lr=1e-2, batch_size=4, record_every=2,
              checkpoint_every=3)
    whole = rr.train(fresh(), task, steps=6, out=tmp_path / "a", **kw)
    rr.train(fresh(), task, steps=3, out=tmp_path / "b", **kw)
    resumed = rr.train(fresh(), task, steps=6, out=tmp_path / "b", **kw)
    np.testing.assert_array_equal(np.asarray(whole.trajectory.weights),
                                  np.asarray(resumed.trajectory.weights))
    assert RunDir(tmp_path / "b").read_config()["train"]["rule_options"] == \
        rr.learning.make_rule(rule, **opts).options()


def test_alignment_is_written_to_the_metrics_and_is_one_where_the_rule_is_exact(tmp_path):
    """Symmetric e-prop at W = 0 is the exact gradient: cos = 1 at step 0; BPTT: 1 always."""
    task = rr.tasks.make("sine", duration=10.0, dt=0.5)
    for rule in ("eprop", "bptt", "rflo"):
        model = rr.RateRNN(task.n_in, 10, task.n_out, gain=0.0, seed=[0, 1], dt=0.5,
                           dtype=torch.float64)
        rr.train(model, task, rule=rule, steps=4, lr=1e-2, batch_size=4, record_every=2,
                 track_alignment=True, out=tmp_path / rule)
        run = RunDir(tmp_path / rule)
        fields = run.metric_fields()
        assert fields[5:] == ("cos_W", "cos_U", "cos_V", "cos_b", "cos_all")
        rows = np.array(run.read_metrics())
        recorded = rows[np.isin(rows[:, 0], [0, 2])]  # steps with an update and a record
        assert recorded.shape == (4, 10) and np.isfinite(recorded[:, 5:]).all()
        assert np.isnan(rows[~np.isin(rows[:, 0], [0, 2]), 5:]).all()
        cos_v = recorded[:, 7]
        np.testing.assert_allclose(cos_v, 1.0, atol=1e-12)  # the readout is exact in all rules
        if rule == "bptt":
            np.testing.assert_allclose(recorded[:, 5:], 1.0, atol=1e-12)
        if rule == "eprop":
            step0 = recorded[recorded[:, 0] == 0]
            np.testing.assert_allclose(step0[:, 5:], 1.0, atol=1e-12)  # float64 round-off
        if rule == "rflo":  # random feedback: clearly not the gradient's direction
            assert np.all(np.abs(recorded[:, 5]) < 0.99)
            from rnnrank.report import write_report

            page = (write_report(tmp_path / rule) / "index.md").read_text()  # plots alignment
            assert "alignment.png" in page and (tmp_path / rule / "report" / "alignment.png"
                                                ).exists()


def test_cosine_alignment_against_numpy():
    gen = torch.Generator().manual_seed(0)
    a = {"W": torch.randn(3, 4, 4, generator=gen), "b": torch.randn(3, 4, generator=gen)}
    b = {"W": torch.randn(3, 4, 4, generator=gen), "b": torch.randn(3, 4, generator=gen)}
    cos = rr.learning.cosine_alignment(a, b, members=3, ensemble=True)
    for e in range(3):
        x = np.concatenate([a["W"][e].numpy().ravel(), a["b"][e].numpy()])
        y = np.concatenate([b["W"][e].numpy().ravel(), b["b"][e].numpy()])
        assert cos["cos_all"][e].item() == pytest.approx(x @ y / np.linalg.norm(x)
                                                         / np.linalg.norm(y), rel=1e-6)
        w = a["W"][e].numpy().ravel(), b["W"][e].numpy().ravel()
        assert cos["cos_W"][e].item() == pytest.approx(
            w[0] @ w[1] / np.linalg.norm(w[0]) / np.linalg.norm(w[1]), rel=1e-6)


def test_cli_trains_with_a_rule_and_its_options(tmp_path, capsys):
    from rnnrank.cli import main

    out = tmp_path / "ep"
    code = main(["train", "--task", "sine", "--task-option", "duration=8.0", "--rule", "eprop",
                 "--rule-option", "feedback=random", "--gain", "0.5", "--n-rec", "8",
                 "--steps", "2", "--batch-size", "2", "--dt", "0.5", "--json", "--out",
                 str(out)])
    assert code == 0
    config = RunDir(out).read_config()["train"]
    assert config["rule"] == "eprop" and config["rule_options"]["feedback"] == "random"
    assert main(["train", "--task", "sine", "--rule", "eprop", "--rule-option",
                 "feedback=mirror", "--steps", "1", "--out", str(tmp_path / "bad")]) == 2


def test_a_run_saved_before_track_alignment_existed_still_resumes(tmp_path):
    from rnnrank.store.atomic import write_yaml_atomic

    task = rr.tasks.make("sine", duration=8.0, dt=0.5)

    def fresh():
        return rr.RateRNN(task.n_in, 6, task.n_out, seed=0, dt=0.5)
    kw = dict(lr=1e-2, batch_size=2, record_every=1, checkpoint_every=1)
    rr.train(fresh(), task, steps=2, out=tmp_path, **kw)
    run = RunDir(tmp_path)
    config = run.read_config()
    del config["train"]["track_alignment"]  # as written by an older rnnrank
    write_yaml_atomic(run.config_path, config)
    assert rr.train(fresh(), task, steps=3, out=tmp_path, **kw).status == "completed"
