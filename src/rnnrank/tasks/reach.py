"""Centre-out reaching with a point-mass hand, optionally in a curl field or under a rotation.

The setup of Pellegrino, Cayco-Gajic & Chadwick (2023, NeurIPS), whose example network reaches to
8 targets and then adapts to a velocity-dependent curl field (Shadmehr & Mussa-Ivaldi 1994,
J. Neurosci. 14:3208) and washes out; a visuomotor rotation (Krakauer et al. 2000) is offered too.

Plant (continuous time, τ = 1): the network's 2 outputs are a force F on a point mass,
    ṗ = v,   m v̇ = R(``rotation``) F − ``damping``·v + ``curl``·[[0, 1], [−1, 0]] v,
m = ``mass``, R(θ) the rotation by θ degrees (counter-clockwise). It is discretised exactly
(zero-order hold over ``dt``): s = [p, v] ∈ R⁴, s[t+1] = A s[t] + G F[t], s[0] = 0, and the hand
position compared with the targets at step t is p[t+1] (the position after F[t] acted).
``effector`` applies the plant to outputs [T, ..., B, 2] as one product with the lower
block-triangular Toeplitz matrix of impulse responses (2T × 2T, cached per T).

Trial (times in units of τ; defaults): target j of ``n_targets`` = 8 at angle 2πj/8 and distance
``radius`` = 1. Inputs (3 channels): ``input_scale``·(cos θ, sin θ) for the whole trial, and a
hold signal that is 1 before the go cue at ``hold`` = 1 and 0 after. Targets: hand at 0 before go
(mask 1); unmasked during the movement of ``movement_time`` = 2 (the target there is a
minimum-jerk reference path, for plots); hand at the target from go + movement_time to the end of
the trial at ``duration`` = 5 (mask 1). ``info["condition"]`` is the target index, drawn uniformly
from ``conditions`` (default: all targets).

Random preparatory period: with ``hold_jitter`` = j > 0 each trial's go cue falls at a hold time
drawn uniformly from [``hold`` − j, ``hold`` + j] (on the step grid), so trials to one target
differ in the state at movement onset, as in the Pellegrino et al. teacher's data (random
preparatory durations, aligned on the go cue). ``info["go"]`` holds each trial's go step;
``align_on_go`` cuts any [T, B, ...] array to the window common to every trial.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, masked_mean, register_task


def plant_matrices(mass: float, damping: float, curl: float, rotation: float,
                   dt: float) -> tuple[Tensor, Tensor]:
    """Exact zero-order-hold discretisation (A [4, 4], G [4, 2], float64) of the hand plant."""
    th = math.radians(rotation)
    rot = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]],
                       dtype=torch.float64)
    field = torch.tensor([[-damping, curl], [-curl, -damping]], dtype=torch.float64) / mass
    M = torch.zeros(6, 6, dtype=torch.float64)
    M[0:2, 2:4] = torch.eye(2, dtype=torch.float64)
    M[2:4, 2:4] = field
    M[2:4, 4:6] = rot / mass
    E = torch.linalg.matrix_exp(M * dt)
    return E[:4, :4], E[:4, 4:]


@functools.lru_cache(maxsize=32)
def _impulse_matrix(mass: float, damping: float, curl: float, rotation: float, dt: float,
                    T: int) -> Tensor:
    """H [2T, 2T] with H[2t + i, 2k + j] = (A^{t−k} G)[i, j] for k ≤ t, else 0 (float64)."""
    A, G = plant_matrices(mass, damping, curl, rotation, dt)
    markov = torch.empty(T, 2, 2, dtype=torch.float64)
    AkG = G
    for lag in range(T):  # precomputation only; effector itself has no loop over time
        markov[lag] = AkG[:2]
        AkG = A @ AkG
    t = torch.arange(T)
    lag = t[:, None] - t[None, :]  # [T, T]
    H = markov[lag.clamp_min(0)] * (lag >= 0)[:, :, None, None]  # [T, T, 2, 2]
    return H.permute(0, 2, 1, 3).reshape(2 * T, 2 * T)


@register_task("reach")
@dataclass(frozen=True)
class Reach(Task):
    n_targets: int = 8
    radius: float = 1.0
    input_scale: float = 1.0
    hold: float = 1.0
    hold_jitter: float = 0.0
    movement_time: float = 2.0
    duration: float = 5.0
    mass: float = 1.0
    damping: float = 1.0
    curl: float = 0.0
    rotation: float = 0.0
    conditions: tuple[int, ...] | None = None
    dt: float = 0.2

    score_name = "normalised_error"
    higher_is_better = False

    def __post_init__(self) -> None:
        if self.n_targets < 1 or self.radius <= 0 or self.mass <= 0 or self.damping < 0:
            raise ValueError("need n_targets >= 1, radius > 0, mass > 0, damping >= 0")
        if self.hold <= 0 or self.movement_time < self.dt or self.duration <= (
                self.hold + self.hold_jitter + self.movement_time):
            raise ValueError(f"need hold > 0, movement_time >= dt and duration > hold + "
                             f"hold_jitter + movement_time, got {self.hold}, {self.hold_jitter}, "
                             f"{self.movement_time}, {self.duration}")
        if not 0 <= self.hold_jitter < self.hold:
            raise ValueError(f"need 0 <= hold_jitter < hold (a go cue after the trial starts), "
                             f"got hold_jitter={self.hold_jitter}, hold={self.hold}")
        if self.conditions is not None and (
                len(self.conditions) == 0
                or not all(0 <= c < self.n_targets for c in self.conditions)):
            raise ValueError(f"conditions must be target indices in 0..{self.n_targets - 1}, "
                             f"got {self.conditions}")

    @property
    def n_in(self) -> int:
        return 3

    @property
    def n_out(self) -> int:
        return 2

    def with_perturbation(self, *, curl: float | None = None,
                          rotation: float | None = None) -> Reach:
        """The same task with a new curl field and/or rotation (``None`` keeps the current)."""
        return dataclasses.replace(self, curl=self.curl if curl is None else curl,
                                   rotation=self.rotation if rotation is None else rotation)

    def _plant(self) -> tuple[Tensor, Tensor]:
        return plant_matrices(self.mass, self.damping, self.curl, self.rotation, self.dt)

    def _windows(self) -> tuple[int, int, int]:
        """Steps: go cue (at ``hold``, the centre of the jitter), arrival, trial end."""
        go = self.steps(self.hold)
        return go, go + self.steps(self.movement_time), self.steps(self.duration)

    def go_range(self) -> tuple[int, int]:
        """Earliest and latest go step a trial can have."""
        return (self.steps(self.hold - self.hold_jitter),
                self.steps(self.hold + self.hold_jitter))

    def align_on_go(self, x: Tensor, go: Tensor) -> Tensor:
        """``x`` [T, B, ...] cut per trial to the steps go − go_min … go + (T − go_max) − 1, the
        window every trial has: [go_min + T − go_max, B, ...], index go_min = the go cue."""
        lo, hi = self.go_range()
        T = x.shape[0]
        idx = go.to(torch.long)[None, :] + torch.arange(-lo, T - hi)[:, None]  # [T', B]
        return torch.gather(x, 0, idx.reshape(*idx.shape, *([1] * (x.dim() - 2)))
                            .expand(-1, -1, *x.shape[2:]))

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        _, _, T = self._windows()
        moving = self.steps(self.movement_time)
        allowed = torch.tensor(list(self.conditions) if self.conditions is not None
                               else list(range(self.n_targets)))
        cond = allowed[torch.randint(len(allowed), (batch_size,), generator=generator)]
        lo, hi = self.go_range()
        go = (torch.randint(lo, hi + 1, (batch_size,), generator=generator) if hi > lo
              else torch.full((batch_size,), lo))
        theta = 2 * math.pi * cond.double() / self.n_targets
        direction = torch.stack([torch.cos(theta), torch.sin(theta)], -1)  # [B, 2]

        t = torch.arange(T)[:, None]  # [T, 1]
        before, after = t < go[None, :], t >= (go + moving)[None, :]  # [T, B]
        u = ((t - go[None, :] + 1).double() / moving).clamp(0, 1)  # 0 → 1 over the movement
        path = torch.where(after, 1.0, 10 * u**3 - 15 * u**4 + 6 * u**5) * ~before
        inputs = torch.zeros(T, batch_size, 3)
        inputs[:, :, :2] = (self.input_scale * direction).float()
        inputs[:, :, 2] = before.float()
        targets = (path[:, :, None] * self.radius * direction).float()
        mask = (before | after).float()[:, :, None].expand(T, batch_size, 2).contiguous()
        return Batch(inputs, targets, mask, {"condition": cond, "go": go})

    def effector(self, outputs: Tensor) -> Tensor:
        """Hand positions [T, ..., B, 2] (p[t+1]) from forces ``outputs`` [T, ..., B, 2]."""
        T = outputs.shape[0]
        H = _impulse_matrix(self.mass, self.damping, self.curl, self.rotation, self.dt, T)
        H = H.to(device=outputs.device, dtype=outputs.dtype)
        x = outputs.movedim(0, -2)  # [..., B, T, 2]
        y = x.reshape(*x.shape[:-2], 2 * T) @ H.T
        return y.reshape(x.shape).movedim(-2, 0)

    def ideal_outputs(self, batch: Batch) -> Tensor:
        """Forces that solve the batch exactly through this plant: 0 before go; from go to arrival
        the minimum-energy forces that bring the mass to rest at the target; 0 afterwards (at rest
        neither damping nor the curl field acts)."""
        go0, arrive0, T = self._windows()
        A, G = self._plant()
        n = arrive0 - go0 + 1  # forces F[go..arrive] set s[arrive + 1] = (target, 0)
        blocks, AkG = [], G
        for _ in range(n):
            blocks.append(AkG)
            AkG = A @ AkG
        reach = torch.cat(blocks[::-1], dim=1)  # [4, 2n]: column block k ↔ F[go + k]
        goal = torch.zeros(4, batch.batch_size, dtype=torch.float64)
        goal[:2] = batch.targets[-1].double().T
        forces = (torch.linalg.pinv(reach) @ goal).T.reshape(batch.batch_size, n, 2)  # [B, n, 2]
        go = batch.info.get("go", torch.full((batch.batch_size,), go0))
        out = torch.zeros(T, batch.batch_size, 2, dtype=torch.float64)
        for b in range(batch.batch_size):  # each trial's own go cue (one solve for all)
            out[int(go[b]):int(go[b]) + n, b] = forces[b]
        return out.float()

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Masked MSE of the hand position over the mean squared target coordinate
        (radius²/2); 0 = perfect, ≈ the masked fraction of time at the target for no movement."""
        hand = self.effector(outputs)
        t = batch.targets.to(device=hand.device, dtype=hand.dtype)
        while t.dim() < hand.dim():
            t = t.unsqueeze(1)
        mse = masked_mean((hand - t) ** 2, batch.mask.to(hand.device))
        return mse / (0.5 * self.radius**2)
