"""The linear model of Schuessler et al. (2020, §4) as the authors simulated it.

``generate_linear.ipynb`` (scenario ``fig_3_4``; facts in shared/REFERENCES.md §1): N = 1024,
g = 0 … 0.9 in steps of 0.1, target ẑ ∈ {0.5, 1, 2}, plain SGD with one trial per epoch and
lr = lr0·(1 − g²)² (lr0 = 0.015 / 0.009 / 0.003 for the three ẑ), 200 epochs, 5 independent draws
of (W0, m, w) per (ẑ, g); losses normalised by ẑ²/2 (the loss of z = 0, not a measured L0).

Their network integrates ẋ = −x + Wx + mu for 101 time units before reading out, long past the
slowest time constant 1/(1 − g) ≤ 10, so each update is the gradient at the fixed point
x* = (I − W)⁻¹m that ``linear_theory.simulate`` computes exactly (float64).

Predictions drawn over the simulations: learning time to 5 % of ẑ²/2 ∝ (1 − g²)²,
‖ΔW‖ ≈ ẑ(1 − g²) at convergence, L_shuff/(ẑ²/2) = g⁴(2 − g²)².
"""

from __future__ import annotations

import numpy as np

from ...analysis import linear_theory as lt
from .claims import mean_se_or_none


def simulate_one(n: int, g: float, z_hat: float, lr0: float, epochs: int, seed: int,
                 *, threshold: float = 0.05, n_shuffles: int = 1) -> dict:
    """One draw of the authors' linear experiment.

    Returns a dict: ``loss`` [epochs+1] normalised by ẑ²/2; ``epoch_c`` (first epoch with
    loss < threshold, None if never); ``time_c`` = lr·epoch_c (learning time τ, None if never);
    ``delta_norm`` ‖ΔW‖_F after the last epoch; ``shuffle`` L(permuted W0 + ΔW)/(ẑ²/2),
    averaged over ``n_shuffles`` permutations (the authors: 1); ``z0`` the initial output.

    The permutations come from a stream independent of the one that drew W0 (seeding both
    with the same integer correlates the permutation with W0's entries and biases the ratio).
    """
    if not 0 <= g < 1:
        raise ValueError(f"the linear model needs 0 <= g < 1, got {g}")
    lr = lr0 * (1 - g**2) ** 2
    p = lt.LinearProblem.draw(n, g, z_hat, seed=seed)
    run = lt.simulate(p, lr=lr, steps=epochs, record_svals=False, refresh_every=50)
    l_ref = z_hat**2 / 2
    loss = run.loss / l_ref
    hit = np.flatnonzero(loss < threshold)
    epoch_c = int(hit[0]) if len(hit) else None
    return {"g": float(g), "z_hat": float(z_hat), "seed": int(seed), "lr": float(lr),
            "loss": loss.tolist(), "z0": float(run.z[0]), "epoch_c": epoch_c,
            "time_c": None if epoch_c is None else lr * epoch_c,
            "delta_norm": float(np.linalg.norm(run.delta)),
            "shuffle": float(np.mean([lt.shuffled_loss(p, run.delta, seed=[seed, 1, k])
                                      for k in range(n_shuffles)])) / l_ref}


def run_linear(n: int, gains, z_hats, lr0s, *, epochs: int = 200, draws: int = 5,
               n_shuffles: int = 1) -> list[dict]:
    """Every (ẑ, g, draw) of the experiment; draw d of (ẑ_j, g_i) uses seed 1000 j + 100 d + i,
    so every network has its own W0, m, w (``same_connectivity = False``)."""
    if len(z_hats) != len(lr0s):
        raise ValueError(f"need one lr0 per ẑ, got {len(z_hats)} ẑ and {len(lr0s)} lr0")
    return [simulate_one(n, g, z, lr0, epochs, seed=1000 * j + 100 * d + i,
                         n_shuffles=n_shuffles)
            for j, (z, lr0) in enumerate(zip(z_hats, lr0s, strict=True))
            for i, g in enumerate(gains) for d in range(draws)]


def summarise_linear(rows: list[dict]) -> list[dict]:
    """Per (ẑ, g): means ± s.e. over draws beside the theory: shuffle vs g⁴(2 − g²)², ‖ΔW‖ vs
    ẑ(1 − g²), learning time relative to g = 0 vs (1 − g²)²."""
    out = []
    keys = sorted({(r["z_hat"], r["g"]) for r in rows})
    t0 = {z: mean_se_or_none(r["time_c"] for r in rows if r["z_hat"] == z and r["g"] == 0.0)[0]
          for z in {k[0] for k in keys}}
    for z, g in keys:
        rs = [r for r in rows if r["z_hat"] == z and r["g"] == g]
        sh, sh_se, n = mean_se_or_none(r["shuffle"] for r in rs)
        dn, dn_se, _ = mean_se_or_none(r["delta_norm"] for r in rs)
        tc, tc_se, n_c = mean_se_or_none(r["time_c"] for r in rs)
        ref = t0.get(z)
        out.append({
            "z_hat": z, "g": g, "n": n, "n_converged": n_c,
            "shuffle": sh, "shuffle_se": sh_se, "shuffle_theory": float(lt.shuffle_ratio(g)),
            "delta_norm": dn, "delta_norm_se": dn_se,
            "delta_norm_theory": float(lt.delta_norm_at_convergence(g, z)),
            "time_c": tc, "time_c_se": tc_se,
            "time_ratio": None if tc is None or not ref else tc / ref,
            "time_ratio_se": None if tc_se is None or not ref else tc_se / ref,
            "time_ratio_theory": float((1 - g**2) ** 2),
            "final_loss": mean_se_or_none(r["loss"][-1] for r in rs)[0],
        })
    return out
