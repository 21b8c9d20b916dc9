"""The hot loops' φ (``apply_into``) against float64 references, on every CPU code path it takes."""

from __future__ import annotations

import math
import platform

import pytest
import torch

import rnnrank.nonlinearities as nl
from rnnrank.nonlinearities import get_nonlinearity, tanh_into, tanh_route


def _grid() -> torch.Tensor:
    """Values across tanh's range: tiny, around the knee, saturated, ±inf."""
    gen = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(20_000, generator=gen, dtype=torch.float64) * 3,
                      torch.logspace(-12, 1.5, 2_000, dtype=torch.float64),
                      -torch.logspace(-12, 1.5, 2_000, dtype=torch.float64),
                      torch.tensor([0.0, 1e-30, 20.0, -20.0, 88.0, -88.0, math.inf, -math.inf],
                                   dtype=torch.float64)])


@pytest.mark.parametrize("route", ["sigmoid", "exp", "tanh"])
@pytest.mark.parametrize("dtype, atol", [(torch.float32, 2.5e-7), (torch.float64, 1e-15)])
def test_tanh_into_is_tanh_to_float_round_off(route, dtype, atol, monkeypatch):
    """Each route, whichever this machine's CPU path would pick (float64 keeps torch.tanh)."""
    if dtype == torch.float32:
        monkeypatch.setattr(nl, "tanh_route", lambda x: route)
    x64 = _grid()
    x = x64.to(dtype)
    out = torch.empty_like(x)
    tanh_into(x, out)
    # the reference: tanh of the same (rounded) inputs, in float64
    err = (out.double() - torch.tanh(x.double())).abs()
    assert err.max().item() <= atol  # float32: 2 ulp of 1, whichever route ran
    assert out.abs().max().item() <= 1.0
    assert torch.equal(out[x == 0], torch.zeros_like(out[x == 0]))


@pytest.mark.parametrize("route", ["sigmoid", "exp", "tanh"])
def test_tanh_into_may_write_over_its_input_and_keeps_nan(route, monkeypatch):
    monkeypatch.setattr(nl, "tanh_route", lambda x: route)
    x = torch.tensor([0.3, -2.0, math.nan, 5.0, 60.0, -60.0])
    expected = torch.tanh(x.double())
    tanh_into(x, x)
    assert torch.isnan(x[2])
    keep = ~torch.isnan(expected)
    assert (x.double()[keep] - expected[keep]).abs().max().item() <= 2.5e-7


def test_fast_routes_only_for_float32_on_x86():
    cap = torch.backends.cpu.get_cpu_capability()
    expected = {"AVX2": "sigmoid", "AVX512": "sigmoid", "DEFAULT": "exp"}.get(cap, "tanh")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    assert tanh_route(torch.zeros(1)) == (expected if x86 else "tanh")
    assert tanh_route(torch.zeros(1, dtype=torch.float64)) == "tanh"


def test_registered_tanh_uses_it_in_the_hot_loops():
    phi = get_nonlinearity("tanh")
    x = torch.linspace(-4, 4, 101)
    out = torch.empty_like(x)
    phi.apply_into(x, out)
    assert (out.double() - torch.tanh(x.double())).abs().max().item() <= 2.5e-7
