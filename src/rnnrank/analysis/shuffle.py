"""Shuffle controls: does the trained ΔW work only together with *its* W0?

Schuessler et al. (2020, NeurIPS), §3: permute all N² entries of W0, add the trained ΔW, and
compare the loss with L0, the loss before training. If ΔW were a self-contained solution the
shuffled network would still solve the task (ratio ≈ 0); for g ≳ 0.5 it does not (ratio ≈ 1):
ΔW is built on the random part of the connectivity. Three controls, each with trained U, V, b:

* ``"permuted_w0"``: W0 with its N² entries permuted, + ΔW (the paper's control);
* ``"redrawn_w0"``: a fresh Gaussian W0' with the same entry variance as W0, + ΔW;
* ``"shuffled_delta"``: W0 + ΔW with ΔW's N² entries permuted (destroys ΔW's low-rank structure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .truncation import _stack, evaluate_networks, fresh_batch, snapshot

CONTROLS = ("permuted_w0", "redrawn_w0", "shuffled_delta")


@dataclass(frozen=True)
class ShuffleResult:
    """Losses on one test batch: the trained network, L0 (the initial network), and each
    control per draw ``[n_draws]``; ``ratio(name)`` is the control's mean loss / L0."""

    loss_trained: float
    loss_initial: float
    controls: dict[str, np.ndarray]

    def ratio(self, control: str = "permuted_w0") -> float:
        if control == "trained":
            return self.loss_trained / self.loss_initial
        if control not in self.controls:
            raise ValueError(f"control must be 'trained' or one of {CONTROLS}, got {control!r}")
        return float(np.mean(self.controls[control]) / self.loss_initial)

    def ratios(self) -> dict[str, float]:
        return {"trained": self.ratio("trained"), **{c: self.ratio(c) for c in self.controls}}


def _permute(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(a.ravel()).reshape(a.shape)


def shuffle_test(model, task, *, trajectory=None, k: int = -1, member: int | None = None,
                 n_draws: int = 3, batch_size: int = 512, seed: int = 0) -> ShuffleResult:
    """Run the three shuffle controls on the trained network (snapshot ``k`` of ``trajectory``,
    or the live ``model``), each ``n_draws`` times, on a fresh test batch from ``seed``.

    Returns:
        a ``ShuffleResult``; ``.ratio("permuted_w0")`` is the paper's L_shuff / L0.
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    snap = snapshot(model if trajectory is None else trajectory, k=k, member=member)
    rng = np.random.default_rng(seed)
    w0, dw = snap.W0, snap.delta
    std = float(w0.std())
    Ws = [snap.W]
    for _ in range(n_draws):
        Ws.append(_permute(w0, rng) + dw)
    for _ in range(n_draws):
        Ws.append(std * rng.standard_normal(w0.shape) + dw)
    for _ in range(n_draws):
        Ws.append(w0 + _permute(dw, rng))
    batch = fresh_batch(task, batch_size, seed=seed)
    loss, _ = evaluate_networks(model, task, *_stack(snap, Ws), batch, seed=seed)
    l0, _ = evaluate_networks(model, task, *_stack(snap, [w0], initial_io=True), batch, seed=seed)
    controls = {c: loss[1 + i * n_draws: 1 + (i + 1) * n_draws] for i, c in enumerate(CONTROLS)}
    return ShuffleResult(float(loss[0]), float(l0[0]), controls)
