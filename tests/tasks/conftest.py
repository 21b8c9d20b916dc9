"""Shared fixtures for task tests: a small stand-in for a neurogym env (neurogym is optional)."""

from types import SimpleNamespace

import numpy as np
import pytest


class FakeNeurogymEnv:
    """Mimics the neurogym ``TrialEnv`` API the adapter uses: ``dt`` (ms), ``seed``,
    ``new_trial`` setting ``ob`` [T, 3] and ``gt`` [T], ``start_ind``/``end_ind`` of periods,
    ``observation_space.shape`` and ``action_space.n``. Trials have random lengths: fixation
    (label 0) for 3..6 steps, then a decision period (label 1 or 2) for 2..5 steps."""

    def __init__(self, dt: float = 20.0):
        self.dt = dt
        self.observation_space = SimpleNamespace(shape=(3,))
        self.action_space = SimpleNamespace(n=3)
        self.rng = np.random.RandomState(0)

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)
        return [seed]

    def new_trial(self):
        n_fix, n_dec = self.rng.randint(3, 7), self.rng.randint(2, 6)
        choice = self.rng.randint(1, 3)
        self.ob = self.rng.randn(n_fix + n_dec, 3).astype(np.float32)
        self.ob[:n_fix, 0] = 1.0  # fixation cue
        self.gt = np.zeros(n_fix + n_dec, dtype=np.int64)
        self.gt[n_fix:] = choice
        self.start_ind = {"fixation": 0, "decision": n_fix}
        self.end_ind = {"fixation": n_fix, "decision": n_fix + n_dec}
        return {"ground_truth": choice}


@pytest.fixture
def fake_env_factory():
    return FakeNeurogymEnv
