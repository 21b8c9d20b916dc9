"""Keep the best parameters seen during training, per ensemble member.

Adam at a high rate can throw a network out of a solved state (issue 13); the best snapshot keeps
what was reached. "Best" is the lowest *smoothed* training loss: at update k (k = 0 … S−1) the
loss ℓ_e(k) of member e is that of the parameters before update k, and

    ℓ̄_e(k) = mean(ℓ_e(k − w + 1) … ℓ_e(k))      (fewer terms while k < w − 1)

over a window of w = ``best_window`` updates (one batch is noisy). The snapshot of member e holds
its parameters at the first k that minimises ℓ̄_e(k), taken at the end of that window, i.e. the
parameters whose own loss closes it. The evaluation-only final step is not part of it.

``BestTracker`` is the trainer's state (``state_dict`` goes into checkpoints, so a resumed run keeps
the same best); ``BestSnapshot`` is what ``<run>/best.pt`` holds and ``load_best`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..store.atomic import save_torch_atomic

BEST_FILE = "best.pt"


@dataclass(frozen=True)
class BestSnapshot:
    """The best parameters of every member.

    Attributes:
        step: [E] update k at which each member's smoothed loss was lowest (-1: none yet).
        loss: [E] that smoothed loss (float64).
        window: w, the updates averaged.
        params: parameters named like ``model.named_parameters()``, in their shapes (an ensemble's
            leading axis E holds each member's own best).
    """

    step: np.ndarray
    loss: np.ndarray
    window: int
    params: dict[str, Tensor]

    def load_into(self, model: nn.Module) -> None:
        """Copy the best parameters into ``model`` (same architecture)."""
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(self.params[name].to(p.device, p.dtype))


class BestTracker:
    """Follows ℓ̄_e(k) and copies each member's parameters when it reaches a new minimum."""

    def __init__(self, model: nn.Module, window: int) -> None:
        self.model, self.window = model, window
        self.E = model.ensemble_size
        self.ensemble = getattr(model, "is_ensemble", False)
        self.recent = np.full((window, self.E), np.nan)  # ring buffer of the last w losses
        self.seen = 0
        self.best_loss = np.full(self.E, np.inf)
        self.best_step = np.full(self.E, -1, dtype=np.int64)
        self.params = {n: p.detach().clone() for n, p in model.named_parameters()}

    def observe(self, step: int, loss: np.ndarray) -> None:
        """Record the loss ``[E]`` of the current parameters at update ``step`` (before it)."""
        self.recent[self.seen % self.window] = loss
        self.seen += 1
        n = min(self.seen, self.window)
        smooth = self.recent[:n].mean(axis=0) if n < self.window else self.recent.mean(axis=0)
        better = smooth < self.best_loss
        if not better.any():
            return
        self.best_loss[better] = smooth[better]
        self.best_step[better] = step
        members = torch.as_tensor(np.flatnonzero(better))
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if self.ensemble:
                    self.params[name][members] = p.detach()[members]
                else:
                    self.params[name].copy_(p.detach())

    def snapshot(self) -> BestSnapshot:
        return BestSnapshot(self.best_step.copy(), self.best_loss.copy(), self.window,
                            {n: t.clone() for n, t in self.params.items()})

    def state_dict(self) -> dict:
        return {"recent": torch.from_numpy(self.recent.copy()), "seen": self.seen,
                "window": self.window,
                "best_loss": torch.from_numpy(self.best_loss.copy()),
                "best_step": torch.from_numpy(self.best_step.copy()),
                "params": {n: t.clone() for n, t in self.params.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.recent = state["recent"].numpy().copy()
        self.seen = int(state["seen"])
        self.best_loss = state["best_loss"].numpy().copy()
        self.best_step = state["best_step"].numpy().copy()
        self.params = {n: t.clone() for n, t in state["params"].items()}

    def save(self, run_dir: Path) -> None:
        """Write ``best.pt`` atomically (plain tensors: loads with ``weights_only=True``)."""
        save_best_file(run_dir, self.state_dict())


def save_best_file(run_dir: Path, state: dict) -> None:
    """``best.pt`` of a run directory from a tracker's ``state_dict``."""
    save_torch_atomic(Path(run_dir) / BEST_FILE, {
        "step": state["best_step"].clone(), "loss": state["best_loss"].clone(),
        "window": int(state["window"]),
        "params": {n: t.detach().cpu() for n, t in state["params"].items()}})


def member_state(state: dict, e: int) -> dict:
    """Member e's share of an ensemble tracker's ``state_dict``, as a single network's."""
    return {"recent": state["recent"][:, e:e + 1].clone(), "seen": state["seen"],
            "window": state["window"], "best_loss": state["best_loss"][e:e + 1].clone(),
            "best_step": state["best_step"][e:e + 1].clone(),
            "params": {n: t[e].clone() for n, t in state["params"].items()}}


def load_best(path: str | Path) -> BestSnapshot:
    """The best snapshot of the run in ``path`` (a run directory, or its ``best.pt``)."""
    path = Path(path)
    file = path / BEST_FILE if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no {BEST_FILE} in {path}: it is written by rr.train at each "
                                "checkpoint (runs made before rnnrank kept it have none)")
    state = torch.load(file, map_location="cpu", weights_only=True)
    return BestSnapshot(state["step"].numpy(), state["loss"].numpy(), int(state["window"]),
                        state["params"])
