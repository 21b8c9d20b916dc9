"""Pointwise nonlinearities φ of the rate network, with their derivatives φ′.

A nonlinearity is registered by name so that models, learning rules (which need φ′ for
eligibility traces and hand-derived backward passes) and the Lyapunov machinery (which needs the
Jacobian (1−α)I + α W diag(φ′(x))) all share one definition::

    phi = get_nonlinearity("tanh")
    r = phi.f(x); d = phi.df(x, r)        # d = φ′(x), given r = φ(x) when that is cheaper

Add one with ``register_nonlinearity(Nonlinearity("name", f, df))``.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Nonlinearity:
    """A pointwise map φ and its derivative.

    Attributes:
        name: registry key.
        f: ``f(x) -> φ(x)``, elementwise.
        f_out: optional ``f_out(x, out)`` writing φ(x) into ``out`` (hot loops use it).
        df_out: optional ``df_out(x, r, out)`` writing φ′(x) into ``out``.
        df: ``df(x, r) -> φ′(x)``, elementwise; ``r = φ(x)`` is passed so that e.g. tanh can use
            ``1 − r²`` without recomputing.
    """

    name: str
    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor, Tensor], Tensor]
    f_out: Callable[[Tensor, Tensor], Tensor] | None = None
    df_out: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None

    def apply_into(self, x: Tensor, out: Tensor) -> Tensor:
        """Write φ(x) into ``out`` without a temporary when the op supports ``out=``."""
        if self.f_out is not None:
            return self.f_out(x, out)
        return out.copy_(self.f(x))

    def derivative_into(self, x: Tensor, r: Tensor, out: Tensor) -> Tensor:
        """Write φ′(x) into ``out`` (``r = φ(x)``), without temporaries where possible.

        ``out`` may be ``x`` itself (the BPTT pass overwrites the states with φ′): a ``df_out``
        must not read ``x`` after it starts writing ``out``.
        """
        if self.df_out is not None:
            return self.df_out(x, r, out)
        return out.copy_(self.df(x, r))


_REGISTRY: dict[str, Nonlinearity] = {}


def register_nonlinearity(phi: Nonlinearity) -> Nonlinearity:
    """Add ``phi`` to the registry (an existing name is replaced) and return it."""
    _REGISTRY[phi.name] = phi
    return phi


def get_nonlinearity(name: str | Nonlinearity) -> Nonlinearity:
    """Look a nonlinearity up by name; a ``Nonlinearity`` passes through unchanged."""
    if isinstance(name, Nonlinearity):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown nonlinearity {name!r}; choose one of {sorted(_REGISTRY)} "
            "or register your own with rnnrank.nonlinearities.register_nonlinearity"
        ) from None


def available_nonlinearities() -> list[str]:
    return sorted(_REGISTRY)


def _tanh_derivative_into(x: Tensor, r: Tensor, out: Tensor) -> Tensor:
    # 1 − r² in one fused pass (addcmul: one + (−1)·r·r), no temporaries
    return torch.addcmul(torch.ones((), dtype=r.dtype, device=r.device), r, r, value=-1.0,
                         out=out)


# ATen's float32 tanh on CPU is not vectorised on any code path of torch 2.13 (135-143 µs for
# 65 536 values under default, avx2 and avx512 alike; AMD EPYC). Two exact identities are faster
# (benchmarks/bench_sweep.py --kernels measures them): under avx2/avx512, whose sigmoid is
# vectorised, tanh x = 2σ(2x) − 1 (four passes: 28-43 µs); under default, whose exp is the only
# fast op, tanh x = 1 − 2/(e^{2x} + 1) (six passes: 106 µs). Their float32 round-off is absolute,
# ≤ 1.8e-7 (1.5 ulp of 1) against 3e-8 for torch.tanh — the size of the round-off of the recurrent
# product W φ(x) this feeds — so the hot loops take them. float64 (the theory tests' dtype), other
# architectures (unmeasured) and the autograd path keep torch.tanh.
_TANH_ROUTES = {"AVX2": "sigmoid", "AVX512": "sigmoid", "DEFAULT": "exp"}


@functools.cache
def _cpu_tanh_route() -> str:
    """This process's float32 CPU route (the code path is fixed when torch loads)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "tanh"
    return _TANH_ROUTES.get(torch.backends.cpu.get_cpu_capability(), "tanh")


def tanh_route(x: Tensor) -> str:
    """How ``tanh_into`` computes tanh of ``x``: "sigmoid", "exp" or "tanh" (torch.tanh)."""
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return "tanh"
    return _cpu_tanh_route()


def tanh_into(x: Tensor, out: Tensor) -> Tensor:
    """tanh(x) written into ``out`` (``out`` may be ``x``), by the fastest exact route."""
    route = tanh_route(x)
    if route == "sigmoid":
        torch.mul(x, 2.0, out=out)
        torch.sigmoid(out, out=out)
        return out.mul_(2.0).sub_(1.0)
    if route == "exp":  # e^{2x} overflows to inf for x > 44: 1 − 2/inf = 1, as it should
        torch.mul(x, 2.0, out=out)
        out.exp_().add_(1.0).reciprocal_()
        return out.mul_(-2.0).add_(1.0)
    return torch.tanh(x, out=out)


register_nonlinearity(Nonlinearity("tanh", torch.tanh, lambda x, r: 1.0 - r * r,
                                   tanh_into, _tanh_derivative_into))
register_nonlinearity(Nonlinearity("relu", torch.relu, lambda x, r: (x > 0).to(x.dtype),
                                   lambda x, out: torch.clamp(x, min=0.0, out=out)))
register_nonlinearity(
    Nonlinearity("softplus", torch.nn.functional.softplus, lambda x, r: torch.sigmoid(x))
)
register_nonlinearity(Nonlinearity("identity", lambda x: x, lambda x, r: torch.ones_like(x),
                                   lambda x, out: out.copy_(x)))

# retanh: φ(x) = max(tanh x, 0), φ′(x) = (1 − tanh² x)·[x > 0] — the rectified tanh of the Liu
# lab's CTRNN (Helena-Yuhan-Liu/LearningRuleSimilarities, model_architectures.py,
# activation_function='retanh'; REFERENCES §3). For x > 0, r = tanh x, so φ′ = 1 − r².
register_nonlinearity(Nonlinearity("retanh", lambda x: torch.tanh(x).clamp(min=0.0),
                                   lambda x, r: (x > 0).to(x.dtype) * (1.0 - r * r)))
