"""The hot loops' φ (``apply_into``) against float64 references, on every CPU code path it takes."""

from __future__ import annotations

import math

import pytest
import torch

from rnnrank.nonlinearities import fast_tanh_applies, get_nonlinearity, tanh_into


def _grid() -> torch.Tensor:
    """Values across tanh's range: tiny, around the knee, saturated, ±inf."""
    gen = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(20_000, generator=gen, dtype=torch.float64) * 3,
                      torch.logspace(-12, 1.5, 2_000, dtype=torch.float64),
                      -torch.logspace(-12, 1.5, 2_000, dtype=torch.float64),
                      torch.tensor([0.0, 1e-30, 20.0, -20.0, 88.0, -88.0, math.inf, -math.inf],
                                   dtype=torch.float64)])


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 2.5e-7), (torch.float64, 1e-15)])
def test_tanh_into_is_tanh_to_float_round_off(dtype, atol):
    x64 = _grid()
    x = x64.to(dtype)
    out = torch.empty_like(x)
    tanh_into(x, out)
    # the reference: tanh of the same (rounded) inputs, in float64
    err = (out.double() - torch.tanh(x.double())).abs()
    assert err.max().item() <= atol  # float32: 2 ulp of 1, whichever route ran
    assert out.abs().max().item() <= 1.0
    assert torch.equal(out[x == 0], torch.zeros_like(out[x == 0]))


def test_tanh_into_may_write_over_its_input_and_keeps_nan():
    x = torch.tensor([0.3, -2.0, math.nan, 5.0])
    expected = torch.tanh(x.double())
    tanh_into(x, x)
    assert torch.isnan(x[2])
    keep = ~torch.isnan(expected)
    assert (x.double()[keep] - expected[keep]).abs().max().item() <= 2.5e-7


def test_fast_route_only_for_float32_on_a_vectorised_cpu():
    cap = torch.backends.cpu.get_cpu_capability()
    assert fast_tanh_applies(torch.zeros(1)) == (cap in ("AVX2", "AVX512"))
    assert not fast_tanh_applies(torch.zeros(1, dtype=torch.float64))


def test_registered_tanh_uses_it_in_the_hot_loops():
    phi = get_nonlinearity("tanh")
    x = torch.linspace(-4, 4, 101)
    out = torch.empty_like(x)
    phi.apply_into(x, out)
    assert (out.double() - torch.tanh(x.double())).abs().max().item() <= 2.5e-7
