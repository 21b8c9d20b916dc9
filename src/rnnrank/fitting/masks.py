"""Held-out masks for cross-validation and early stopping (time × trial × neuron blocks).

Blocks with a buffer ring (Pellegrino et al. 2023): block centres are drawn at random; around
each, the inner box of half-widths ``h_test`` (2h+1 entries per axis) is held out for testing,
the outer box of half-widths ``h_train`` is removed from training, and the ring between them is
used by neither — so no training entry sits next to a test entry along time or trial, where
smooth data would leak the answer. Their example h_train = (5, 5, 1), h_test = (2, 2, 1) (the
defaults here). All masks are bool [T, K, n], True = selected.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _dilate(centres: Tensor, h: tuple[int, int, int]) -> Tensor:
    """Union of boxes of half-widths h around the True entries of centres [T, K, n]."""
    x = centres.to(torch.float32)[None, None]
    for axis, w in enumerate(h):  # a box is separable: one 1-D max filter per axis
        if w == 0:
            continue
        k, pad = [1, 1, 1], [0, 0, 0]
        k[axis], pad[axis] = 2 * w + 1, w
        x = F.max_pool3d(x, kernel_size=tuple(k), stride=1, padding=tuple(pad))
    return x[0, 0] > 0


def block_masks(shape: tuple[int, int, int], *, fraction: float = 0.2,
                h_train: tuple[int, int, int] = (5, 5, 1), h_test: tuple[int, int, int] = (2, 2, 1),
                seed: int = 0, within: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(train, test) masks [T, K, n] of held-out blocks with a buffer ring.

    Args:
        shape: (T, K, n).
        fraction: probability that an entry is a block centre, scaled so that about this
            fraction of entries would be test entries if blocks did not overlap.
        h_train, h_test: half-widths (time, trial, neuron) of the removed and the tested boxes;
            h_test ≤ h_train on every axis.
        seed: of the centres.
        within: restrict both masks to these entries (e.g. the recording's observed mask, or
            the training entries of an outer split).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    if any(a > b for a, b in zip(h_test, h_train, strict=True)):
        raise ValueError(f"h_test must be ≤ h_train on every axis, got {h_test} > {h_train}")
    T, K, n = shape
    h_train = tuple(min(h, s // 2) for h, s in zip(h_train, shape, strict=True))
    h_test = tuple(min(h, s // 2) for h, s in zip(h_test, shape, strict=True))
    vol = 1
    for w in h_test:
        vol *= 2 * w + 1
    g = torch.Generator().manual_seed(int(seed))
    centres = torch.rand(shape, generator=g) < (fraction / vol)
    if not bool(centres.any()):
        centres.view(-1)[torch.randint(T * K * n, (1,), generator=g)] = True
    test = _dilate(centres, h_test)
    train = ~_dilate(centres, h_train)
    if within is not None:
        train &= within
        test &= within
    return train, test


def trial_split(n_trials: int, *, fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(train, test) bool [K] masks: about ``fraction`` of trials held out, never the first or last
    (held-out trials are interpolated by the GP, not extrapolated)."""
    g = torch.Generator().manual_seed(int(seed))
    inner = torch.randperm(n_trials - 2, generator=g)[: max(1, round(fraction * n_trials))] + 1
    test = torch.zeros(n_trials, dtype=torch.bool)
    test[inner] = True
    return ~test, test


def neuron_split(n_neurons: int, *, fraction: float = 0.2, seed: int = 0) -> Tensor:
    """Bool [n]: the held-out neurons of co-smoothing (at least one, at most n − 1)."""
    g = torch.Generator().manual_seed(int(seed))
    k = min(max(1, round(fraction * n_neurons)), n_neurons - 1)
    out = torch.zeros(n_neurons, dtype=torch.bool)
    out[torch.randperm(n_neurons, generator=g)[:k]] = True
    return out
