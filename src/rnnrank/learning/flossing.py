"""Gradient flossing (Engelken, NeurIPS 2023): push the leading Lyapunov exponents to a target.

A differentiable QR (Benettin) estimate of the k leading exponents of the network driven by the
run's task trials (``inputs="task"``, as Engelken flosses on the task's input statistics; trials
repeated back to back over warm-up and window) or of the autonomous network (``inputs="none"``:
zero input, the bias acts) over a short window,

    λ_i = (1 / (T_w − T_d)) Σ_{t > T_d} log |R_t,ii|,     Q_t R_t = qr(J_t Q_{t−1}),
    J_t = (1 − α) I + α W diag(φ′(x_t)),                    loss = mean_i (λ_i − target)²

(summed over ensemble members, each minimising its own), is minimised by its own Adam
optimiser on W, U and b only — never the readout, never x0 — in phases between the learning
rule's updates: ``pre`` updates before training (pre-flossing) and bursts of ``steps`` updates
every ``every`` training updates, at most ``times`` bursts (inter-flossing). Engelken's defaults:
window T_w = 55 steps of which the first T_d = 16 only align Q, 500 pre-flossing updates,
500-update bursts, target 0; λ in nats per step; the trajectory starts from a random state
relaxed for ``warmup`` steps.

It is a ``TrainingHook``: it never touches the rule, so it works with every registered rule
(for bio-plausible rules the flossing gradient itself is non-local: use it as a pre-training,
developmental phase, as Liu, Zhang & Liu 2024 suggest). Its options are saved in the run's
config.yaml and its optimiser and generator in every checkpoint, so a resumed run equals an
uninterrupted one. Driven by inputs, U receives a flossing gradient too; autonomous dynamics
leave U untouched.

``inputs="task"`` needs the task: ``rr.train`` (and every path built on it: the CLI's
``--flossing``, sweeps' ``hooks:``, the Liu et al. reproduction) passes it to ``init``; a hook
initialised without one raises instead of silently flossing the autonomous network (which is
not the network a driven λ_max measures: issue 23).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..dynamics.lyapunov import benettin
from ..dynamics.system import rate_system
from ..models import rate_dynamics as rd
from .hooks import TrainingHook, register_hook

FLOSSED = ("W", "U", "b")


def input_feed(inputs: Tensor | None, batch: int, n_in: int, *, like: Tensor, offset: int = 0):
    """t ↦ input [B, I] at step ``offset + t``: the trials [T, B, I] repeated, or zeros."""
    if inputs is None:
        zero = torch.zeros(batch, n_in, dtype=like.dtype, device=like.device)
        return lambda t: zero
    inputs = inputs.to(like)
    return lambda t: inputs[(offset + t) % inputs.shape[0]]


def flossing_exponents(params: rd.RateParams, x: Tensor, Q: Tensor, *, alpha: float, phi,
                       window: int, discard: int, inputs: Tensor | None = None,
                       offset: int = 0) -> Tensor:
    """Differentiable estimate of the leading exponents [E, B, k] (nats per step).

    Args: ``params`` (may carry a graph), relaxed states x [E, B, N], orthonormal Q [E, B, N, k];
    the first ``discard`` of ``window`` steps align Q and are not counted; ``inputs`` [T, B, I]
    drive the network from step ``offset`` on (repeated back to back; None: zero input).
    """
    system = rate_system(params, alpha=alpha, phi=phi)
    feed = input_feed(inputs, x.shape[1], params.U.shape[-1], like=x, offset=offset)
    if discard:
        x, Q, _ = benettin(system, x, Q, feed, discard)
        feed = input_feed(inputs, x.shape[1], params.U.shape[-1], like=x,
                          offset=offset + discard)
    _, _, sums = benettin(system, x, Q, feed, window - discard)
    return sums.sum(0) / (window - discard)


@register_hook("flossing")
class Flossing(TrainingHook):
    """Gradient flossing as a training phase (module docstring).

    Args:
        k: number of exponents regularised (≤ N).
        target: their target value (nats per step).
        window: steps of the differentiable estimate (T_w); discard: of them, Q-alignment steps.
        warmup: graph-free steps relaxing a random state onto the attractor first.
        pre: pre-flossing updates before training (0: none).
        every: a burst every this many training updates (None: no bursts).
        steps: updates per burst; times: at most this many bursts.
        lr: Adam learning rate of the flossing updates.
        batch: trajectories per flossing update.
        inputs: ``"task"`` — each flossing update samples ``batch`` trials of the run's task and
            drives the network with them; ``"none"`` — autonomous (zero input).
    """

    def __init__(self, k: int = 20, *, target: float = 0.0, window: int = 55, discard: int = 16,
                 warmup: int = 100, pre: int = 500, every: int | None = None, steps: int = 500,
                 times: int = 2, lr: float = 1e-3, batch: int = 1,
                 inputs: str = "task") -> None:
        for name, value, low in (("k", k, 1), ("window", window, 1), ("discard", discard, 0),
                                 ("warmup", warmup, 0), ("pre", pre, 0), ("steps", steps, 1),
                                 ("times", times, 0), ("batch", batch, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"Flossing: {name} must be an integer >= {low}, got {value!r}")
        if discard >= window:
            raise ValueError(f"Flossing: discard={discard} must be < window={window}")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"Flossing: every must be a positive integer or None, got {every!r}")
        if not lr > 0:
            raise ValueError(f"Flossing: lr must be > 0, got {lr}")
        if inputs not in ("task", "none"):
            raise ValueError(f"Flossing: inputs must be 'task' or 'none', got {inputs!r}")
        self.inputs, self.task = inputs, None
        self.k, self.target, self.window, self.discard = k, float(target), window, discard
        self.warmup, self.pre, self.every, self.steps = warmup, pre, every, steps
        self.times, self.lr, self.batch = times, float(lr), batch
        self.pre_done, self.bursts = False, 0
        self.losses: list[float] = []  # flossing loss of every flossing update, in order
        self._phase_step: int | None = None  # the update before which the last phase ran
        self._phase_loss: float | None = None
        self.opt: torch.optim.Optimizer | None = None
        self.gen: torch.Generator | None = None

    def options(self) -> dict:
        return dict(k=self.k, target=self.target, window=self.window, discard=self.discard,
                    warmup=self.warmup, pre=self.pre, every=self.every, steps=self.steps,
                    times=self.times, lr=self.lr, batch=self.batch, inputs=self.inputs)

    def init(self, model: nn.Module, generator: torch.Generator, task=None) -> None:
        if self.inputs == "task" and task is None:
            raise ValueError("Flossing(inputs='task') needs the run's task: pass init(model, "
                             "generator, task=task) (rr.train does), or use inputs='none' to "
                             "floss the autonomous network")
        self.task = task if self.inputs == "task" else None
        if not all(hasattr(model, a) for a in ("params", "alpha", "phi")):
            raise TypeError(f"Flossing needs a RateRNN (params(), alpha, phi), got "
                            f"{type(model).__name__}")
        if self.k > model.n_rec:
            raise ValueError(f"Flossing: k={self.k} exceeds the network size N={model.n_rec}")
        params = [getattr(model, n) for n in FLOSSED if getattr(model, n).requires_grad]
        if not params:
            raise ValueError("Flossing: none of W, U, b is trainable")
        self.opt = torch.optim.Adam(params, lr=self.lr)
        self.gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,),
                                                                   generator=generator)))

    loss_names = ("loss",)

    def loss_terms(self, step: int) -> dict[str, float]:
        """The mean flossing loss of the phase run before update ``step`` (none: empty)."""
        return {"loss": self._phase_loss} if self._phase_step == step else {}

    def before_update(self, model: nn.Module, step: int) -> None:
        n_before = len(self.losses)
        self._phase_step = self._phase_loss = None
        try:
            self._phases(model, step)
        finally:
            if len(self.losses) > n_before:
                self._phase_step = step
                self._phase_loss = float(sum(self.losses[n_before:]) / (len(self.losses)
                                                                         - n_before))

    def _phases(self, model: nn.Module, step: int) -> None:
        if step == 0 and self.pre and not self.pre_done:
            self.floss(model, self.pre)
            self.pre_done = True
        if (self.every is not None and step > 0 and step % self.every == 0
                and self.bursts < self.times):
            self.floss(model, self.steps)
            self.bursts += 1

    def floss(self, model: nn.Module, updates: int) -> None:
        """``updates`` flossing updates of W, U, b in place (after ``init``)."""
        if self.opt is None:
            raise RuntimeError("Flossing.floss before init(model, generator, task=...)")
        E, N = model.ensemble_size, model.n_rec
        p = next(model.parameters())
        params = self.opt.param_groups[0]["params"]
        for _ in range(updates):
            x = torch.randn(E, self.batch, N, generator=self.gen, dtype=torch.float64)
            Q = torch.randn(E, self.batch, N, self.k, generator=self.gen, dtype=torch.float64)
            x, Q = x.to(p), torch.linalg.qr(Q.to(p))[0]
            trials = None if self.task is None else \
                self.task.sample(self.batch, generator=self.gen).inputs
            if self.warmup:
                with torch.no_grad():
                    fixed = rd.RateParams(*(v.detach() for v in model.params()))
                    feed = input_feed(trials, self.batch, fixed.U.shape[-1], like=x)
                    for t in range(self.warmup):
                        x = rd.step(fixed, x, feed(t), alpha=model.alpha, phi=model.phi)
            lam = flossing_exponents(model.params(), x, Q, alpha=model.alpha, phi=model.phi,
                                     window=self.window, discard=self.discard, inputs=trials,
                                     offset=self.warmup)
            loss = (lam - self.target).pow(2).mean((1, 2)).sum()
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for param, g in zip(params, grads, strict=True):
                param.grad = None if g is None else g
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
            self.losses.append(float(loss.detach()) / E)

    def state_dict(self) -> dict:
        return {"pre_done": self.pre_done, "bursts": self.bursts, "losses": list(self.losses),
                "optimizer": None if self.opt is None else self.opt.state_dict(),
                "generator": None if self.gen is None else self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        self.pre_done, self.bursts = bool(state["pre_done"]), int(state["bursts"])
        self.losses = list(state["losses"])
        if state["optimizer"] is not None and self.opt is not None:
            self.opt.load_state_dict(state["optimizer"])
        if state["generator"] is not None:
            self.gen = torch.Generator()
            self.gen.set_state(state["generator"])
