"""The dynamical system of a model, x ← F(x, u), as the analyses of dynamics see it.

Every model that dynamics can analyse implements ``models.protocol.DynamicalModel``: a method
``system(dtype=None) -> System`` (``models.system``) giving its step, tangent products and
Jacobian. ``RateRNN`` (and so a fit's network, ``Fit.network(k)``) and ``LSTMNet`` do; a user model
does by the same method — no type checks here.
"""

from __future__ import annotations

import torch

from ..models.protocol import DynamicalModel
from ..models.system import System as System
from ..models.system import autograd_system as autograd_system
from ..models.system import rate_system as rate_system


def as_system(model, *, dtype: torch.dtype | None = None) -> System:
    """The dynamical system of ``model`` (parameters detached; ``dtype`` casts them)."""
    if not isinstance(model, DynamicalModel):
        raise TypeError(f"{type(model).__name__} has no system(): give it "
                        "system(dtype=None) -> rnnrank.models.system.System (for a model with "
                        "step(x [E,B,D], u [B,I]) -> x_next, return autograd_system(self, "
                        "dtype=dtype)), or use a RateRNN")
    return model.system(dtype=dtype)
