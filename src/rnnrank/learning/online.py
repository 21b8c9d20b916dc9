"""Shared machinery of the online (forward-in-time) rules e-prop and RFLO.

Both rules run the network forward twice, in chunks of ``chunk`` time steps, and keep only one
chunk of states at a time, so their memory does not grow with the trial length T:

1. ``forward_outputs``: the outputs y [T, E, B, O] (O-dimensional, the size of the task's own
   targets); the loss and its output error e[t] = ∂L/∂y[t] follow by ``output_error`` — through
   any effector and normalisation of the loss, which a single pass could not know before the
   trial ends. With a loss that is a sum over time this equals computing e[t] online.
2. ``chunks``: the same states again, chunk by chunk, while the rule updates its traces and
   accumulates its gradient estimates.

Notation shared by the rules (DESIGN §4, x-form step, α = dt/τ, κ = 1 − α):
``x[t+1] = κ x[t] + α (W r[t] + U u[t] + b)``, r = φ(x), y[t] = V r[t+1]; the presynaptic
vector z[t] = [r[t], u[t], 1] ∈ R^M (M = N + I + 1) carries one trace for W, U and b at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..ensemble import without_members
from ..models import rate_dynamics as rd
from ..models import recurrence as rec
from ..models.rate_rnn import RateRNN
from ..tasks.base import Batch
from .rate_bptt import output_error
from .rules import LearningRule, LossFn, RuleResult

DEFAULT_CHUNK = 50


def require_rate_rnn(model: nn.Module, rule: str) -> RateRNN:
    """The model, if it is a ``RateRNN`` (the online rules' traces are derived for its step)."""
    if not isinstance(model, RateRNN):
        raise ValueError(f"rule {rule!r} needs a RateRNN (its traces are derived for the leaky "
                         f"rate step), got {type(model).__name__}; use rule='bptt'")
    return model


def check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer (time steps), got {chunk!r}")
    return chunk


def chunks(
    params: rd.RateParams,
    inputs: Tensor,
    *,
    alpha: float,
    phi,
    noise: Tensor | None,
    noise_std: float,
    chunk: int,
) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Yield ``(t0, states, rates)`` per chunk: states x[t0 .. t0+C] [C+1, E, B, N] and r = φ(x).

    The views are reused: read them before asking for the next chunk. Each chunk is stepped by
    ``rate_dynamics.fill_states_``, the Euler update ``unroll_states`` uses.
    """
    T, B = inputs.shape[0], inputs.shape[-2]
    E, N, _ = params.W.shape
    states = torch.empty(chunk + 1, E, B, N, dtype=params.U.dtype, device=params.U.device)
    rates = torch.empty_like(states)
    states[0] = params.x0[:, None, :]
    phi.apply_into(states[0], rates[0])
    J = rec.for_loop(params.W)
    for t0 in range(0, T, chunk):
        C = min(chunk, T - t0)
        if t0 > 0:
            states[0].copy_(states[chunk])
            rates[0].copy_(rates[chunk])
        rd.fill_states_(states[:C + 1], rates[:C + 1], params, inputs[t0:t0 + C], alpha=alpha,
                        phi=phi, noise=None if noise is None else noise[t0:t0 + C],
                        noise_std=noise_std, J=J)
        yield t0, states[:C + 1], rates[:C + 1]


def forward_outputs(model: RateRNN, inputs: Tensor, noise: Tensor | None,
                    chunk: int) -> Tensor:
    """Outputs [T, E, B, O] by a chunked forward pass (memory of one chunk of states)."""
    params = model.params()
    T, B = inputs.shape[0], inputs.shape[-2]
    out = torch.empty(T, params.V.shape[0], B, params.V.shape[1], dtype=params.V.dtype,
                      device=params.V.device)
    for t0, _, rates in chunks(params, inputs, alpha=model.alpha, phi=model.phi, noise=noise,
                               noise_std=model.config.noise, chunk=chunk):
        out[t0:t0 + rates.shape[0] - 1] = rd.readout(params, rates[1:])
    return out


def presynaptic(rates: Tensor, inputs: Tensor, E: int) -> Tensor:
    """z[t] = [r[t], u[t], 1] for a chunk: rates [C, E, B, N], inputs [C, B, I] or [C, E, B, I]
    → [C, E, B, N + I + 1]."""
    C, _, B, _ = rates.shape
    u = inputs[:, None].expand(C, E, B, -1) if inputs.dim() == 3 else inputs
    return torch.cat([rates, u.to(rates.dtype), rates.new_ones(C, E, B, 1)], dim=-1)


def split_presynaptic(G: Tensor, N: int, wanted: set[str]) -> dict[str, Tensor]:
    """Gradient blocks of W [E, N, N], U [E, N, I] and b [E, N] from G = Σ L zᵀ [E, N, M]."""
    blocks = {"W": G[:, :, :N], "U": G[:, :, N:-1], "b": G[:, :, -1]}
    return {k: v.contiguous() for k, v in blocks.items() if k in wanted}


def readout_gradient(error: Tensor, rates: Tensor) -> Tensor:
    """∂L/∂V contribution Σ e[t] r[t+1]ᵀ of a chunk: error [C,E,B,O], rates [C,E,B,N] → [E,O,N]."""
    C, E, B, O = error.shape
    err = error.permute(1, 0, 2, 3).reshape(E, C * B, O)
    r = rates.permute(1, 0, 2, 3).reshape(E, C * B, -1)
    return torch.bmm(err.transpose(1, 2), r)


def loss_and_error(model: RateRNN, inputs: Tensor, loss_fn: Callable[[Tensor], Tensor],
                   noise: Tensor | None, chunk: int) -> tuple[Tensor, Tensor, Tensor]:
    """(loss [E], e = ∂L/∂y [T, E, B, O], outputs [T, E, B, O]) from the first pass."""
    outputs = forward_outputs(model, inputs, noise, chunk)
    loss, error = output_error(outputs, loss_fn)
    return loss, error, outputs


def draw_feedback(model: RateRNN, generator: torch.Generator, std: float) -> Tensor:
    """A fixed random feedback matrix B [E, N, O] with entries N(0, std²), one per member."""
    E, N, O = model.ensemble_size, model.n_rec, model.config.n_out
    B = torch.randn(E, N, O, generator=generator, dtype=torch.float64) * std
    return B.to(dtype=model.W.dtype, device=model.W.device)


def named_gradients(model: RateRNN, G: Tensor, wanted: set[str],
                    **others: Tensor) -> dict[str, Tensor]:
    """The gradients the model asked for, in its own layout: W, U, b split from G [E, N, M],
    plus ``others`` (e.g. V, x0) in ensemble layout."""
    grads = split_presynaptic(G, model.n_rec, wanted)
    grads.update({k: v for k, v in others.items() if k in wanted})
    return {k: without_members(v, model.is_ensemble) for k, v in grads.items()}


FEEDBACKS = ("symmetric", "random")


class FeedbackRule(LearningRule):
    """Base of rules that send the output error back through B: Vᵀ or a fixed random matrix.

    The random B [E, N, O] is drawn in ``init`` from the run's generator with entries
    N(0, ``random_std(model)``²) and kept in ``state_dict`` so a resumed run uses the same one.
    """

    default_feedback: ClassVar[str] = "symmetric"

    def __init__(self, feedback: str | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        feedback = self.default_feedback if feedback is None else feedback
        if feedback not in FEEDBACKS:
            raise ValueError(f"feedback must be one of {FEEDBACKS}, got {feedback!r}")
        self.feedback = feedback
        self.chunk = check_chunk(chunk)
        self.B: Tensor | None = None

    def supports(self, model: nn.Module) -> bool:
        """Traces are derived for the leaky rate step: a ``RateRNN`` only."""
        return isinstance(model, RateRNN)

    # The rule's estimator: fn(model, inputs, loss_fn, B, *, noise, chunk) → (loss, grads, out)
    estimate: ClassVar[Callable]

    def gradients(self, model: nn.Module, batch: Batch, *, loss_fn: LossFn,
                  noise: Tensor | None) -> RuleResult:
        model = require_rate_rnn(model, self.name)
        loss, grads, outputs = type(self).estimate(model, batch.inputs, loss_fn,
                                                   self.feedback_matrix(model), noise=noise,
                                                   chunk=self.chunk)
        return RuleResult(loss, grads, outputs)

    def random_std(self, model: RateRNN) -> float:
        return 1.0 / math.sqrt(model.n_rec)

    def init(self, model: nn.Module, generator: torch.Generator) -> None:
        model = require_rate_rnn(model, self.name)
        if self.feedback == "random":
            self.B = draw_feedback(model, generator, self.random_std(model))

    def feedback_matrix(self, model: RateRNN) -> Tensor:
        """B [E, N, O]: Vᵀ (symmetric) or the fixed random matrix."""
        if self.feedback == "symmetric":
            return model.params().V.detach().transpose(1, 2)
        if self.B is None:
            raise ValueError(f"rule {self.name!r} with feedback='random' has no feedback matrix "
                             "yet: call rule.init(model, generator) first (rr.train does)")
        E, N, O = model.ensemble_size, model.n_rec, model.config.n_out
        if tuple(self.B.shape) != (E, N, O):
            raise ValueError(f"random feedback has shape {tuple(self.B.shape)}, the model needs "
                             f"{(E, N, O)}; call rule.init(model, generator) for this model")
        return self.B.to(dtype=model.W.dtype, device=model.W.device)

    def options(self) -> dict:
        return {"feedback": self.feedback, "chunk": self.chunk}

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self.B is None else {"feedback": self.B.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        unknown = set(state) - {"feedback"}
        if unknown:
            raise ValueError(f"rule {self.name!r} state has unknown keys {sorted(unknown)}")
        if "feedback" in state:
            self.B = state["feedback"].clone()


def learning_signal(error: Tensor, B: Tensor) -> Tensor:
    """B e[t] for a chunk: error [C, E, B, O], B [E, N, O] → [C, E, B, N] (one product)."""
    C, E, Bt, O = error.shape
    L = torch.bmm(error.permute(1, 0, 2, 3).reshape(E, C * Bt, O), B.transpose(1, 2))
    return L.reshape(E, C, Bt, -1).permute(1, 0, 2, 3)


def decay_matrix(C: int, kappa: float, like: Tensor) -> Tensor:
    """D [C, C] with D[c, c′] = κ^(c−c′) for c′ ≤ c, else 0: the leaky filter over one chunk as
    one product (``D @ v`` filters forward in time, ``Dᵀ @ v`` backward)."""
    idx = torch.arange(C, device=like.device)
    lag = (idx[:, None] - idx[None, :]).to(like.dtype)
    return torch.where(lag >= 0, kappa ** lag.clamp_min(0), torch.zeros_like(lag))


def filter_forward(z: Tensor, start: Tensor, kappa: float, alpha: float) -> Tensor:
    """ε[c] = κ ε[c−1] + α z[c] over a chunk with ε[−1] = ``start``: z [C, ...] → [C, ...]."""
    C = z.shape[0]
    D = decay_matrix(C, kappa, z)
    out = torch.mm(D, z.reshape(C, -1)).mul_(alpha).view_as(z)
    powers = kappa ** torch.arange(1, C + 1, device=z.device, dtype=z.dtype)
    return out.add_(powers.view(C, *[1] * start.dim()) * start)


def filter_backward(v: Tensor, kappa: float) -> Tensor:
    """ṽ[c] = Σ_{c′ ≥ c} κ^(c′−c) v[c′] over a chunk (the anticausal leaky sum): [C, ...]."""
    C = v.shape[0]
    D = decay_matrix(C, kappa, v)
    return torch.mm(D.T, v.reshape(C, -1)).view_as(v)
