"""The low-tensor-rank RNN of a fit: parameters and the forward pass over all trials at once.

Model (Pellegrino, Cayco-Gajic & Chadwick 2023, NeurIPS), on rnnrank's leaky rate step
(docs/concepts.md, ``models/rate_dynamics.step``) with J(k) applied in factorised form:

    x_k[j+1] = (1 − α) x_k[j] + α (J(k) φ(x_k[j]) + U v[j, cond(k)])
    J(k)     = Σ_r c_r(k) â_r b̂_rᵀ          (â_r, b̂_r unit-norm; all scale in c)
    ŷ_k[t]   = link(D φ(x_k[P + t]) + d)     (D [n, N]: a learned gain times a semi-orthogonal Q)

with c = L Z + μ the GP reparametrisation (``gp``), x_k[0] = â s0[cond(k)] a per-condition initial
state (``initial_state="shared"``: one s0 for all trials, as the reference code — conditions
then differ through the preparatory input only), and inputs v acting during the preparatory
period: P extra steps before the first recorded bin plus the recorded bins with time < 0.
With ``inputs="span"`` (the paper's default) U = â and v [S, C, R], so the state stays in
span{â_r}; ``inputs="free"`` uses U = I, v [S, C, N]. The recurrence costs O(K·N·R) per step
— never a K×N×N tensor — and all K trials of a step are one batched ``step``.

Shapes: Z [K, R], μ [R], A, B [N, R], s0 [C or 1, R], v [S, C, R or N], D_raw [n, N], d [n];
log_gain [] (``readout="scaled"`` only); predictions [T, K, n].

Readouts (``ModelConfig.readout``):

- ``"scaled"`` (default): D = γ Q with Q semi-orthogonal and a learned scalar gain γ = exp(log_gain)
  — LtrRNN's ``OrthogonalScaled(scaling=True)``. Without γ a bounded φ caps the readout:
  ‖Q φ(x)‖ ≤ ‖φ(x)‖ ≤ √N · max|φ| per bin, while n per-neuron z-scored units have norm ≈ √n per
  bin, so with n > N the fit cannot reach the data (issue 31.1: held-out nMSE 0.386 at scale 1
  against 0.050 for the same data × 0.4). γ removes that cap and nothing else: Q still fixes
  the readout's directions up to one scale.
- ``"orthogonal"``: D = Q, no gain — the readout of the paper (Pellegrino et al. 2023).
- ``"free"``: D unconstrained [n, N].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..models import rate_dynamics as rd
from ..models.recurrence import Factorised
from ..nonlinearities import get_nonlinearity

PARAM_NAMES = ("A", "B", "Z", "mu", "s0", "v", "D_raw", "d", "log_shape", "log_gain")
READOUTS = ("scaled", "orthogonal", "free")


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of the fitted network (sizes are taken from the recording)."""

    rank: int
    n_rec: int
    alpha: float = 0.2
    n_prep: int = 5
    inputs: str = "span"
    readout: str = "scaled"
    nonlinearity: str = "tanh"
    initial_state: str = "condition"

    def __post_init__(self) -> None:
        if self.initial_state not in ("condition", "shared"):
            raise ValueError(f"initial_state must be 'condition' or 'shared', got "
                             f"{self.initial_state!r}")
        if int(self.rank) < 1:
            raise ValueError(f"rank must be ≥ 1, got {self.rank}")
        if self.n_rec < self.rank:
            raise ValueError(f"n_rec must be ≥ rank, got n_rec={self.n_rec}, rank={self.rank}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha = dt/τ must be in (0, 1], got {self.alpha}")
        if self.inputs not in ("span", "free"):
            raise ValueError(f"inputs must be 'span' or 'free', got {self.inputs!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS} ('scaled': semi-orthogonal with "
                             f"a learned gain, the default), got {self.readout!r}")
        if self.n_prep < 0:
            raise ValueError(f"n_prep must be ≥ 0, got {self.n_prep}")


def unit_columns(M: Tensor) -> Tensor:
    """Columns scaled to unit norm."""
    return M / M.norm(dim=0, keepdim=True).clamp_min(1e-12)


def semi_orthogonal(M: Tensor) -> Tensor:
    """The nearest-by-QR matrix with orthonormal rows (n ≤ N) or columns (n > N), same shape."""
    n, N = M.shape
    if n <= N:
        Q, R = torch.linalg.qr(M.T)
        return (Q * torch.sign(torch.diagonal(R))).T
    Q, R = torch.linalg.qr(M)
    return Q * torch.sign(torch.diagonal(R))


def init_params(cfg: ModelConfig, *, n_trials: int, n_out: int, n_cond: int, n_steps_in: int,
                seed: int, dtype=torch.float32) -> dict[str, Tensor]:
    """Initial raw parameters (a = b as in the reference code: J starts symmetric, μ = 1).

    With ``readout="scaled"`` the gain starts at γ = 1 (log_gain = 0): the paper's readout
    exactly; ``fit_ltr`` raises it when the data are larger than γ = 1 can reach."""
    g = torch.Generator().manual_seed(int(seed))
    N, R = cfg.n_rec, cfg.rank
    A = torch.randn(N, R, generator=g, dtype=torch.float64)
    width = R if cfg.inputs == "span" else N
    p = {
        "A": A, "B": A.clone(),
        "Z": torch.zeros(n_trials, R, dtype=torch.float64),
        "mu": torch.ones(R, dtype=torch.float64),
        "s0": 0.1 * torch.randn(n_cond if cfg.initial_state == "condition" else 1, R,
                                generator=g, dtype=torch.float64),
        "v": 0.1 * torch.randn(n_steps_in, n_cond, width, generator=g,
                               dtype=torch.float64),
        "D_raw": semi_orthogonal(torch.randn(n_out, N, generator=g, dtype=torch.float64)),
        "d": torch.zeros(n_out, dtype=torch.float64),
        "log_shape": torch.zeros(n_out, dtype=torch.float64),
    }
    if cfg.readout == "scaled":
        p["log_gain"] = torch.zeros((), dtype=torch.float64)
    return {k: v.to(dtype) for k, v in p.items()}


