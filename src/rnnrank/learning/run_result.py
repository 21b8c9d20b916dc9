"""What ``rr.train`` returns (``Run``) and raises when the loss diverges (``TrainingDiverged``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from ..store.trajectory import Trajectory
from .best import BestSnapshot


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; everything recorded before is kept in ``run``."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class Run:
    """The result of ``train``: where it lives, how it ended, and its trajectory."""

    path: Path | None
    status: str
    steps: int
    final_loss: np.ndarray
    trajectory: Trajectory
    model: nn.Module
    best: BestSnapshot | None = None

    @property
    def best_step(self) -> np.ndarray | None:
        """[E] update at which each member's smoothed training loss was lowest (``best.py``)."""
        return None if self.best is None else self.best.step


def diverged(loop, step: int, loss: np.ndarray, seconds: float):
    """Record how the run ended (metrics, status, best parameters) and raise
    ``TrainingDiverged`` with the run so far."""
    bad = [e for e in range(loop.E) if not np.isfinite(loss[e])]
    where = "" if loop.E == 1 else f" (ensemble members {bad})"
    msg = (f"training diverged at step {step}: loss is {loss[bad[0]]}{where}; "
           f"kept {loop.writer.count} snapshots. Lower the learning rate or clip gradients "
           "(grad_clip=...).")
    loop.writer.flush()
    if loop.dir is not None:
        loop.dir.write_metrics(loop.rows, loop.extra_fields)
        loop.dir.write_status("diverged", step=step, message=msg, seconds=seconds)
        loop.best.save(loop.dir.path)  # the best parameters before the divergence
        msg += f" Run directory: {loop.dir.path}"
    raise TrainingDiverged(msg, run_result(loop, "diverged", loss))


def run_result(loop, status: str, loss: np.ndarray) -> Run:
    """The ``Run`` of the trainer's state ``loop``."""
    traj = loop.writer.reader()
    if not np.all(np.isfinite(loss)) and status == "completed" and len(traj):
        loss = np.atleast_1d(traj.loss[-1])  # nothing ran: the run was already complete
    return Run(path=None if loop.dir is None else loop.dir.path, status=status,
               steps=loop.config.steps, final_loss=loss, trajectory=traj,
               model=loop.model, best=loop.best.snapshot() if loop.best.seen else None)
