"""Fixed points of a network's step and their stability (Sussillo & Barak 2013, Neural Comput.).

A fixed point of the step x ← F(x, u*) under a constant input u* is a zero of
q(x) = ½‖F(x) − x‖². Starting from states sampled on the network's own trajectories (so the search
looks where the dynamics lives), every start is refined at once by damped Newton
(Levenberg–Marquardt) steps on G(x) = F(x) − x with A = ∂F/∂x − I,

    (AᵀA + μ I) δ = −Aᵀ G,        x ← x + δ if q decreases (μ ← μ/3), else μ ← 3μ,

which converges quadratically to fixed points of any stability (stable, saddles, unstable) and,
where A is singular, still descends on q. Converged points (q < tol) are deduplicated and
classified by the eigenvalues of the one-step Jacobian ∂F/∂x there: stable when all |eig| < 1
(continuous time: Re eig of (∂F/∂x − I)/α < 0).

Computed in float64 whatever the model's dtype. Works for a ``RateRNN`` (analytic Jacobian) and
any model with ``step`` (autograd).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .system import System, as_system


@dataclass(frozen=True)
class FixedPoints:
    """Distinct fixed points of one network, most stable first.

    Attributes:
        points: [P, D] states x* with F(x*, u*) = x*.
        residual: [P] q(x*) = ½‖F(x*) − x*‖².
        eigenvalues: [P, D] complex eigenvalues of the one-step Jacobian ∂F/∂x at x*, by
            decreasing modulus.
        stable: [P] bool, all |eig| < 1.
        n_unstable: [P] number of eigenvalues with |eig| > 1 (0: stable; saddles have some).
        counts: [P] how many starts converged to each point.
        n_starts: starts tried; ``n_converged``: of them, how many reached q < tol.
    """

    points: Tensor
    residual: Tensor
    eigenvalues: Tensor
    stable: Tensor
    n_unstable: Tensor
    counts: Tensor
    n_starts: int
    n_converged: int

    def __len__(self) -> int:
        return self.points.shape[0]


def fixed_points(
    model,
    *,
    inputs: Tensor | None = None,
    n_init: int = 256,
    tol: float = 1e-16,
    seed: int = 0,
    max_iter: int = 200,
    sample_steps: int = 200,
    jitter: float = 0.01,
    dedup: float = 1e-5,
) -> FixedPoints | list[FixedPoints]:
    """Fixed points of ``model`` under a constant input (see module docstring).

    Args:
        model: a ``RateRNN`` (single or ensemble) or a model with ``step``.
        inputs: the constant input u* [I] (None: zero input, the bias acts).
        n_init: starts, sampled from ``n_init`` trajectories run ``sample_steps`` steps under
            u* from random states (N(0, 1) per unit) and stopped at uniformly random times,
            plus N(0, jitter²) noise.
        tol: convergence threshold on q (float64: 1e-16 ≈ ‖F(x) − x‖ < 1.4e-8).
        seed: of the starts.
        max_iter: Levenberg–Marquardt iterations.
        dedup: two points closer than ``dedup · √D`` (Euclidean) are the same point.

    Returns:
        ``FixedPoints`` for a single network; a list of them (one per member) for an ensemble.
    """
    for name, value in (("n_init", n_init), ("max_iter", max_iter),
                        ("sample_steps", sample_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    system = as_system(model, dtype=torch.float64)
    u = torch.zeros(system.n_in, dtype=torch.float64) if inputs is None else \
        torch.as_tensor(inputs).to(torch.float64).reshape(-1)
    if u.shape != (system.n_in,):
        raise ValueError(f"inputs must be a constant input of shape [{system.n_in}], "
                         f"got {tuple(torch.as_tensor(inputs).shape)}")
    u = u.to(system.device).expand(n_init, -1)
    gen = torch.Generator().manual_seed(seed)
    x = _starts(system, u, n_init, sample_steps, jitter, gen)
    x, q = _levenberg_marquardt(system, x, u, max_iter=max_iter, tol=tol)
    distinct = [_deduplicate(x[e], q[e], tol=tol, dedup=dedup) for e in range(system.E)]
    # one batched Jacobian for every member's points (padded with the member's first point)
    P = max(1, max(len(d[0]) for d in distinct))
    pad = torch.zeros(system.E, P, system.dim, dtype=x.dtype, device=x.device)
    for e, (pts, _, _) in enumerate(distinct):
        pad[e, : len(pts)] = pts
    J = system.jacobian(pad, u[:1].expand(P, -1))
    found = [_classify(*distinct[e], J[e, : len(distinct[e][0])], n_starts=n_init,
                       n_converged=int((q[e] < tol).sum())) for e in range(system.E)]
    return found if system.is_ensemble else found[0]


def _starts(system: System, u: Tensor, n: int, steps: int, jitter: float,
            gen: torch.Generator) -> Tensor:
    """States on n trajectories, each stopped at its own random time: [E, n, D]."""
    E, D = system.E, system.dim
    x = torch.randn(E, n, D, generator=gen, dtype=torch.float64).to(system.device)
    stop = torch.randint(0, steps + 1, (n,), generator=gen).to(system.device)
    out = x.clone()
    for t in range(1, steps + 1):
        x = system.step(x, u)
        out = torch.where((stop == t)[None, :, None], x, out)
    noise = torch.randn(E, n, D, generator=gen, dtype=torch.float64).to(system.device)
    return out + jitter * noise


def _levenberg_marquardt(system: System, x: Tensor, u: Tensor, *, max_iter: int, tol: float):
    """Damped Newton on G(x) = F(x) − x for every start at once: (x, q) [E, n, D], [E, n]."""
    D = system.dim
    eye = torch.eye(D, dtype=x.dtype, device=x.device)
    G = system.step(x, u) - x
    q = 0.5 * G.pow(2).sum(-1)
    mu = torch.full_like(q, 1e-3)
    for _ in range(max_iter):
        active = q >= tol
        if not active.any():
            break
        A = system.jacobian(x, u) - eye
        At = A.transpose(-1, -2)
        lhs = At @ A + mu[..., None, None] * eye
        delta = -torch.linalg.solve(lhs, (At @ G[..., None]))[..., 0]
        x_new = x + delta
        G_new = system.step(x_new, u) - x_new
        q_new = 0.5 * G_new.pow(2).sum(-1)
        better = (q_new < q) & active
        x = torch.where(better[..., None], x_new, x)
        G = torch.where(better[..., None], G_new, G)
        q = torch.where(better, q_new, q)
        mu = torch.where(better, (mu / 3).clamp(min=1e-12), (mu * 3).clamp(max=1e12))
    return x, q


def _deduplicate(x: Tensor, q: Tensor, *, tol: float, dedup: float):
    """Converged points of one member (x [n, D]) with duplicates merged: (points, q, counts)."""
    ok = q < tol
    pts, res = x[ok], q[ok]
    keep, counts = [], []
    radius = dedup * pts.shape[-1] ** 0.5
    for i in range(pts.shape[0]):
        for j, kept in enumerate(keep):
            if torch.linalg.vector_norm(pts[i] - pts[kept]) < radius:
                counts[j] += 1
                break
        else:
            keep.append(i)
            counts.append(1)
    return pts[keep], res[keep], torch.tensor(counts, dtype=torch.long)


def _classify(pts: Tensor, res: Tensor, counts: Tensor, J: Tensor, *, n_starts: int,
              n_converged: int) -> FixedPoints:
    """Eigenvalues of the Jacobians J [P, D, D] at the points; sorted most stable first."""
    eig = torch.linalg.eigvals(J)  # [P, D]
    eig = torch.gather(eig, -1, eig.abs().argsort(dim=-1, descending=True))
    n_unstable = (eig.abs() > 1.0).sum(-1)
    order = torch.argsort(eig.abs()[:, 0]) if len(pts) else torch.zeros(0, dtype=torch.long)
    return FixedPoints(points=pts[order], residual=res[order], eigenvalues=eig[order],
                       stable=(n_unstable == 0)[order], n_unstable=n_unstable[order],
                       counts=counts[order], n_starts=n_starts, n_converged=n_converged)
