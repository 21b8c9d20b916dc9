"""Task performance of rank-R truncations of ΔW, functional rank and convergence time.

Schuessler et al. (2020, NeurIPS), §3: replace the trained W = W0 + ΔW by W0 + ΔW_R (ΔW_R the
best rank-R approximation of ΔW) while keeping the *trained* input, readout and bias, and measure
the loss on a fresh test batch. The functional rank is the smallest R whose loss falls below 5% of
the loss at R = 0; the convergence time is the first update whose training loss falls below 5% of
the initial loss.

A ``NetworkSnapshot`` holds one network's parameters (float64 NumPy) at one snapshot of a
trajectory (or from a live model) together with its W0 and initial readout; every analysis
here, in ``shuffle`` and in ``alignment`` takes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..ensemble import check_member, select_member
from ..models import rate_dynamics as rd
from .matrix_rank import _as_float64, truncate

# Budget of float64 state entries (T·E·B·N, states and rates) for one evaluation call.
_MAX_ENTRIES = 2**24


@dataclass(frozen=True)
class NetworkSnapshot:
    """One network's parameters [N,N], [N,I], [O,N], [N], [N] at snapshot ``step`` and at k = 0."""

    W: np.ndarray
    U: np.ndarray
    V: np.ndarray
    b: np.ndarray
    x0: np.ndarray
    W0: np.ndarray
    U0: np.ndarray
    V0: np.ndarray
    b0: np.ndarray
    step: int | None = None

    @property
    def delta(self) -> np.ndarray:
        """ΔW = W − W0 [N, N]."""
        return self.W - self.W0


def _pick(value, member: int | None, ensemble: bool) -> np.ndarray:
    return select_member(_as_float64(value), member, ensemble)


def snapshot(source, *, k: int = -1, member: int | None = None) -> NetworkSnapshot:
    """Parameters of one network from a ``Trajectory`` (snapshot ``k`` and snapshot 0) or from a
    live ``RateRNN`` (its current parameters; W0, U0, V0 rebuilt exactly from its config).

    ``member`` selects an ensemble member (required for ensembles).
    """
    if hasattr(source, "parameter"):  # a Trajectory
        ensemble = source.ensemble
        if len(source) == 0:
            raise ValueError("the trajectory holds no snapshot yet")
        step = int(source.steps[k])
        current = {n: source.parameter(n)[k] for n in ("W", "U", "V", "b", "x0")}
        initial = {n: source.parameter(n)[0] for n in ("W", "U", "V", "b")}
    else:
        from ..models import RateRNN

        ensemble = source.is_ensemble
        rebuilt = RateRNN.from_config(source.config, dtype=torch.float64)
        step = None
        current = {n: getattr(source, n) for n in ("W", "U", "V", "b", "x0")}
        initial = {n: getattr(rebuilt, n) for n in ("W", "U", "V", "b")}
    member = check_member(member, ensemble)
    cur = {n: _pick(v, member, ensemble) for n, v in current.items()}
    ini = {n: _pick(v, member, ensemble) for n, v in initial.items()}
    return NetworkSnapshot(**cur, W0=ini["W"], U0=ini["U"], V0=ini["V"], b0=ini["b"], step=step)


def fresh_batch(task, batch_size: int = 512, *, seed: int = 0):
    """A fresh batch of ``batch_size`` trials (float64) drawn with its own seed."""
    gen = torch.Generator().manual_seed(seed)
    return task.sample(batch_size, generator=gen).to(dtype=torch.float64)


def network_outputs(model, W, U, V, b, x0, batch, *, seed: int = 0) -> torch.Tensor:
    """Outputs y = V r of E networks sharing the model's dynamics on one batch.

    The targets describe ``task.effector(y)`` (the identity except for ``reach``).

    Args:
        model: supplies α = dt/τ, φ and the noise σ (its own parameters are not used).
        W: [E, N, N]; U [E, N, I]; V [E, O, N]; b, x0 [E, N] (NumPy float64).
        batch: the test batch (shared by every network; private noise, drawn from
            ``seed + 1``, shared too).

    Returns:
        outputs [T, E, B, O] (float64), step t the output after input u[t].
    """
    T, B, N = batch.n_steps, batch.batch_size, W.shape[-1]
    noise_std = float(getattr(model.config, "noise", 0.0))
    p = rd.RateParams(*(torch.tensor(np.array(a)) for a in (W, U, V, b, x0)))
    noise = None
    if noise_std > 0:
        xi = torch.randn(T, 1, B, N, generator=torch.Generator().manual_seed(seed + 1),
                         dtype=torch.float64)
        noise = xi.expand(T, p.W.shape[0], B, N).contiguous()
    _, rates = rd.unroll_states(p, batch.inputs, alpha=model.alpha, phi=model.phi,
                                noise=noise, noise_std=noise_std)
    return rd.readout(p, rates[1:])


