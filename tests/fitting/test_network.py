"""A fit's network on trial k is a RateRNN: it reproduces the fit's own predictions, and the
dynamics analyses run on it (Lyapunov exponents of a linear fit = log|eig| of its step)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.fitting.network import preparatory_inputs


@pytest.fixture(scope="module")
def fits():
    """Short fits (float64) of a planted rank-2 teacher, tanh and linear (~2 s)."""
    rec, _ = rr.fitting.ltr_teacher(T=12, K=16, n=10, N=14, rank=2, seed=0)
    opts = rr.fitting.FitOptions(max_iter=30)
    return {phi: rr.fitting.fit_ltr(rec, 2, n_rec=14, nonlinearity=phi, options=opts,
                                    dtype=torch.float64)
            for phi in ("tanh", "identity")}


@pytest.mark.parametrize("k", [0, 9])
def test_the_network_of_trial_k_reproduces_the_fit(fits, k):
    fit = fits["tanh"]
    rec = fit.recording
    cond = int(rec.condition[k])
    net = fit.network(k, condition=cond)
    T, n_prep = rec.shape[0], fit.cfg.n_prep
    u = preparatory_inputs(fit, cond, n_prep + T - 1)
    outputs, _ = net.run(u, grad=False)
    # RateRNN's outputs follow each step; the state after j steps is recorded bin j − n_prep
    # (x0 itself is bin −n_prep), so bin t is output n_prep + t − 1 — plus the readout offset d.
    x0_out = fit.readout.double() @ torch.tanh(net.x0.double())
    y = torch.cat([x0_out[None], outputs[:, 0, 0].double()])[n_prep:]
    want = fit.predict()[:, k].double() - fit.params["d"].double()
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=0, atol=1e-9)  # float64 round-off


def test_lyapunov_exponents_of_a_linear_fit_over_trials_are_log_eigenvalues(fits):
    fit = fits["identity"]
    c, a, b = (t.double() for t in fit.factors)
    trials = [0, 7, 15]
    net = fit.network(trials)
    assert net.ensemble_size == 3
    les = rr.dynamics.lyapunov_spectrum(net, k=2, steps=3000, warmup=300)
    alpha = fit.cfg.alpha
    for e, k in enumerate(trials):  # independent truth: the eigenvalues of the Euler step
        step = (1 - alpha) * np.eye(14) + alpha * ((a * c[k]) @ b.T).numpy()
        want = np.sort(np.log(np.abs(np.linalg.eigvals(step))))[::-1][:2]
        np.testing.assert_allclose(les[e].numpy(), want, atol=2e-3)


def test_bad_trials_and_conditions_are_refused(fits):
    fit = fits["tanh"]
    with pytest.raises(ValueError, match="trials must index the fit's 16 trials"):
        fit.network(16)
    with pytest.raises(ValueError, match="condition must be in"):
        fit.network(0, condition=99)
