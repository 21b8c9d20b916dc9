"""Registry of hand-derived exact backward passes (BPTT adjoints), one per model class.

``rate_bptt`` registers ``RateRNN``'s; a new model with its own fast adjoint registers it here
and BPTT picks it up, with no ``isinstance`` test in the rule.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

# model class → fn(model, inputs, loss_fn, *, noise, truncation, workspace) → (loss, grads, out)
_ADJOINTS: dict[type, Callable] = {}


def register_adjoint(model_class: type, fn: Callable) -> None:
    """Declare ``fn`` the exact hand-derived BPTT of ``model_class`` (and its subclasses)."""
    _ADJOINTS[model_class] = fn


def find_adjoint(model: nn.Module) -> Callable | None:
    """The adjoint registered for the model's class or its nearest base class, or None."""
    for cls in type(model).__mro__:
        if cls in _ADJOINTS:
            return _ADJOINTS[cls]
    return None