def evaluate_networks(model, task, W, U, V, b, x0, batch, *, seed: int = 0):
    """Loss (masked MSE) and task score of E networks sharing the model's dynamics.

    Args: as :func:`network_outputs` (networks are run in chunks that bound memory).

    Returns:
        (loss [E], score [E]) NumPy float64.
    """
    E = W.shape[0]
    T, B, N = batch.n_steps, batch.batch_size, W.shape[-1]
    chunk = max(1, _MAX_ENTRIES // (2 * (T + 1) * B * N))
    losses, scores = [], []
    for lo in range(0, E, chunk):
        sl = slice(lo, min(E, lo + chunk))
        out = network_outputs(model, W[sl], U[sl], V[sl], b[sl], x0[sl], batch, seed=seed)
        losses.append(task.loss(out, batch).numpy())
        scores.append(np.asarray(task.score(out, batch), dtype=np.float64).reshape(-1))
    return np.concatenate(losses), np.concatenate(scores)


def _stack(snap: NetworkSnapshot, Ws: Sequence[np.ndarray], *, initial_io: bool = False):
    E = len(Ws)
    U, V, b = (snap.U0, snap.V0, snap.b0) if initial_io else (snap.U, snap.V, snap.b)
    def rep(a):
        return (np.broadcast_to(a, (E, *a.shape)))
    return np.stack(Ws), rep(U), rep(V), rep(b), rep(snap.x0)


@dataclass(frozen=True)
class TruncationResult:
    """Performance of W0 + ΔW_R with trained U, V, b, per rank R, on one test batch.

    ``loss_full``/``score_full``: the trained network itself; ``loss_initial``: L0, the
    network at snapshot 0 (W0 and initial U, V, b).
    """

    ranks: np.ndarray
    loss: np.ndarray
    score: np.ndarray
    loss_full: float
    score_full: float
    loss_initial: float
    score_name: str

    def functional_rank(self, threshold: float = 0.05) -> int | None:
        return functional_rank(self.ranks, self.loss, threshold=threshold)


def performance_vs_rank(model, task, ranks: Sequence[int], *, trajectory=None, k: int = -1,
                        member: int | None = None, batch_size: int = 512,
                        seed: int = 0) -> TruncationResult:
    """Loss and score of W0 + ΔW_R for each R in ``ranks`` (trained U, V, b kept).

    Args:
        model: a ``RateRNN``; gives the dynamics, and the parameters when ``trajectory`` is None.
        task: the task to score on (a fresh test batch of ``batch_size`` trials from ``seed``).
        ranks: truncation ranks R ≥ 0 (R = 0: W0 with the trained U, V, b; R ≥ N: untruncated).
        trajectory, k: take the parameters of snapshot ``k`` of a trajectory instead.
        member: ensemble member.
    """
    ranks = np.asarray(list(ranks), dtype=int)
    if ranks.ndim != 1 or len(ranks) == 0 or ranks.min() < 0:
        raise ValueError(f"ranks must be a non-empty list of integers >= 0, got {ranks}")
    snap = snapshot(model if trajectory is None else trajectory, k=k, member=member)
    batch = fresh_batch(task, batch_size, seed=seed)
    Ws = [truncate(snap.W0, snap.delta, int(r)) for r in ranks] + [snap.W]
    loss, score = evaluate_networks(model, task, *_stack(snap, Ws), batch, seed=seed)
    l0, _ = evaluate_networks(model, task, *_stack(snap, [snap.W0], initial_io=True), batch,
                              seed=seed)
    return TruncationResult(ranks=ranks, loss=loss[:-1], score=score[:-1],
                            loss_full=float(loss[-1]), score_full=float(score[-1]),
                            loss_initial=float(l0[0]), score_name=task.score_name)


def truncation_over_training(model, task, trajectory, ranks: Sequence[int], *,
                             snapshots: Sequence[int] | None = None, member: int | None = None,
                             batch_size: int = 512, seed: int = 0) -> dict[str, np.ndarray]:
    """``performance_vs_rank`` at each snapshot: {"steps" [K], "loss" [K, R], "score" [K, R],
    "functional_rank" [K] (NaN where undefined)}."""
    ks = list(range(1, len(trajectory))) if snapshots is None else list(snapshots)
    res = [performance_vs_rank(model, task, ranks, trajectory=trajectory, k=k, member=member,
                               batch_size=batch_size, seed=seed) for k in ks]
    fr = [r.functional_rank() for r in res]
    return {"steps": np.asarray(trajectory.steps)[ks], "loss": np.stack([r.loss for r in res]),
            "score": np.stack([r.score for r in res]),
            "functional_rank": np.array([np.nan if f is None else f for f in fr])}


def functional_rank(ranks, losses, *, threshold: float = 0.05) -> int | None:
    """Smallest R with loss(R) < threshold · loss(R = 0) (Schuessler et al. 2020); ``ranks`` must
    contain 0. None when no listed rank gets there."""
    ranks, losses = np.asarray(ranks), np.asarray(losses, dtype=np.float64)
    if 0 not in ranks:
        raise ValueError(f"ranks must include 0 (the reference loss), got {ranks.tolist()}")
    ref = losses[np.flatnonzero(ranks == 0)[0]]
    ok = np.sort(ranks[losses < threshold * ref])
    return int(ok[0]) if len(ok) else None


def convergence_time(losses, steps=None, *, threshold: float = 0.05) -> int | None:
    """First update whose loss is below ``threshold`` · loss at the first entry (None: never).

    Args:
        losses: [K] training losses (per update from metrics.csv, or per snapshot).
        steps: [K] update index of each loss (default 0 … K−1).
    """
    losses = np.asarray(losses, dtype=np.float64)
    steps = np.arange(len(losses)) if steps is None else np.asarray(steps)
    if losses.ndim != 1 or len(losses) != len(steps) or len(losses) == 0:
        raise ValueError(f"losses and steps must be 1-d of the same non-zero length, got "
                         f"{losses.shape} and {steps.shape}")
    hit = np.flatnonzero(losses < threshold * losses[0])
    return int(steps[hit[0]]) if len(hit) else None
