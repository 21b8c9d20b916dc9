"""The recurrence operator and the step's Jacobian against dense matrices built in the test."""

from __future__ import annotations

import pytest
import torch

from rnnrank.models import rate_dynamics as rd
from rnnrank.models import recurrence as rec
from rnnrank.nonlinearities import get_nonlinearity

E, B, N, R, I = 2, 3, 7, 2, 2


def _dense_per_trial(a, b, c):
    """J[e, k] = Σ_r c[e, k, r] a[e, :, r] b[e, :, r]ᵀ by explicit sums of outer products."""
    J = torch.zeros(E, B, N, N, dtype=a.dtype)
    for e in range(E):
        for k in range(B):
            for r in range(R):
                J[e, k] += c[e, k, r] * torch.outer(a[e, :, r], b[e, :, r])
    return J


@pytest.fixture
def factors(gen):
    a = torch.randn(E, N, R, generator=gen, dtype=torch.float64)
    b = torch.randn(E, N, R, generator=gen, dtype=torch.float64)
    c = torch.randn(E, B, R, generator=gen, dtype=torch.float64)
    return rec.Factorised(a, b, c)


def _params(W, gen):
    U = torch.randn(E, N, I, generator=gen, dtype=torch.float64)
    V = torch.randn(E, 1, N, generator=gen, dtype=torch.float64)
    bias = torch.randn(E, N, generator=gen, dtype=torch.float64)
    x0 = torch.randn(E, N, generator=gen, dtype=torch.float64)
    return rd.RateParams(W, U, V, bias, x0)


def test_factorised_products_equal_dense(factors, gen):
    J = _dense_per_trial(*factors)
    r = torch.randn(E, B, N, generator=gen, dtype=torch.float64)
    cols = torch.randn(E, B, N, 4, generator=gen, dtype=torch.float64)
    # float64 products of O(1) numbers over N = 7 terms: agreement to round-off (1e-12)
    torch.testing.assert_close(rec.apply(factors, r), torch.einsum("ebnm,ebm->ebn", J, r),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(rec.apply_t(factors, r), torch.einsum("ebnm,ebn->ebm", J, r),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(rec.apply_cols(factors, cols), J @ cols, rtol=0, atol=1e-12)
    torch.testing.assert_close(rec.as_dense(factors), J, rtol=0, atol=1e-12)
    shared = rec.Factorised(factors.a, factors.b, factors.c[:, 0])
    torch.testing.assert_close(rec.as_dense(shared), J[:, 0], rtol=0, atol=1e-12)


def test_factorised_unroll_equals_dense_trial_by_trial(factors, gen):
    """The fast graph-free unroll with J = Σ c_r a_r b_rᵀ equals plain steps with dense J(k)."""
    phi = get_nonlinearity("tanh")
    params = _params(factors, gen)
    inputs = torch.randn(6, B, I, generator=gen, dtype=torch.float64)
    states, _ = rd.unroll_states(params, inputs, alpha=0.3, phi=phi)
    J = _dense_per_trial(*factors)
    for k in range(B):
        dense = params._replace(W=J[:, k])
        x = rd.initial_state(dense, 1)
        for t in range(inputs.shape[0]):
            x = rd.step(dense, x, inputs[t, k:k + 1], alpha=0.3, phi=phi)
        torch.testing.assert_close(states[-1][:, k], x[:, 0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "softplus", "identity"])
@pytest.mark.parametrize("factorised", [False, True])
def test_jacobian_equals_autograd_of_step(nonlinearity, factorised, factors, gen):
    phi = get_nonlinearity(nonlinearity)
    W = factors if factorised else torch.randn(E, N, N, generator=gen, dtype=torch.float64)
    params = _params(W, gen)
    x = torch.randn(E, B, N, generator=gen, dtype=torch.float64)
    u = torch.randn(B, I, generator=gen, dtype=torch.float64)
    J = rd.jacobian(params, x, alpha=0.2, phi=phi)
    full = torch.autograd.functional.jacobian(
        lambda s: rd.step(params, s, u, alpha=0.2, phi=phi), x)  # [E,B,N, E,B,N]
    for e in range(E):
        for k in range(B):
            torch.testing.assert_close(J[e, k], full[e, k, :, e, k], rtol=0, atol=1e-12)
    v = torch.randn(E, B, N, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(rd.jvp(params, x, v, alpha=0.2, phi=phi), J @ v,
                               rtol=0, atol=1e-12)
    lam = torch.randn(E, B, N, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(rd.vjp(params, x, lam, alpha=0.2, phi=phi),
                               torch.einsum("ebn,ebnm->ebm", lam, J), rtol=0, atol=1e-12)
