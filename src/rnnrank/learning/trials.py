"""Where each update's trials and private noise come from: seeded generators, saved in checkpoints.

Three layouts, one per ``TrainConfig`` setting:

- shared (default): one generator for the batches (seed ``seed``) and one for the noise
  (``seed + NOISE_SEED_OFFSET``); every ensemble member sees the same trials;
- ``independent_batches``: the same two generators, member e drawing the e-th batch in turn;
- ``member_seeds``: member e draws its batch and its noise from generators seeded as a lone run
  with seed ``member_seeds[e]`` seeds them — so each member's trajectory is exactly the run it
  would be trained alone (a sweep trains its runs this way as one ensemble).

Batches of the last two layouts are [T, E, B, ·] (``Batch.info`` entries [B, E, ...]).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..tasks.base import Batch, Task
from .config import TrainConfig

NOISE_SEED_OFFSET = 7919  # the noise generator's seed is the run's seed + this


class GeneratorSet:
    """One ``torch.Generator`` per member; ``get_state``/``set_state`` stack them [E, S]."""

    def __init__(self, seeds) -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def get_state(self) -> Tensor:
        return torch.stack([g.get_state() for g in self.generators])

    def set_state(self, state: Tensor) -> None:
        if state.dim() != 2 or state.shape[0] != len(self.generators):
            raise ValueError(f"checkpoint holds generator states {tuple(state.shape)}, expected "
                             f"one per member ({len(self.generators)})")
        for g, s in zip(self.generators, state, strict=True):
            g.set_state(s.clone())


def member_batch(batch: Batch, e: int) -> Batch:
    """Member e's trials of a [T, E, B, ·] batch (info is [B, E, ...])."""
    return Batch(batch.inputs[:, e], batch.targets[:, e], batch.mask[:, e],
                 {k: v[:, e] for k, v in batch.info.items()})


def _stack(batches: list[Batch]) -> Batch:
    return Batch(*(torch.stack([getattr(b, f) for b in batches], dim=1)
                   for f in ("inputs", "targets", "mask")),
                 {k: torch.stack([b.info[k] for b in batches], dim=1) for k in batches[0].info})


class TrialSource:
    """Draws (batch, noise) for each update of ``model`` on ``task`` (module docstring)."""

    def __init__(self, task: Task, model, config: TrainConfig, *, device, dtype) -> None:
        self.task, self.model, self.config = task, model, config
        self.device, self.dtype = device, dtype
        self.E = model.ensemble_size
        seeds = config.member_seeds
        if seeds is not None:
            if len(seeds) != self.E:
                raise ValueError(f"member_seeds names {len(seeds)} seeds for an ensemble of "
                                 f"{self.E}")
            self.batch_gen = GeneratorSet(seeds)
            self.noise_gen = GeneratorSet([s + NOISE_SEED_OFFSET for s in seeds])
        else:
            self.batch_gen = torch.Generator().manual_seed(config.seed)
            self.noise_gen = torch.Generator().manual_seed(config.seed + NOISE_SEED_OFFSET)

    @property
    def per_member(self) -> bool:
        """Whether batches carry a member axis [T, E, B, ·]."""
        return self.config.member_seeds is not None or (
            self.config.independent_batches and self.E > 1)

    def draw(self) -> tuple[Batch, Tensor | None]:
        B = self.config.batch_size
        if self.config.member_seeds is not None:
            batch = _stack([self.task.sample(B, generator=g) for g in self.batch_gen.generators])
        elif self.per_member:
            batch = _stack([self.task.sample(B, generator=self.batch_gen)
                            for _ in range(self.E)])
        else:
            batch = self.task.sample(B, generator=self.batch_gen)
        batch = batch.to(self.device, self.dtype)
        T = batch.n_steps
        if self.config.member_seeds is not None and self.model.config.noise > 0:
            # as each member's lone run (a RateRNN of one) draws it: [T, 1, B, N] from its own
            # generator, in the parameters' dtype
            N = self.model.config.n_rec
            noise = torch.cat([torch.randn((T, 1, B, N), generator=g, dtype=self.dtype)
                               for g in self.noise_gen.generators], dim=1).to(self.device)
        else:
            noise = self.model.draw_noise(T, batch.batch_size, self.noise_gen)
        return batch, noise

    def state_dict(self) -> dict:
        return {"batch_generator": self.batch_gen.get_state(),
                "noise_generator": self.noise_gen.get_state()}

    def load_state_dict(self, ck: dict) -> None:
        self.batch_gen.set_state(ck["batch_generator"])
        self.noise_gen.set_state(ck["noise_generator"])
