"""The linear theory of Schuessler et al. (2020, NeurIPS, §4; arXiv 2006.11036) and a simulator.

Model: a linear network ẋ = −x + W x + m u with constant input u = 1, read out at its fixed point
x* = B m, B = (I − W)⁻¹, z = wᵀ x*; ‖m‖² = N, ‖w‖² = 1/N; W0 = g J/√N. Only W is trained, by
gradient descent on L = ½ (ẑ − z)², so that ∂z/∂W = Bᵀ w (B m)ᵀ and each update is rank one.
Learning time τ = η · (number of updates) (gradient flow dW/dτ = −∂L/∂W).

Predictions (β = 1/(1 − g²), the gain of ‖B0 v‖² ≈ β ‖v‖² for a random vector v):

* first order: W1 = τ ẑ B0ᵀ w mᵀ B0ᵀ, rank one, ‖W1‖ = τ ẑ β (so z ≈ ẑ τ β²);
* the effective learning time τ̃ = β² τ sets the pace: convergence time ∝ (1 − g²)²;
* at convergence ‖ΔW‖ ≈ ẑ (1 − g²) — smaller for larger g;
* series in τ̃: z = ẑ[τ̃ − τ̃²/2 + τ̃³(1 + 8ẑ²β)/6], s1 = (ẑ/β)[τ̃ − τ̃²/2 + τ̃³(1 + 3.5ẑ²β)/6],
  s2 = ẑ³ τ̃³ / 12 (as stated in the paper; see the tests for what a simulation measures);
* shuffling W0 under the trained ΔW: L_shuff / L0 = g⁴ (2 − g²)².

``simulate`` trains that model by plain gradient descent in float64 so that tests can compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def beta(g):
    """β(g) = 1/(1 − g²), defined for 0 ≤ g < 1."""
    g = np.asarray(g, dtype=np.float64)
    if np.any(g >= 1) or np.any(g < 0):
        raise ValueError(f"the linear theory needs 0 <= g < 1, got {g}")
    return 1.0 / (1.0 - g**2)


def effective_time(tau, g):
    """τ̃ = β² τ."""
    return beta(g) ** 2 * np.asarray(tau, dtype=np.float64)


def convergence_time_ratio(g1, g2):
    """Predicted learning-time ratio t(g1) / t(g2) = ((1 − g1²)/(1 − g2²))²."""
    return (beta(g2) / beta(g1)) ** 2


def delta_norm_at_convergence(g, z_hat):
    """‖ΔW‖ at convergence ≈ ẑ (1 − g²)."""
    return np.asarray(z_hat, dtype=np.float64) / beta(g)


def shuffle_ratio(g):
    """L_shuff / L0 = g⁴ (2 − g²)² (W0 replaced by an independent draw, trained ΔW kept)."""
    g = np.asarray(g, dtype=np.float64)
    return g**4 * (2 - g**2) ** 2


def z_series(tau_tilde, z_hat, g):
    """z(τ̃) to third order: ẑ[τ̃ − τ̃²/2 + τ̃³(1 + 8ẑ²β)/6]."""
    t = np.asarray(tau_tilde, dtype=np.float64)
    return z_hat * (t - t**2 / 2 + t**3 * (1 + 8 * z_hat**2 * beta(g)) / 6)


def s1_series(tau_tilde, z_hat, g):
    """Largest singular value of ΔW: (ẑ/β)[τ̃ − τ̃²/2 + τ̃³(1 + 3.5ẑ²β)/6]."""
    t = np.asarray(tau_tilde, dtype=np.float64)
    b = beta(g)
    return z_hat / b * (t - t**2 / 2 + t**3 * (1 + 3.5 * z_hat**2 * b) / 6)


def s2_series(tau_tilde, z_hat):
    """Second singular value of ΔW: ẑ³ τ̃³ / 12 (leading order)."""
    return z_hat**3 * np.asarray(tau_tilde, dtype=np.float64) ** 3 / 12


def propagators(w0: np.ndarray, m: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B0 m [N], B0ᵀ w [N]) with B0 = (I − W0)⁻¹, by direct solves."""
    A = np.eye(len(m)) - w0
    return np.linalg.solve(A, m), np.linalg.solve(A.T, w)


def first_order_delta(w0, m, w, z_hat: float, tau: float) -> np.ndarray:
    """W1 = τ ẑ B0ᵀ w mᵀ B0ᵀ = τ ẑ (B0ᵀ w)(B0 m)ᵀ, the rank-one change after learning time τ."""
    bm, btw = propagators(np.asarray(w0, np.float64), np.asarray(m, np.float64),
                          np.asarray(w, np.float64))
    return tau * z_hat * np.outer(btw, bm)