def factors(p: dict[str, Tensor], L: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(c [K, R], â [N, R], b̂ [N, R]) from raw parameters and the GP factor L [K, K]."""
    c = L.to(p["Z"].dtype) @ p["Z"] + p["mu"]
    return c, unit_columns(p["A"]), unit_columns(p["B"])


def initial_states(p: dict[str, Tensor], condition: Tensor) -> Tensor:
    """s0 of each trial [K, R]: its condition's, or the shared one when s0 has one row."""
    s0 = p["s0"]
    return s0[condition] if s0.shape[0] > 1 else s0.expand(len(condition), -1)


def readout_matrix(p: dict[str, Tensor], cfg: ModelConfig) -> Tensor:
    """D [n, N]: γ Q (``"scaled"``), Q (``"orthogonal"``) or D_raw (``"free"``); Q = the
    semi-orthogonal matrix nearest D_raw by QR, γ = exp(log_gain)."""
    if cfg.readout == "free":
        return p["D_raw"]
    Q = semi_orthogonal(p["D_raw"])
    return Q * p["log_gain"].exp() if cfg.readout == "scaled" else Q


def n_input_steps(cfg: ModelConfig, times: Tensor) -> int:
    """Steps that receive the preparatory input: P extra steps + recorded bins with t < 0."""
    return cfg.n_prep + int((times < 0).sum())


def simulate(p: dict[str, Tensor], cfg: ModelConfig, c: Tensor, a: Tensor, b: Tensor,
             condition: Tensor, n_bins: int) -> tuple[Tensor, Tensor]:
    """Unroll all K trials: (states at the recorded bins [T, K, N], input drive [S, K, N]).

    Uses ``rate_dynamics.step`` with a ``Factorised`` recurrence (one c per trial).
    """
    phi = get_nonlinearity(cfg.nonlinearity)
    N, K = a.shape[0], c.shape[0]
    if cfg.inputs == "span":
        U = a
    else:
        U = torch.eye(N, dtype=a.dtype)
    zero = torch.zeros(1, N, dtype=a.dtype)
    params = rd.RateParams(W=Factorised(a[None], b[None], c[None]), U=U[None],
                           V=torch.zeros(1, 1, N, dtype=a.dtype), b=zero, x0=zero)
    v = p["v"][:, condition]  # [S, K, width]
    x = (initial_states(p, condition) @ a.T)[None]  # [1, K, N]
    S = v.shape[0]
    zero_u = torch.zeros(K, U.shape[1], dtype=a.dtype)
    states = []
    total = cfg.n_prep + n_bins
    for j in range(total):
        if j >= cfg.n_prep:
            states.append(x[0])
        if j == total - 1:
            break
        u = v[j] if j < S else zero_u
        x = rd.step(params, x, u, alpha=cfg.alpha, phi=phi)
    drive = v @ U.T
    return torch.stack(states), drive


def simulate_latent(p: dict[str, Tensor], cfg: ModelConfig, c: Tensor, a: Tensor, b: Tensor,
                    condition: Tensor, n_bins: int) -> tuple[Tensor, Tensor]:
    """``simulate`` for ``inputs="span"`` in latent coordinates with the hand-derived backward
    pass of ``ltr_adjoint`` (same numbers, several times faster)."""
    from .ltr_adjoint import latent_unroll

    s = latent_unroll(initial_states(p, condition), p["v"][:, condition], a, b, c, alpha=cfg.alpha,
                      nonlinearity=cfg.nonlinearity, n_steps=cfg.n_prep + n_bins - 1)
    return s[cfg.n_prep:] @ a.T, p["v"][:, condition] @ a.T


def predict_eta(p: dict[str, Tensor], cfg: ModelConfig, c: Tensor, condition: Tensor,
                n_bins: int, *, fast: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """(η [T, K, n] readout before the link, states [T, K, N], input drive [S, K, N]) for
    trial factors c [K, R] (from ``factors``, or GP-interpolated at new trials).

    ``fast`` uses the latent unroll with its hand-derived backward pass when the inputs are in
    span{a}; otherwise (or ``fast=False``) autograd through ``rate_dynamics.step``.
    """
    a, b = unit_columns(p["A"]), unit_columns(p["B"])
    if fast and cfg.inputs == "span":
        states, drive = simulate_latent(p, cfg, c, a, b, condition, n_bins)
    else:
        states, drive = simulate(p, cfg, c, a, b, condition, n_bins)
    phi = get_nonlinearity(cfg.nonlinearity)
    D = readout_matrix(p, cfg)
    eta = phi.f(states) @ D.T + p["d"]
    return eta, states, drive
