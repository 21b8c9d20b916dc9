"""CP decomposition of trajectory-shaped tensors: rnnrank vs TensorLy (vs tensortools).

    python benchmarks/bench_cp.py [--quick]

Tensor: the centred trajectory ``ΔW[k] = Σ_r c_r(k) a_r b_rᵀ + noise`` (planted rank R, signed
Gaussian factors, smooth snapshot factors, noise 5% of the signal norm), ``K=500, N=256``
(``--quick``: ``K=200, N=128``). Every method runs in its own subprocess on the same tensor
(rebuilt from the same seed), so that memory is measured honestly:

* time: wall time (after a warm-up call on a tiny tensor) from the call until the method's
  error first reaches the target, the best error any method reached + 1%. TensorLy reports
  its error per iteration through ``callback`` (time stamped here); tensortools only keeps
  the history, so its time to target is interpolated as total time × (iterations to target /
  iterations run); rnnrank is charged its whole call (all restarts, compression, refinement).
* memory: peak resident set size of the subprocess (``VmHWM``, reset through
  ``/proc/self/clear_refs`` after the tensor was built) minus the RSS at that point: the
  extra memory the method needs, which covers torch, NumPy and BLAS allocations alike.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

NOISE = 0.05


def make_tensor(k: int, n: int, rank: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, k)[:, None]
    snap = np.sin(np.pi * t * (1 + np.arange(rank))) + 0.3 * rng.standard_normal((k, rank))
    post, pre = rng.standard_normal((n, rank)), rng.standard_normal((n, rank))
    x = np.einsum("kr,ir,jr->kij", snap, post, pre)
    e = rng.standard_normal(x.shape)
    return x + e * (NOISE * np.linalg.norm(x) / np.linalg.norm(e))


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss_mib() -> float:
    """Baseline: current RSS, after resetting the peak (Linux ``clear_refs`` 5) so that the
    peak measured later is the method's own, not the tensor construction's."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return _status_mib("VmRSS")
    except OSError:  # no reset possible: fall back to the (coarser) high-water mark
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_mib() -> float:
    try:
        return _status_mib("VmHWM")
    except (OSError, RuntimeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_method(method: str, k: int, n: int, rank: int, warm: bool = True) -> dict:
    """Runs in a subprocess: one method, returns a trace of (seconds, relative error).

    A first call on a tiny tensor takes one-off costs (lazy library loading, ~1-8 s for
    torch.linalg on this machine) out of the timing, for every method alike.
    """
    if warm:
        run_method(method, 8, 6, 2, warm=False)
    x = make_tensor(k, n, rank)
    norm = np.linalg.norm(x)
    if method.startswith("rnnrank"):
        import torch

        from rnnrank.analysis import cp_decompose

        dtype = torch.float32 if "f32" in method else torch.float64
        restarts = 1 if "x1" in method else 5
        xt = torch.from_numpy(x).to(dtype)
        del x
        base = _rss_mib()
        start = time.perf_counter()
        fit = cp_decompose(xt, rank, n_restarts=restarts, tol=1e-6)
        seconds = time.perf_counter() - start
        trace = [(seconds, fit.relative_error)]
        final = fit.relative_error
    elif method.startswith("tensorly"):
        import tensorly as tl
        from tensorly.decomposition import parafac

        trace = []
        base = _rss_mib()
        start = time.perf_counter()

        def callback(_cp, rec_error):
            trace.append((time.perf_counter() - start, float(rec_error)))

        cp = parafac(
            tl.tensor(x), rank, init="svd", n_iter_max=500, tol=1e-8,
            linesearch="ls" in method, callback=callback,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        final = float(np.linalg.norm(x - tl.cp_to_tensor(cp)) / norm)
        trace.append((seconds, final))
    else:  # tensortools
        import tensortools as tt

        base = _rss_mib()
        start = time.perf_counter()
        result = tt.cp_als(x, rank, random_state=0, tol=1e-8, max_iter=500)
        seconds = time.perf_counter() - start
        hist = result.obj_hist
        trace = [(seconds * (i + 1) / len(hist), float(e)) for i, e in enumerate(hist)]
        final = float(np.linalg.norm(x - result.factors.full()) / norm)
        trace.append((seconds, final))
    return {"trace": trace, "final": final, "peak_mib": _peak_mib() - base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K=200, N=128, ranks 2 and 6")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, k, n, rank = args.child
        print(json.dumps(run_method(method, int(k), int(n), int(rank))))
        return
    k, n, ranks = (200, 128, (2, 6)) if args.quick else (500, 256, (2, 4, 6, 10))
    methods = ["rnnrank-f32-x1", "rnnrank-f64-x5", "tensorly-svd"]
    if args.quick:  # line search made TensorLy slower in every quick run; skip it at full size
        methods.append("tensorly-svd-ls")
    try:
        import tensortools  # noqa: F401

        methods.append("tensortools")
    except ImportError as err:
        print(f"tensortools not available ({err}); skipping it")
    tensor_mib = k * n * n * 8 / 2**20
    print(f"K={k} N={n} noise={NOISE:.0%}; tensor {tensor_mib:.0f} MiB in float64")
    header = f"{'method':<16}{'rank':>5}{'seconds':>10}{'rel.err':>10}{'×rnnrank':>10}{'MiB':>8}"
    print(header)
    for rank in ranks:
        results = {}
        for method in methods:
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, str(k), str(n), str(rank)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
        target = min(r["final"] for r in results.values()) * 1.01
        times = {
            m: next((t for t, e in r["trace"] if e <= target), float("nan"))
            for m, r in results.items()
        }
        ref = times["rnnrank-f32-x1"]
        for method, r in results.items():
            print(
                f"{method:<16}{rank:>5}{times[method]:>10.2f}{r['final']:>10.4f}"
                f"{times[method] / ref:>10.1f}{r['peak_mib']:>8.0f}"
            )
        print(f"  target error {target:.4f} (best final + 1%); nan = never reached")


if __name__ == "__main__":
    main()
