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


def _lstm_by_hand(model: LSTMNet, x: torch.Tensor) -> torch.Tensor:
    """The LSTM equations written out (PyTorch's gate order i, f, g, o), no dropout."""
    h_in = x
    for layer in range(model.config.n_layers):
        w_ih, w_hh = (getattr(model.lstm, f"weight_{k}_l{layer}") for k in ("ih", "hh"))
        bias = getattr(model.lstm, f"bias_ih_l{layer}") + getattr(model.lstm, f"bias_hh_l{layer}")
        H = w_hh.shape[1]
        h = torch.zeros(x.shape[1], H, dtype=x.dtype)
        c = torch.zeros_like(h)
        outs = []
        for t in range(x.shape[0]):
            z = h_in[t] @ w_ih.T + h @ w_hh.T + bias
            i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        h_in = torch.stack(outs)
    return h_in @ model.readout.weight.T + model.readout.bias


def test_lstm_evaluation_is_the_lstm_equations_and_dropout_is_seeded():
    model = LSTMNet(3, 8, 2, dropout=0.5, seed=2, dtype=torch.float64)
    x = torch.randn(5, 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        # evaluation (no dropout) = the equations computed by hand, to float64 round-off
        torch.testing.assert_close(model.run(x, grad=False)[0][:, 0], _lstm_by_hand(model, x),
                                   rtol=0, atol=1e-12)
        seed_a, seed_b = torch.tensor([11]), torch.tensor([12])
        a1, a2 = model.run(x, noise=seed_a)[0], model.run(x, noise=seed_a)[0]
        b = model.run(x, noise=seed_b)[0]
    torch.testing.assert_close(a1, a2, rtol=0, atol=0)  # the same dropout seed, the same masks
    assert not torch.allclose(a1, b)  # another seed drops other units (between the 2 layers)
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
