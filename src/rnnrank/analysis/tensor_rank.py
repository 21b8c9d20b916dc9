"""CP decomposition of weight trajectories: ``cp_decompose`` and ``CPDecomposition``.

A weight trajectory ``W [K, N, N]`` (snapshot × post × pre, docs/concepts.md) is modelled as::

    W(k) ≈ Σ_r λ_r c_r(k) a_r b_rᵀ

(Pellegrino, Cayco-Gajic & Chadwick 2023: gradient-descent learning leaves ``W(k) − W(0)`` of
low tensor rank). The fit is alternating least squares (:mod:`.cp_als`), optionally on a
randomised Tucker compression of the tensor first (:mod:`.cp_compress`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .cp_als import als, cp_reconstruct
from .cp_compress import compress as _compress
from .cp_compress import svd_init

__all__ = ["CPDecomposition", "cp_decompose"]

_OVERSAMPLE = 10  # compressed size per mode = rank + _OVERSAMPLE
_AUTO_COMPRESS_MIN_SIZE = 2**20  # tensors smaller than this are fast enough uncompressed


@dataclass(frozen=True)
class CPDecomposition:
    """A rank-R CP model ``X̂[k, i, j] = Σ_r weights[r] C[k, r] A[i, r] B[j, r]``.

    Attributes:
        weights: ``[R]``, non-negative, in decreasing order.
        factors: ``(C [K, R] snapshot, A [N, R] post, B [N, R] pre)``, unit-norm columns. Signs:
            the largest-magnitude entry of each column of ``A`` and ``B`` is positive.
        relative_error: ``‖X − X̂‖ / ‖X‖`` over the observed entries of the decomposed tensor
            (``X − X[0]`` when ``center=True``).
        n_iter: ALS sweeps run (on the compressed core plus on the full tensor).
        converged: whether the last run met ``tol`` before ``max_iter``.
        errors: ``[n_iter + 1]`` relative error before the first and after each sweep.
        restart_errors: ``[n_restarts]`` final relative error of every restart.
    """

    weights: Tensor
    factors: tuple[Tensor, Tensor, Tensor]
    relative_error: float
    n_iter: int
    converged: bool
    errors: np.ndarray = field(repr=False)
    restart_errors: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def rank(self) -> int:
        return int(self.weights.shape[0])

    def to_tensor(self) -> Tensor:
        """The dense reconstruction ``X̂ [K, N, N]``."""
        c, a, b = self.factors
        return cp_reconstruct((c * self.weights, a, b))


def _as_tensor(tensor, dtype, device) -> Tensor:
    if hasattr(tensor, "weights") and not isinstance(tensor, (Tensor, np.ndarray)):
        tensor = tensor.weights
    if not isinstance(tensor, Tensor):
        tensor = torch.from_numpy(np.asarray(tensor))
    if dtype is None:
        dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float64
    elif isinstance(dtype, str):
        dtype = {"float32": torch.float32, "float64": torch.float64}.get(dtype, dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return tensor.to(dtype=dtype, device=device)


def _validate(x: Tensor, rank, mask, n_restarts, init) -> Tensor | None:
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank}")
    if isinstance(n_restarts, bool) or not isinstance(n_restarts, int) or n_restarts < 1:
        raise ValueError(f"n_restarts must be a positive integer, got {n_restarts}")
    if init not in ("svd", "random"):
        raise ValueError(f"init must be 'svd' or 'random', got {init!r}")
    if x.ndim != 3:
        raise ValueError(
            f"tensor must be 3-D [K, N, N] (snapshot × post × pre), got shape {tuple(x.shape)}; "
            "stack the snapshots, e.g. np.stack([W0, W1, ...])"
        )
    if mask is not None:
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask)
        if mask.shape != x.shape:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} must match tensor shape {tuple(x.shape)}"
            )
        mask = mask.to(device=x.device, dtype=torch.bool)
    observed = torch.isfinite(x) if mask is None else (torch.isfinite(x) | ~mask)
    if not bool(observed.all()):
        bad = (~observed).nonzero()
        raise ValueError(
            f"tensor has {bad.shape[0]} non-finite observed values (first at index "
            f"{tuple(bad[0].tolist())}); pass mask=np.isfinite(tensor) to treat them as missing"
        )
    return mask


def _exact_error(x: Tensor, factors, mask: Tensor | None, chunk: int = 64) -> float:
    """``‖X − X̂‖ / ‖X‖`` over observed entries, reconstructing ``chunk`` snapshots at a time."""
    num = den = 0.0
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk]
        resid = block - cp_reconstruct((factors[0][start : start + chunk], *factors[1:]))
        if mask is not None:
            resid = resid[mask[start : start + chunk]]
            block = block[mask[start : start + chunk]]
        num += float((resid.double() ** 2).sum())
        den += float((block.double() ** 2).sum())
    return (num / den) ** 0.5


def _normalise(factors, x, mask, errors, n_iter, converged, restart_errors) -> CPDecomposition:
    """Unit columns, signs of post/pre pushed into the snapshot factor, sorted by weight."""
    norms = [f.norm(dim=0) for f in factors]
    weights = norms[0] * norms[1] * norms[2]
    tiny = torch.finfo(x.dtype).tiny
    c, a, b = (f / n.clamp_min(tiny) for f, n in zip(factors, norms, strict=True))
    for f in (a, b):
        rows = f.abs().argmax(dim=0)
        sign = torch.sign(f[rows, torch.arange(f.shape[1], device=f.device)])
        sign[sign == 0] = 1
        f.mul_(sign)
        c = c * sign
    order = torch.argsort(weights, descending=True)
    out = (c[:, order], a[:, order], b[:, order])
    return CPDecomposition(
        weights=weights[order],
        factors=out,
        relative_error=_exact_error(x, (out[0] * weights[order], out[1], out[2]), mask),
        n_iter=n_iter,
        converged=converged,
        errors=np.asarray(errors, dtype=np.float64),
        restart_errors=np.asarray(restart_errors, dtype=np.float64),
    )


def _inits(x: Tensor, rank: int, n_restarts: int, init: str, gen: torch.Generator):
    for restart in range(n_restarts):
        if restart == 0 and init == "svd":
            yield svd_init(x, rank, gen, oversample=_OVERSAMPLE)
        else:
            yield [
                torch.randn(d, rank, generator=gen, dtype=x.dtype).to(x.device) for d in x.shape
            ]


def fit_restarts(
    tensor, rank: int, *, n_restarts: int = 5, seed: int = 0, tol: float = 1e-6,
    max_iter: int = 500, init: str = "svd", mask=None, center: bool = False,
    compress: bool | None = None, dtype=None, device=None,
) -> list[CPDecomposition]:  # fmt: skip
    """All restarts of :func:`cp_decompose` (same arguments), the best one first."""
    x = _as_tensor(tensor, dtype, device)
    mask = _validate(x, rank, mask, n_restarts, init)
    if center:
        x = x - x[0]
        mask = None if mask is None else mask & mask[0]
    if mask is not None:
        x = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))
    norm = float(x.double().norm())
    if norm == 0.0:
        raise ValueError(
            "tensor is all zeros over its observed entries"
            + (" after centring (W(k) = W(0) for all k)" if center else "")
            + "; nothing to decompose"
        )
    rank = int(rank)
    gen = torch.Generator().manual_seed(seed)
    sizes = tuple(min(d, rank + _OVERSAMPLE) for d in x.shape)
    if compress is None:
        compress = (
            mask is None
            and x.numel() >= _AUTO_COMPRESS_MIN_SIZE
            and np.prod(sizes) * 8 <= x.numel()
        )
    if compress and mask is not None:
        raise ValueError("compress=True cannot be combined with mask; use compress=None")
    kw = {"tol": tol, "max_iter": max_iter}
    if not compress:
        runs = [als(x, f0, mask=mask, **kw) for f0 in _inits(x, rank, n_restarts, init, gen)]
        finals = [r.errors[-1] for r in runs]
        fits = [
            _normalise(r.factors, x, mask, r.errors, r.n_iter, r.converged, finals) for r in runs
        ]
        return sorted(fits, key=lambda d: d.relative_error)

    core, bases = _compress(x, sizes, gen, power_iters=1)
    core_norm = float(core.double().norm())
    resid_sq = max(norm**2 - core_norm**2, 0.0)  # ‖X − projection‖², Pythagoras

    def lifted(errs):  # core-relative errors -> full-tensor relative errors of the lifted model
        return [((e * core_norm) ** 2 + resid_sq) ** 0.5 / norm for e in errs]

    runs = [als(core, f0, **kw) for f0 in _inits(core, rank, n_restarts, init, gen)]
    finals = [lifted(r.errors[-1:])[0] for r in runs]
    order = np.argsort(finals)
    fits = []
    for position, index in enumerate(order):
        run = runs[index]
        factors = [q @ f for q, f in zip(bases, run.factors, strict=True)]
        errors, n_iter, converged = lifted(run.errors), run.n_iter, run.converged
        if position == 0:  # refine the best restart on the full tensor
            refined = als(x, factors, **kw)
            factors, converged = refined.factors, refined.converged
            errors, n_iter = errors + refined.errors[1:], n_iter + refined.n_iter
            finals[index] = errors[-1]
        fits.append(_normalise(factors, x, None, errors, n_iter, converged, finals))
    return sorted(fits, key=lambda d: d.relative_error)


def cp_decompose(
    tensor, rank: int, *, n_restarts: int = 5, seed: int = 0, tol: float = 1e-6,
    max_iter: int = 500, init: str = "svd", mask=None, center: bool = False,
    compress: bool | None = None, dtype=None, device=None,
) -> CPDecomposition:  # fmt: skip
    """CP decomposition ``X[k, i, j] ≈ Σ_r λ_r C[k, r] A[i, r] B[j, r]`` by ALS, best of restarts.

    Args:
        tensor: ``[K, N, N]`` weight trajectory (snapshot × post × pre): NumPy array, torch
            tensor, or an object with a ``.weights`` attribute (e.g. a ``Trajectory``).
        rank: number of components ``R`` (positive integer).
        n_restarts: restarts; restart 0 starts from an HOSVD (``init="svd"``), the others from
            Gaussian factors drawn from ``seed``. The lowest-error run is returned.
        seed: seeds every random draw; the same seed gives the same result bit for bit.
        tol: stop when the relative error drops by less than ``tol`` × itself in a sweep.
        max_iter: maximum ALS sweeps per run (and again for the refinement after compression).
        init: ``"svd"`` or ``"random"`` (all restarts Gaussian).
        mask: optional bool ``[K, N, N]``, True = observed. Unobserved entries are imputed from
            the model each sweep (EM); their values, NaN included, never affect the result.
        center: decompose ``X − X[0]`` (``ΔW`` relative to ``W(0)``) instead of ``X``.
        compress: fit on a randomised Tucker core of size ``rank + 10`` per mode, then refine
            the best restart on the full tensor. ``None`` (default): only for tensors of
            ≥ 2²⁰ entries without a mask, where the core is ≥ 8× smaller.
        dtype: ``torch.float32`` or ``torch.float64``; default keeps a float input's dtype.
        device: torch device (e.g. ``"cuda"``); default keeps the input's.

    Returns:
        :class:`CPDecomposition` (weights sorted, unit factors, fixed signs).

    Raises:
        ValueError: bad ``rank``/``n_restarts``/``init``, a tensor that is not 3-D, a mask of
            another shape, non-finite observed values, or an all-zero tensor.
    """
    return fit_restarts(
        tensor, rank, n_restarts=n_restarts, seed=seed, tol=tol, max_iter=max_iter,
        init=init, mask=mask, center=center, compress=compress, dtype=dtype, device=device,
    )[0]  # fmt: skip
