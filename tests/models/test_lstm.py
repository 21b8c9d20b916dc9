"""LSTMNet through the generic trainer: it learns, records W(k), and is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.models import LSTMNet


def _train(tmp_path=None, steps=40):
    task = rr.tasks.make("sentiment", length=8, vocab=60)
    model = LSTMNet(task.n_in, 24, task.n_out, dropout=0.5, seed=1)
    return rr.train(model, task, steps=steps, lr=1e-2, batch_size=32, record_every=10,
                    out=tmp_path)


def test_lstm_trains_and_records(tmp_path):
    run = _train(tmp_path / "lstm")
    traj = rr.load_trajectory(tmp_path / "lstm")
    assert traj.weights.shape == (5, 4 * 24, 24)  # W = weight_hh_l1, gates stacked
    np.testing.assert_array_equal(traj.weights[-1], run.model.lstm.weight_hh_l1.detach().numpy())
    assert traj.loss[-1] < traj.loss[0]
    assert "lstm_weight_ih_l0" in traj.names


def test_lstm_dropout_is_seeded_by_the_trainer():
    a, b = _train(steps=10), _train(steps=10)
    np.testing.assert_array_equal(np.asarray(a.trajectory.weights),
                                  np.asarray(b.trajectory.weights))


def test_lstm_evaluation_is_deterministic_and_validates():
    model = LSTMNet(3, 8, 2, dropout=0.5)
    x = torch.randn(5, 4, 3)
    torch.testing.assert_close(model.run(x, grad=False)[0], model.run(x, grad=False)[0])
    with pytest.raises(ValueError, match="dropout must be in"):
        LSTMNet(3, 8, 2, dropout=1.0)
    with pytest.raises(ValueError, match="inputs \\[T, B, I\\]"):
        model.run(torch.zeros(5, 1, 4, 3))


def test_forget_bias_shifts_only_the_forget_gates():
    from rnnrank.models.lstm import LSTMNet

    a = dict(LSTMNet(4, 5, 2, n_layers=2, seed=3).named_parameters())
    b = dict(LSTMNet(4, 5, 2, n_layers=2, seed=3, forget_bias=1.0).named_parameters())
    for name in a:
        shift = torch.zeros_like(a[name])
        if name.startswith("lstm.bias_ih_l"):
            shift[5:10] = 1.0  # gates stacked (i, f, g, o), H = 5: f is rows 5..9
        torch.testing.assert_close(b[name] - a[name], shift, rtol=0, atol=1e-6)  # float32 add
