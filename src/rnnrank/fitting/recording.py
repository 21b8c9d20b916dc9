"""A recording of neural activity over trials of learning, and its validation.

Layout (DESIGN.md §4, the layout of the reference ltrRNN code of Pellegrino et al. 2023)::

    data      [T, K, n]   time × trial × neuron; float rates or integer spike counts
    condition [K]         condition (e.g. reach target) of each trial, integers 0..C−1
    trial_id  [K]         position of each trial in the session (trial factors are smooth in it)
    times     [T]         bin times; t < 0 is before the go cue (the preparatory period)
    epoch     [K]         optional block of each trial (baseline / adaptation / washout …)
    mask      [T, K, n]   optional, True = observed (missing entries, variable trial lengths)

A ``Recording`` is a frozen value: every check happens in ``__post_init__``, and errors name the
field, what was expected, what came, and the fix. Loaders live in ``loaders``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

FIELDS = ("data", "condition", "trial_id", "times", "epoch", "mask")


def _tensor(value, name: str, dtype: torch.dtype | None = None) -> Tensor:
    if isinstance(value, Tensor):
        t = value.detach().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Recording.{name}: expected an array, got {type(value).__name__}"
                             ) from exc
    return t if dtype is None else t.to(dtype)


@dataclass(frozen=True)
class Recording:
    """Neural activity ``data [T, K, n]`` over K trials (see module docstring for every field).

    Build it from arrays (numpy or torch); missing optional fields get defaults:
    ``condition`` all 0, ``trial_id`` = 0..K−1, ``times`` = 0..T−1, ``epoch`` and ``mask`` None.
    Integer ``data`` is kept as counts (``is_counts``) and suits ``loss="poisson"``.
    """

    data: Tensor
    condition: Tensor | None = None
    trial_id: Tensor | None = None
    times: Tensor | None = None
    epoch: Tensor | None = None
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        data = _tensor(self.data, "data")
        if data.dim() != 3:
            raise ValueError(f"Recording.data: expected [T, K, n] (time × trial × neuron), got "
                             f"shape {tuple(data.shape)}; reshape or add the missing axis")
        counts = not (data.is_floating_point() or data.is_complex())
        if counts and bool((data < 0).any()):
            raise ValueError("Recording.data: integer data must be non-negative spike counts")
        T, K, n = data.shape
        if K < 2:
            raise ValueError(f"Recording.data: need at least 2 trials to fit learning, got K={K}")
        if T < 2 or n < 1:
            raise ValueError(f"Recording.data: need T ≥ 2 time bins and n ≥ 1 neurons, got "
                             f"T={T}, n={n}")
        set_ = object.__setattr__
        set_(self, "_counts", counts)
        # counts stay int64 (so subsets and saved files stay counts); rates float32/64
        data = data.to(torch.int64) if counts else (
            data if data.dtype == torch.float64 else data.to(torch.float32))
        mask = None if self.mask is None else _tensor(self.mask, "mask", torch.bool)
        if mask is not None and tuple(mask.shape) != (T, K, n):
            raise ValueError(f"Recording.mask: expected shape {(T, K, n)} like data, got "
                             f"{tuple(mask.shape)}")
        bad = ~torch.isfinite(data)
        if mask is not None:
            bad &= mask
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(f"Recording.data: {int(bad.sum())} NaN/inf entries outside the mask "
                             f"(first at [t, k, i] = {where}); mark them missing with mask=False")
        if mask is not None:
            data = torch.where(mask, data, torch.zeros((), dtype=data.dtype))
        set_(self, "data", data)
        set_(self, "mask", mask)
        set_(self, "condition", self._axis("condition", self.condition, K, torch.long,
                                           torch.zeros(K, dtype=torch.long)))
        if bool((self.condition < 0).any()):
            raise ValueError("Recording.condition: expected integers ≥ 0 (codes 0..C−1)")
        set_(self, "trial_id", self._axis("trial_id", self.trial_id, K, torch.float64,
                                          torch.arange(K, dtype=torch.float64)))
        set_(self, "times", self._axis("times", self.times, T, torch.float64,
                                       torch.arange(T, dtype=torch.float64)))
        if self.epoch is not None:
            set_(self, "epoch", self._axis("epoch", self.epoch, K, torch.long, None))

    @staticmethod
    def _axis(name: str, value, size: int, dtype, default) -> Tensor:
        if value is None:
            return default
        t = _tensor(value, name)
        if t.dim() != 1 or t.shape[0] != size:
            axis = "T (data.shape[0])" if name == "times" else "K (data.shape[1])"
            raise ValueError(f"Recording.{name}: expected shape [{size}] = {axis}, got "
                             f"{tuple(t.shape)}; give one value per "
                             f"{'time bin' if name == 'times' else 'trial'}")
        t = t.to(dtype)
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"Recording.{name}: contains NaN/inf")
        return t

    # --- sizes ---------------------------------------------------------------------------
    @property
    def is_counts(self) -> bool:
        """True when the data are integer spike counts."""
        return self._counts

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, K, n)."""
        return tuple(self.data.shape)

    @property
    def n_conditions(self) -> int:
        return int(self.condition.max()) + 1

    def observed(self) -> Tensor:
        """The mask as bool [T, K, n] (all True when the recording has none)."""
        if self.mask is None:
            return torch.ones(self.shape, dtype=torch.bool)
        return self.mask

    # --- subsets -------------------------------------------------------------------------
    def trials(self, index) -> Recording:
        """The recording of a subset of trials (index: ints, a bool [K] or a slice)."""
        idx = torch.arange(self.shape[1])[index]
        return replace(self, data=self.data[:, idx], condition=self.condition[idx],
                       trial_id=self.trial_id[idx],
                       epoch=None if self.epoch is None else self.epoch[idx],
                       mask=None if self.mask is None else self.mask[:, idx])

    def neurons(self, index) -> Recording:
        """The recording of a subset of neurons."""
        idx = torch.arange(self.shape[2])[index]
        return replace(self, data=self.data[:, :, idx],
                       mask=None if self.mask is None else self.mask[:, :, idx])

    def with_mask(self, mask: Tensor) -> Recording:
        """The same recording with ``mask`` ∧ its own mask."""
        mask = _tensor(mask, "mask", torch.bool)
        return replace(self, mask=mask if self.mask is None else mask & self.mask)

    def save(self, path) -> None:
        """Write an ``.npz`` with the keys of the module docstring (``load_recording`` reads it)."""
        arrays = {k: getattr(self, k).numpy() for k in FIELDS if getattr(self, k) is not None}
        np.savez(path, **arrays)
