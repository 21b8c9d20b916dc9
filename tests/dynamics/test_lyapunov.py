"""Lyapunov spectra against independent truths (REFERENCES.md §4), all in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import digamma

import rnnrank as rr
from rnnrank.dynamics import System, as_system, benettin, lyapunov_max, lyapunov_spectrum
from rnnrank.models import rate_dynamics as rd
from rnnrank.models.lstm import LSTMNet

F64 = torch.float64


def _linear_exponents(model) -> torch.Tensor:
    """log|eig((1 − α) I + α W)|, sorted descending: the exponents of the linear map."""
    N = model.n_rec
    M = (1 - model.alpha) * torch.eye(N, dtype=F64) + model.alpha * model.W.detach()
    return torch.linalg.eigvals(M).abs().log().sort(descending=True).values


def test_linear_network_exponents_are_log_moduli_of_the_one_step_map():
    model = rr.RateRNN(1, 12, 1, gain=0.8, seed=1, nonlinearity="identity", dtype=F64)
    les = lyapunov_spectrum(model, k=12, steps=2000, warmup=200, n_init=2)
    # complex pairs converge as O(1/steps): 2000 steps give ~1e-4 (measured); 1e-3 is 10x margin
    torch.testing.assert_close(les, _linear_exponents(model), rtol=0, atol=1e-3)


def test_contracting_tanh_network_equals_its_linearisation_at_zero():
    """g < 1 and no input: the state decays to 0, where the Jacobian is (1 − α) I + α W."""
    model = rr.RateRNN(1, 24, 1, gain=0.6, seed=3, dtype=F64)
    les = lyapunov_spectrum(model, k=6, steps=3000, warmup=500, n_init=2)
    # warm-up transient (|x| ~ e^{-0.03·500}) is negligible; O(1/steps) pair error ~1e-4
    torch.testing.assert_close(les, _linear_exponents(model)[:6], rtol=0, atol=1e-3)


def _newman(N: int, s: float) -> np.ndarray:
    """Newman (1986): exponents of products of i.i.d. N(0, s²/N) matrices, exactly."""
    i = np.arange(1, N + 1)
    return np.log(s) + 0.5 * (np.log(2.0 / N) + digamma((N - i + 1) / 2))


def test_products_of_gaussian_matrices_match_newmans_formula():
    N, s, B, steps = 8, 1.5, 16, 3000
    gen = torch.Generator().manual_seed(0)

    def tangent(x, u, Q):  # a fresh i.i.d. Gaussian matrix per step and trajectory
        M = torch.randn(1, B, N, N, generator=gen, dtype=F64) * s / np.sqrt(N)
        return M @ Q

    system = System(step=lambda x, u: x, tangent=tangent, jacobian=None, E=1, dim=N, n_in=0,
                    dt=None, dtype=F64, device=torch.device("cpu"))
    Q = torch.linalg.qr(torch.randn(1, B, N, N, generator=gen, dtype=F64))[0]
    _, _, sums = benettin(system, torch.zeros(1, B, N, dtype=F64), Q, lambda t: None, steps)
    les = (sums.sum(0) / steps).mean((0, 1)).numpy()
    # per-step log-stretch has sd ≲ 0.7; over 3000·16 samples the s.e. is ≲ 0.004: 0.02 is 5 s.e.
    np.testing.assert_allclose(les, _newman(N, s), rtol=0, atol=0.02)


def test_sum_of_exponents_is_the_time_average_of_log_det_jacobian():
    model = rr.RateRNN(1, 16, 1, gain=2.0, seed=2, dtype=F64)
    system = as_system(model)
    x = torch.randn(1, 3, 16, generator=torch.Generator().manual_seed(1), dtype=F64)
    Q = torch.eye(16, dtype=F64).expand(1, 3, 16, 16)
    u = torch.zeros(3, 1, dtype=F64)
    _, _, sums = benettin(system, x, Q, lambda t: u, 300)
    logdet, p = 0.0, model.params()
    for _ in range(300):  # brute force: the explicit Jacobian's determinant at every step
        J = rd.jacobian(rd.RateParams(*(v.detach() for v in p)), x, alpha=model.alpha,
                        phi=model.phi)
        logdet = logdet + torch.linalg.slogdet(J)[1]
        x = rd.step(p, x, u, alpha=model.alpha, phi=model.phi).detach()
    # an identity up to round-off of 300 QRs and determinants (float64: ~1e-12 relative)
    torch.testing.assert_close(sums.sum((0, -1)), logdet, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("renorm_every", [1, 7])
def test_qr_sums_are_log_volumes_of_the_explicit_jacobian_product(renorm_every):
    """Σ_{j≤i} log R_jj = log vol_i(M Q0[:, :i]) with M = J_T ⋯ J_1 built densely; and
    the exponents approach (1/T) log σ_i(M)."""
    N, k, T = 12, 5, 40
    model = rr.RateRNN(1, N, 1, gain=1.8, seed=5, dtype=F64)
    system = as_system(model)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 1, N, generator=gen, dtype=F64)
    Q0 = torch.linalg.qr(torch.randn(1, 1, N, k, generator=gen, dtype=F64))[0]
    u = torch.zeros(1, 1, dtype=F64)
    _, _, sums = benettin(system, x, Q0, lambda t: u, T, renorm_every=renorm_every)
    M = torch.eye(N, dtype=F64)
    for _ in range(T):
        M = system.jacobian(x, u)[0, 0] @ M
        x = system.step(x, u)
    MQ = M @ Q0[0, 0]
    volumes = [0.5 * torch.linalg.slogdet(MQ[:, :i].T @ MQ[:, :i])[1] for i in range(1, k + 1)]
    # exact identity; round-off of T steps in float64 is ~1e-12 (cond grows as e^{T Δλ})
    torch.testing.assert_close(sums.sum(0)[0, 0].cumsum(0), torch.stack(volumes),
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("g", [2.0, 3.0])
def test_discrete_tanh_map_matches_mean_field_lambda_max(g):
    """h ← W tanh(h) (dt = τ): λ_max = ½ ln(g² ⟨φ′(h)²⟩), h ~ N(0, Δ), Δ = g² ⟨φ(h)²⟩
    (Molgedey, Schuchhardt & Schuster 1992), by Gauss–Hermite quadrature here."""
    z, w = np.polynomial.hermite_e.hermegauss(101)
    w = w / w.sum()
    delta = 1.0
    for _ in range(500):
        delta = g * g * np.sum(w * np.tanh(np.sqrt(delta) * z) ** 2)
    theory = 0.5 * np.log(g * g * np.sum(w * (1 - np.tanh(np.sqrt(delta) * z) ** 2) ** 2))
    model = rr.RateRNN(1, 300, 1, gain=g, seed=[0, 1, 2, 3], dt=1.0, tau=1.0, dtype=F64)
    les = lyapunov_max(model, steps=1000, warmup=200, n_init=2)
    # measured 0.150 vs 0.155 (g=2), 0.302 vs 0.312 (g=3): finite N = 300 lowers λ by ~O(1/N)
    # and the s.e. is ~0.002; 0.025 covers both with margin
    assert abs(float(les.mean()) - theory) < 0.025


def test_ensemble_members_equal_single_networks_and_units():
    ens = rr.RateRNN(1, 16, 1, gain=[0.5, 1.8], seed=[0, 1], dtype=F64)
    kw = dict(k=3, steps=400, warmup=100, seed=4)
    les = lyapunov_spectrum(ens, **kw)
    assert les.shape == (2, 3)
    for e, (g, s) in enumerate([(0.5, 0), (1.8, 1)]):
        single = rr.RateRNN(1, 16, 1, gain=g, seed=s, dtype=F64)
        one = lyapunov_spectrum(single, **kw)
        # same seed draws different x0 for E=1 than for E=2, so compare estimates, not bits:
        # s.e. over 400 steps ≲ 0.01 for these sizes
        torch.testing.assert_close(les[e], one, rtol=0, atol=0.02)
    per_time = lyapunov_spectrum(ens, per="time", **kw)
    torch.testing.assert_close(per_time, les / ens.config.dt, rtol=1e-12, atol=0)


def test_driven_by_task_inputs_and_full_result():
    task = rr.tasks.make("flipflop", n_bits=2)
    model = rr.RateRNN(task.n_in, 32, task.n_out, gain=0.5, seed=0, dtype=F64)
    inputs = task.sample(3, generator=torch.Generator().manual_seed(0)).inputs
    res = lyapunov_spectrum(model, k=4, inputs=inputs, steps=300, warmup=50, full=True)
    assert res.per_trajectory.shape == (1, 3, 4) and res.windows.shape == (10, 1, 3, 4)
    # g = 0.5: contracting; the input only moves the state, so λ_1 ≤ log(1 − α + α·g·(1+2/√N))
    bound = np.log(1 - model.alpha + model.alpha * 0.5 * (1 + 2 / np.sqrt(32)))
    assert float(res.exponents[0]) < bound
    assert torch.all(res.exponents[:-1] >= res.exponents[1:])


def test_lstm_step_matches_torch_lstm_and_its_spectrum_the_dense_jacobian():
    net = LSTMNet(3, 6, 2, n_layers=2, seed=0, dtype=F64)
    u = torch.randn(20, 4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    with torch.no_grad():
        ref, _ = net.lstm.eval()(u)
        x = torch.zeros(1, 4, net.state_size, dtype=F64)
        hs = []
        for t in range(20):
            x = net.step(x, u[t])
            hs.append(x[0, :, 2 * 6:3 * 6])  # the last layer's h
    torch.testing.assert_close(torch.stack(hs), ref, rtol=0, atol=1e-12)
    system = as_system(net)
    x = torch.randn(1, 2, net.state_size, generator=torch.Generator().manual_seed(1), dtype=F64)
    dense = torch.autograd.functional.jacobian(lambda s: net.step(s[None], u[0, :2])[0], x[0])
    dense = torch.stack([dense[b, :, b, :] for b in range(2)])
    torch.testing.assert_close(system.jacobian(x, u[0, :2])[0], dense, rtol=0, atol=1e-12)
    Q = torch.randn(1, 2, net.state_size, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(system.tangent(x, u[0, :2], Q)[0], dense @ Q[0], rtol=0,
                               atol=1e-12)
    assert lyapunov_spectrum(net, k=3, steps=10, warmup=2, n_init=1).shape == (3,)


def test_bad_arguments_say_what_was_expected():
    model = rr.RateRNN(2, 8, 1, dtype=F64)
    with pytest.raises(ValueError, match="k must be an integer in 1..8"):
        lyapunov_spectrum(model, k=9)
    with pytest.raises(ValueError, match=r"inputs must be \[T, B, 2\]"):
        lyapunov_spectrum(model, k=1, inputs=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="per must be one of"):
        lyapunov_spectrum(model, k=1, per="second")
    with pytest.raises(TypeError, match="has no system()"):
        lyapunov_spectrum(torch.nn.Linear(2, 2), k=1)
