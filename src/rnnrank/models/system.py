"""A model seen as a discrete dynamical system x ← F(x, u): its step and its state derivative.

Lyapunov spectra, fixed points and gradient flossing need three things of a model: the step F,
tangent products ∂F/∂x · Q for k column vectors Q, and (for fixed points) the dense Jacobian.
A model provides them through ``system(dtype=None) -> System`` (``models.protocol.DynamicalModel``):

- ``RateRNN`` analytically, through ``rate_dynamics`` (∂F/∂x = (1 − α) I + α W diag(φ′(x)));
- ``LSTMNet`` — and any model with ``step(x, u) -> x_next`` — by forward-mode autograd
  (``torch.func.jvp``, vmapped over columns), through ``autograd_system``.

Shapes: states [E, B, D], tangent columns [E, B, D, k], Jacobians [E, B, D, D]; the private noise
of a model is never part of the system (exponents and fixed points of the deterministic map).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from . import rate_dynamics as rd


@dataclass(frozen=True)
class System:
    """Step and derivatives of a model (see module docstring for shapes).

    Attributes:
        step: ``step(x, u) -> x_next``.
        tangent: ``tangent(x, u, Q) -> ∂F/∂x(x, u) Q``.
        jacobian: ``jacobian(x, u) -> ∂F/∂x`` [E, B, D, D].
        E, dim: ensemble size and state dimension D.
        n_in: input size I.
        dt: the model's time step (None when it has none: then only per-step units exist).
        dtype, device: of the states.
        is_ensemble: whether results keep the leading E axis (False for a single network).
    """

    step: Callable[[Tensor, Tensor], Tensor]
    tangent: Callable[[Tensor, Tensor, Tensor], Tensor]
    jacobian: Callable[[Tensor, Tensor], Tensor]
    E: int
    dim: int
    n_in: int
    dt: float | None
    dtype: torch.dtype
    device: torch.device
    is_ensemble: bool = True


def rate_system(params: rd.RateParams, *, alpha: float, phi, dt: float | None = None,
                dtype: torch.dtype | None = None, detach: bool = False,
                is_ensemble: bool = True) -> System:
    """The system of rate-network parameters (ensemble layout). Without ``detach`` they may
    carry a graph (gradient flossing differentiates through the exponents)."""
    if detach:
        params = rd.RateParams(*(p.detach() for p in params))
    if dtype is not None:
        params = rd.RateParams(*(p.to(dtype) for p in params))
    E, N, n_in = params.U.shape
    kw = dict(alpha=alpha, phi=phi)
    return System(
        step=lambda x, u: rd.step(params, x, u, **kw),
        tangent=lambda x, u, Q: rd.jvp(params, x, Q, **kw),
        jacobian=lambda x, u: rd.jacobian(params, x, **kw).expand(-1, x.shape[1], -1, -1),
        E=E, dim=N, n_in=n_in, dt=dt, dtype=params.U.dtype, device=params.U.device,
        is_ensemble=is_ensemble,
    )


def autograd_system(model, *, dtype: torch.dtype | None = None) -> System:
    """The system of a model with ``step(x [E,B,D], u [B,I]) -> x_next``, ``state_size``,
    ``config.n_in`` and ``ensemble_size``: derivatives by forward-mode autograd."""
    if dtype is not None:
        model = copy.deepcopy(model).to(dtype)
    p = next(model.parameters())
    dim, n_in, E = model.state_size, model.config.n_in, model.ensemble_size

    def step(x: Tensor, u: Tensor) -> Tensor:
        with torch.no_grad():
            return model.step(x, u)

    def tangent(x: Tensor, u: Tensor, Q: Tensor) -> Tensor:
        def push(v: Tensor) -> Tensor:
            return torch.func.jvp(lambda s: model.step(s, u), (x,), (v,))[1]

        with torch.no_grad(), warnings.catch_warnings():
            # forward AD loads its decompositions with torch.jit.script once, which torch
            # ≥ 2.10 reports as deprecated: torch's internal affair, not the caller's
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*",
                                    category=DeprecationWarning)
            return torch.func.vmap(push, in_dims=-1, out_dims=-1)(Q)

    def jacobian(x: Tensor, u: Tensor) -> Tensor:
        eye = torch.eye(dim, dtype=x.dtype, device=x.device)
        return tangent(x, u, eye.expand(*x.shape, dim).contiguous())

    return System(step=step, tangent=tangent, jacobian=jacobian, E=E, dim=dim, n_in=n_in,
                  dt=getattr(model.config, "dt", None), dtype=p.dtype, device=p.device,
                  is_ensemble=model.is_ensemble)