@dataclass(frozen=True)
class LinearProblem:
    """One draw of the linear model: W0 [N, N], m [N] (‖m‖ = √N), w [N] (‖w‖ = 1/√N), ẑ, g."""

    W0: np.ndarray
    m: np.ndarray
    w: np.ndarray
    z_hat: float
    g: float

    @classmethod
    def draw(cls, n: int, g: float, z_hat: float, *, seed: int = 0,
             zero_initial_output: bool = False) -> LinearProblem:
        """Random W0, m, w. ``zero_initial_output`` projects w orthogonal to B0 m so that
        z0 = 0 exactly (the theory's large-N limit; at finite N, z0 ~ √(β/N) otherwise)."""
        rng = np.random.default_rng(seed)
        w0 = g * rng.standard_normal((n, n)) / np.sqrt(n)
        m, w = rng.standard_normal(n), rng.standard_normal(n)
        m = m / np.linalg.norm(m) * np.sqrt(n)
        if zero_initial_output:
            bm = np.linalg.solve(np.eye(n) - w0, m)
            w -= (w @ bm) / (bm @ bm) * bm
        return cls(w0, m, w / np.linalg.norm(w) / np.sqrt(n), float(z_hat), float(g))

    def output(self, W: np.ndarray) -> float:
        """z = wᵀ (I − W)⁻¹ m, by a direct solve."""
        return float(self.w @ np.linalg.solve(np.eye(len(self.m)) - W, self.m))

    def loss(self, W: np.ndarray) -> float:
        return 0.5 * (self.z_hat - self.output(W)) ** 2


@dataclass(frozen=True)
class LinearRun:
    """Result of ``simulate``: per update t = 0 … S, ``z`` and ``loss`` [S+1] (before update t),
    ``tau`` = η t [S+1]; ``svals`` [S+1, n_svals] of ΔW(t); ``delta`` the final ΔW [N, N]."""

    problem: LinearProblem
    lr: float
    tau: np.ndarray
    z: np.ndarray
    loss: np.ndarray
    svals: np.ndarray
    delta: np.ndarray

    @property
    def tau_tilde(self) -> np.ndarray:
        return effective_time(self.tau, self.problem.g)

    def convergence_step(self, threshold: float = 0.05) -> int | None:
        """First update t with loss(t) < threshold · loss(0)."""
        hit = np.flatnonzero(self.loss < threshold * self.loss[0])
        return int(hit[0]) if len(hit) else None


def simulate(problem: LinearProblem, *, lr: float, steps: int, n_svals: int = 3,
             refresh_every: int = 20, record_svals=True) -> LinearRun:
    """Gradient descent W ← W + η (ẑ − z) (Bᵀw)(Bm)ᵀ, float64.

    B = (I − W)⁻¹ is computed by a direct inverse at the start and every ``refresh_every``
    updates, and in between updated exactly for each rank-one step by Sherman–Morrison (O(N²)
    instead of O(N³)); the fixed point x* = B m is then exact up to round-off.
    ``record_svals``: True (every update), False, or a collection of update indices (the rest
    of ``svals`` stays 0).
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    p = problem
    n = len(p.m)
    W = p.W0.copy()
    B = np.linalg.inv(np.eye(n) - W)
    zs, svals = np.empty(steps + 1), np.zeros((steps + 1, n_svals))
    for t in range(steps + 1):
        x, y = B @ p.m, B.T @ p.w          # x* = B m, Bᵀ w
        zs[t] = p.w @ x
        if t > 0 and (record_svals is True or (record_svals and t in record_svals)):
            svals[t] = np.linalg.svd(W - p.W0, compute_uv=False)[:n_svals]
        if t == steps:
            break
        c = lr * (p.z_hat - zs[t])
        W += c * np.outer(y, x)
        if (t + 1) % refresh_every == 0:
            B = np.linalg.inv(np.eye(n) - W)
        else:  # (A − c y xᵀ)⁻¹ = B + c (B y)(xᵀ B) / (1 − c xᵀ B y)
            By, xB = B @ y, x @ B
            B += np.outer(By, xB) * (c / (1.0 - c * (x @ By)))
    tau = lr * np.arange(steps + 1)
    return LinearRun(p, lr, tau, zs, 0.5 * (p.z_hat - zs) ** 2, svals, W - p.W0)


def shuffled_loss(problem: LinearProblem, delta: np.ndarray, *, seed: int = 0,
                  mode: str = "permute") -> float:
    """Loss of W0' + ΔW, W0' = W0 with permuted entries (``"permute"``) or a fresh draw with
    the same gain (``"redraw"``)."""
    rng = np.random.default_rng(seed)
    w0 = problem.W0
    if mode == "permute":
        w0s = rng.permutation(w0.ravel()).reshape(w0.shape)
    elif mode == "redraw":
        w0s = problem.g * rng.standard_normal(w0.shape) / np.sqrt(len(w0))
    else:
        raise ValueError(f"mode must be 'permute' or 'redraw', got {mode!r}")
    return problem.loss(w0s + delta)
