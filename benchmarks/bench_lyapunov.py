"""Time of rnnrank's Lyapunov spectrum vs a naive implementation, measured in the same run.

1. k = 10 exponents of one N = 512 tanh network over 10⁴ steps (``lyapunov_spectrum``: the
   analytic Jacobian applied to k tangent vectors, a reduced N×k QR per step) against the
   textbook loop (the N×N Jacobian by autograd, ``torch.func.jacrev``, then Q ← J Q and a full
   N×N QR every step). The naive loop runs ``--naive-steps`` steps and is scaled to 10⁴ (its
   cost per step is constant). Both are checked to give the same exponents on a short run first
   (QR is column-progressive, so the first k columns of the full QR are the reduced QR's).
2. An ensemble of 16 networks at N = 128 (one batched call) vs the 16 one at a time.

    python benchmarks/bench_lyapunov.py            # the issue's sizes
    python benchmarks/bench_lyapunov.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import rnnrank as rr
from rnnrank.dynamics import as_system, benettin, lyapunov_spectrum
from rnnrank.models import rate_dynamics as rd


def naive_spectrum(model, x: torch.Tensor, Q: torch.Tensor, steps: int) -> torch.Tensor:
    """The textbook loop on one trajectory: x [N], Q [N, N]; returns all N exponents."""
    p = rd.RateParams(*(v.detach() for v in model.params()))
    u = torch.zeros(1, p.U.shape[-1], dtype=x.dtype)

    def step(s):
        return rd.step(p, s[None, None], u, alpha=model.alpha, phi=model.phi)[0, 0]

    jac = torch.func.jacrev(step)
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    for _ in range(steps):
        J = jac(x)
        x = step(x)
        Q, R = torch.linalg.qr(J @ Q)
        total += torch.log(torch.diagonal(R).abs())
    return total / steps


def check_agreement(model, k: int, steps: int = 30) -> float:
    """Max |difference| of the first k exponents of both methods from the same x0, Q0 = I."""
    N = model.n_rec
    x0 = torch.randn(N, generator=torch.Generator().manual_seed(0), dtype=model.W.dtype)
    naive = naive_spectrum(model, x0.clone(), torch.eye(N, dtype=x0.dtype), steps)[:k]
    system = as_system(model)
    u = torch.zeros(1, system.n_in, dtype=x0.dtype)
    _, _, sums = benettin(system, x0[None, None], torch.eye(N, k, dtype=x0.dtype)[None, None],
                          lambda t: u, steps)
    return float((sums.sum(0)[0, 0] / steps - naive).abs().max())


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--naive-steps", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    N, k, steps = (128, 10, 1000) if args.quick else (512, 10, 10_000)
    E, n_small, e_steps = (4, 64, 500) if args.quick else (16, 128, 2000)
    results = {"threads": args.threads}

    model = rr.RateRNN(1, N, 1, gain=2.0, seed=0)  # float32, as trained
    model64 = rr.RateRNN(1, N, 1, gain=2.0, seed=0, dtype=torch.float64)
    results["max_abs_difference_float64"] = check_agreement(model64, k)
    ours = timed(lambda: lyapunov_spectrum(model, k=k, steps=steps, warmup=0, n_init=1))
    x0 = torch.randn(N, generator=torch.Generator().manual_seed(0))
    naive = timed(lambda: naive_spectrum(model, x0, torch.eye(N), args.naive_steps))
    naive_scaled = naive * steps / args.naive_steps
    results["single"] = {"N": N, "k": k, "steps": steps, "rnnrank_s": ours,
                         "naive_s_scaled": naive_scaled, "naive_steps_run": args.naive_steps,
                         "speedup": naive_scaled / ours}

    ens = rr.RateRNN(1, n_small, 1, gain=[1.5] * E, seed=list(range(E)))
    batched = timed(lambda: lyapunov_spectrum(ens, k=k, steps=e_steps, warmup=0, n_init=1))
    singles = [rr.RateRNN(1, n_small, 1, gain=1.5, seed=s) for s in range(E)]
    loop = timed(lambda: [lyapunov_spectrum(m, k=k, steps=e_steps, warmup=0, n_init=1)
                          for m in singles])
    results["ensemble"] = {"E": E, "N": n_small, "k": k, "steps": e_steps,
                           "batched_s": batched, "one_at_a_time_s": loop,
                           "speedup": loop / batched}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
