"""Pointwise nonlinearities φ of the rate network, with their derivatives φ′.

A nonlinearity is registered by name so that models, learning rules (which need φ′ for
eligibility traces and hand-derived backward passes) and the Lyapunov machinery (which needs the
Jacobian (1−α)I + α W diag(φ′(x))) all share one definition::

    phi = get_nonlinearity("tanh")
    r = phi.f(x); d = phi.df(x, r)        # d = φ′(x), given r = φ(x) when that is cheaper

Add one with ``register_nonlinearity(Nonlinearity("name", f, df))``.
"""

from __future__ import annotations

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
        df: ``df(x, r) -> φ′(x)``, elementwise; ``r = φ(x)`` is passed so that e.g. tanh can use
            ``1 − r²`` without recomputing.
    """

    name: str
    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor, Tensor], Tensor]


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


register_nonlinearity(Nonlinearity("tanh", torch.tanh, lambda x, r: 1.0 - r * r))
register_nonlinearity(Nonlinearity("relu", torch.relu, lambda x, r: (x > 0).to(x.dtype)))
register_nonlinearity(
    Nonlinearity("softplus", torch.nn.functional.softplus, lambda x, r: torch.sigmoid(x))
)
register_nonlinearity(Nonlinearity("identity", lambda x: x, lambda x, r: torch.ones_like(x)))
