"""Any neurogym environment as an rnnrank task (supervised, with a loss mask).

neurogym (Molano-Mazón, Barbosa, Pastor-Ciurana, et al. 2022, "NeuroGym: an open resource for
developing and sharing neuroscience tasks", PsyArXiv aqc9n) provides 30+ trial-based tasks.
Its ``Dataset`` concatenates trials and has no loss mask; this adapter keeps trials separate.

Per trial: ``env.new_trial()``, then ``env.ob`` [T_trial, I] is the input and ``env.gt`` [T_trial]
(integer action labels) the target, one-hot over ``env.action_space.n`` outputs. Trials of
different lengths are padded to the longest in the batch: inputs and targets 0, mask 0. The mask
is 1 on every step of a trial, or, with ``mask_period="decision"`` (any period name the env
defines in ``env.start_ind``/``env.end_ind``), only in that period.

Time: neurogym's ``dt`` is in milliseconds, rnnrank's in units of τ. The adapter keeps rnnrank's
``dt`` for the model and builds the env with ``dt = dt · tau_ms`` ms (defaults 0.2 · 100 ms =
20 ms). An env instance passed as ``env`` must already have that dt.

Randomness: each ``sample`` draws one seed from the torch generator and calls ``env.seed(seed)``
(neurogym's ``TrialEnv.seed`` reseeds its ``rng``), or ``env.reset(seed=seed)`` for envs that only
take the gymnasium form, so batches are reproducible. Only discrete action spaces are supported.

neurogym is optional: it is imported only when ``env`` is an id string
(``pip install 'rnnrank[neurogym]'``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .base import Batch, Task, masked_mean, register_task


def _make_env(env_id: str, dt_ms: float, kwargs: dict) -> Any:
    try:
        import neurogym
    except ImportError:
        raise ImportError(f"the 'neurogym' task needs neurogym to build {env_id!r}: "
                          "pip install 'rnnrank[neurogym]'") from None
    return neurogym.make(env_id, dt=dt_ms, **kwargs).unwrapped


@register_task("neurogym")
@dataclass(frozen=True)
class NeurogymTask(Task):
    env: Any = "PerceptualDecisionMaking-v0"
    env_kwargs: dict | None = None
    mask_period: str | None = None
    tau_ms: float = 100.0
    dt: float = 0.2

    score_name = "accuracy"

    def __post_init__(self) -> None:
        if self.tau_ms <= 0 or self.dt <= 0:
            raise ValueError(f"tau_ms and dt must be > 0, got {self.tau_ms}, {self.dt}")
        if not isinstance(self.env, str):
            env_dt = getattr(self.env, "dt", None)
            if env_dt is None or abs(env_dt - self.dt_ms) > 1e-6 * self.dt_ms:
                raise ValueError(f"the env's dt is {env_dt} ms but dt · tau_ms = {self.dt_ms} ms; "
                                 "build the env with that dt or change dt/tau_ms")

    @property
    def dt_ms(self) -> float:
        """The env's time step in milliseconds."""
        return self.dt * self.tau_ms

    @functools.cached_property
    def environment(self) -> Any:
        """The wrapped env (built on first use from an id string)."""
        if isinstance(self.env, str):
            env = _make_env(self.env, self.dt_ms, dict(self.env_kwargs or {}))
        else:
            env = self.env
        if not hasattr(getattr(env, "action_space", None), "n"):
            raise ValueError("only envs with a discrete action space (action_space.n) are "
                             f"supported, got {getattr(env, 'action_space', None)!r}")
        return env

    @property
    def n_in(self) -> int:
        return int(self.environment.observation_space.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.environment.action_space.n)

    def _seed(self, seed: int) -> None:
        env = self.environment
        if callable(getattr(env, "seed", None)):
            env.seed(seed)
        else:
            env.reset(seed=seed)

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        env = self.environment
        self._seed(int(torch.randint(2**31 - 1, (1,), generator=generator)))
        obs, gts, windows = [], [], []
        for _ in range(batch_size):
            env.new_trial()
            ob = torch.as_tensor(env.ob, dtype=torch.float32).reshape(len(env.ob), -1)
            gt = torch.as_tensor(env.gt).long().reshape(-1)
            if self.mask_period is None:
                window = (0, len(gt))
            else:
                try:
                    window = (env.start_ind[self.mask_period], env.end_ind[self.mask_period])
                except (AttributeError, KeyError):
                    raise ValueError(f"mask_period {self.mask_period!r} is not a period of the "
                                     f"env; it has {sorted(getattr(env, 'start_ind', {}))}"
                                     ) from None
            obs.append(ob)
            gts.append(gt)
            windows.append(window)
        T = max(len(g) for g in gts)
        inputs = torch.zeros(T, batch_size, self.n_in)
        labels = torch.full((batch_size, T), -1, dtype=torch.long)  # -1 = padding
        mask = torch.zeros(T, batch_size, self.n_out)
        for b, (ob, gt, (lo, hi)) in enumerate(zip(obs, gts, windows, strict=True)):
            inputs[:len(ob), b] = ob
            labels[b, :len(gt)] = gt
            mask[int(lo):int(hi), b] = 1.0
        targets = torch.nn.functional.one_hot(labels.clamp_min(0), self.n_out).float()
        targets = targets.transpose(0, 1) * (labels.T >= 0)[:, :, None]
        lengths = torch.tensor([len(g) for g in gts])
        return Batch(inputs, targets, mask, {"gt": labels, "length": lengths})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of masked (time, trial) steps where argmax of the outputs is the label."""
        labels = batch.info["gt"].T.to(outputs.device)  # [T, B]
        while labels.dim() < outputs.dim() - 1:
            labels = labels.unsqueeze(1)
        correct = (outputs.argmax(-1) == labels).to(outputs.dtype)[..., None]  # [T, ..., B, 1]
        return masked_mean(correct, batch.mask[..., :1].to(outputs.device))
