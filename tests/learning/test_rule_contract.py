"""Contract over every registered learning rule × every model: one loop trains them all.

For each pair the rule either declares it cannot train the model (and ``rr.train`` refuses with a
message) or: its gradients are named and shaped like the trainable parameters and finite; a run
is determined by its seed; and the training loss falls on an easy problem (mean of the last five
updates vs the first five — a window, not one noisy batch; BPTT measured 0.005–0.03 against the
bound 0.7, e-prop 0.007–0.02, FA 0.014–0.07, RFLO 0.015–0.08, identical under
ATEN_CPU_CAPABILITY=default and 2 threads). Rules whose traces are derived for the rate step
(e-prop, RFLO, FA) declare they cannot train the LSTM.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.learning import make_rule
from rnnrank.learning.rules import available_rules
from rnnrank.losses import masked_mse

RULES = [name for name in available_rules() if not name.startswith("_")]  # "_": test doubles
TASK = dict(n_bits=1, duration=10.0, interval=(3.0, 6.0), settle=1.0, dt=0.5)


def _model(kind: str):
    if kind == "rate":
        return rr.RateRNN(1, 24, 1, gain=0.9, seed=0, dt=0.5)
    if kind == "rate_ensemble":
        return rr.RateRNN(1, 24, 1, gain=[0.5, 1.2], seed=[0, 1], dt=0.5)
    return rr.models.LSTMNet(1, 16, 1, n_layers=1, dropout=0.0, seed=0)


@pytest.mark.parametrize("kind", ["rate", "rate_ensemble", "lstm"])
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_trains_every_model(rule, kind):
    task = rr.tasks.make("flipflop", **TASK)
    model = _model(kind)
    rule_obj = make_rule(rule)
    if not rule_obj.supports(model):
        with pytest.raises(ValueError, match="cannot train"):
            rr.train(model, task, rule=rule, steps=1)
        return
    rule_obj.init(model, torch.Generator().manual_seed(0))
    batch = task.sample(8, generator=torch.Generator().manual_seed(0))
    res = rule_obj.gradients(model, batch, noise=None,
                             loss_fn=lambda y: masked_mse(y, batch.targets, batch.mask))
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert set(res.grads) <= set(trainable) and res.grads
    for name, g in res.grads.items():
        assert g.shape == trainable[name].shape and bool(torch.isfinite(g).all()), name
    assert res.loss.shape == (model.ensemble_size,)

    runs = [rr.train(_model(kind), task, rule=rule, steps=60, lr=1e-2, batch_size=16,
                     record_every=30, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(np.asarray(runs[0].trajectory.weights),
                                  np.asarray(runs[1].trajectory.weights))
    model = _model(kind)
    rows = []
    rr.train(model, task, rule=rule, steps=60, lr=1e-2, batch_size=16, record_every=60, seed=3,
             hooks=[_LossLog(rows)])
    loss = np.array(rows)  # [updates, E]
    assert np.all(loss[-5:].mean(0) < 0.7 * loss[:5].mean(0)), loss[[0, -1]]


class _LossLog(rr.learning.TrainingHook):
    """Records each update's loss on its batch (what the rule trains on) through the hook API."""

    name = "_loss_log"

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def extra_gradients(self, model, batch, step):
        with torch.no_grad():
            outputs, _ = model.run(batch.inputs, grad=False)
            self.rows.append(masked_mse(outputs, batch.targets, batch.mask).numpy())
        return {}
