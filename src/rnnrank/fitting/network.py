"""The network a low-tensor-rank fit found, on any trial, as a ``RateRNN``.

A fit (``fit_ltr``) describes trial k by the leaky rate network

    x[j+1] = (1 − α) x[j] + α (W(k) φ(x[j]) + U v[j]),   W(k) = â diag(c(k)) b̂ᵀ,
    y[j]   = D φ(x[j])                    (+ the readout offset d, not part of the dynamics)

started from x[0] = â s0[condition], with U = â (``inputs="span"``) or I (``"free"``) and the
per-condition preparatory inputs v (``Fit.params["v"]``, [S, C, width]) acting for its first S
steps. That is ``RateRNN``'s equation with τ = 1, dt = α and b = 0, so the fitted network is one —
and every analysis of a trained network (``rr.dynamics.lyapunov_spectrum``, ``lyapunov_max``,
``fixed_points``, truncation) applies to it unchanged. Several trials give an ensemble, one member
per trial: the dynamics over learning in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models import RateRNN


def fitted_network(fit, trials: int | Sequence[int], *, condition: int = 0,
                   dtype: torch.dtype = torch.float64) -> RateRNN:
    """The fitted network of trial(s) ``trials`` (indices into the recording's trials).

    Args:
        fit: a ``rr.fitting.Fit``.
        trials: one trial index (a single network) or several (an ensemble, member e on
            ``trials[e]``).
        condition: whose initial state â s0[condition] becomes ``x0``.
        dtype: of the parameters (float64: analyses of dynamics compare with theory).

    Returns:
        a ``RateRNN`` with n_in = R (or N), n_rec = N, n_out = n recorded neurons; its W is
        W(k), U the input map, V = D, b = 0, x0 the condition's initial state; nothing trainable.
    """
    c, a, b = (t.detach().to(dtype) for t in fit.factors)
    K = c.shape[0]
    single = isinstance(trials, int)
    ks = [trials] if single else [int(k) for k in trials]
    if not ks or min(ks) < -K or max(ks) >= K:
        raise ValueError(f"trials must index the fit's {K} trials, got {trials!r}")
    n_cond = fit.params["s0"].shape[0]
    if not 0 <= condition < n_cond:
        raise ValueError(f"condition must be in 0..{n_cond - 1}, got {condition}")
    cfg = fit.cfg
    N = a.shape[0]
    U = a if cfg.inputs == "span" else torch.eye(N, dtype=dtype)
    D = fit.readout.detach().to(dtype)
    model = RateRNN(U.shape[1], N, D.shape[0], gain=0.0 if single else [0.0] * len(ks),
                    seed=0, nonlinearity=cfg.nonlinearity, tau=1.0, dt=cfg.alpha,
                    trainable=(), dtype=dtype)
    W = torch.stack([(a * c[k]) @ b.T for k in ks])
    x0 = fit.params["s0"][condition].detach().to(dtype) @ a.T
    E = len(ks)
    values = {"W": W, "U": U.expand(E, -1, -1), "V": D.expand(E, -1, -1),
              "b": torch.zeros(E, N, dtype=dtype), "x0": x0.expand(E, -1)}
    with torch.no_grad():
        for name, value in values.items():
            getattr(model, name).copy_(value[0] if single else value)
    return model


def preparatory_inputs(fit, condition: int, n_steps: int) -> torch.Tensor:
    """The inputs that drive ``fitted_network`` through the fit's trial of ``condition``:
    v[:, condition] for the preparatory steps, then zeros, [n_steps, 1, width] (batch of one)."""
    v = fit.params["v"][:, condition].detach()
    out = torch.zeros(n_steps, 1, v.shape[-1], dtype=v.dtype)
    S = min(n_steps, v.shape[0])
    out[:S, 0] = v[:S]
    return out
