"""A recording of neural activity over trials of learning, and its validation.

Layout (docs/concepts.md, the layout of the reference ltrRNN code of Pellegrino et al. 2023)::

    data      [T, K, n]   time × trial × neuron; float rates or integer spike counts
    condition [K]         condition (e.g. reach target) of each trial: integers 0..C−1, or
                          labels (strings), coded 0..C−1 in order of first appearance
    trial_id  [K]         position of each trial in the session (trial factors are smooth in it)
    times     [T]         bin times; t < 0 is before the go cue (the preparatory period)
    epoch     [K]         optional block of each trial (baseline / adaptation / washout …),
                          integers or labels like ``condition``
    mask      [T, K, n]   optional, True = observed (missing entries, variable trial lengths)
    condition_labels [C]  optional label of each condition code (set from string conditions)
    epoch_labels          likewise for ``epoch``

A ``Recording`` is a frozen value: every check happens in ``__post_init__``, and errors name the
field, what was expected, what came, and the fix. Loaders live in ``loaders``; ``suspect_layout``
says when the axes of ``data`` look swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

FIELDS = ("data", "condition", "trial_id", "times", "epoch", "mask", "condition_labels",
          "epoch_labels")
LABELLED = ("condition", "epoch")  # the fields that may hold labels instead of integer codes


def _tensor(value, name: str, dtype: torch.dtype | None = None) -> Tensor:
    if isinstance(value, Tensor):
        t = value.detach().cpu()
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise ValueError(f"Recording.{name}: expected an array of numbers, got a "
                             f"{type(value).__name__} that is not one (ragged?): {exc}") from None
        if arr.dtype.kind in "USO":
            what = "strings" if arr.dtype.kind in "US" else "Python objects"
            raise ValueError(f"Recording.{name}: expected numbers, got an array of {what} "
                             f"(dtype {arr.dtype}); store numbers (labels are accepted for "
                             f"{' and '.join(LABELLED)} only)")
        try:
            t = torch.as_tensor(arr)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Recording.{name}: expected an array of numbers, got dtype "
                             f"{arr.dtype}") from exc
    return t if dtype is None else t.to(dtype)


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def _labels(value, name: str) -> tuple[str, ...] | None:
    """Labels as a tuple of str (from a list, a numpy array of str/bytes, HDF5 bytes)."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=object).ravel()
    labels = tuple(_text(v) for v in arr)
    if len(set(labels)) != len(labels):
        raise ValueError(f"Recording.{name}_labels: expected distinct labels, got {list(labels)}")
    return labels


def _coded(value, labels: tuple[str, ...] | None, name: str):
    """(integer codes, labels) of a per-trial column of codes or of labels.

    Labels (strings, bytes, objects that are not all integers) become codes: their index in
    ``labels`` when given, else 0..C−1 in order of first appearance, which become the labels.
    """
    if value is None or isinstance(value, Tensor):
        return value, labels
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise ValueError(f"Recording.{name}: expected one code or label per trial, got a "
                         f"{type(value).__name__} that is not a flat array: {exc}") from None
    if arr.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                     for v in arr.ravel()):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "USO":
        return arr, labels
    texts = [_text(v) for v in arr.ravel()]
    if labels is None:
        labels = tuple(dict.fromkeys(texts))  # order of first appearance
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(texts) - set(index))
    if unknown:
        raise ValueError(f"Recording.{name}: labels {unknown} are not in {name}_labels "
                         f"{list(labels)}; add them there or pass integer codes")
    return np.array([index[t] for t in texts], dtype=np.int64).reshape(arr.shape), labels


@dataclass(frozen=True)
class Recording:
    """Neural activity ``data [T, K, n]`` over K trials (see module docstring for every field).

    Build it from arrays (numpy or torch); missing optional fields get defaults:
    ``condition`` all 0, ``trial_id`` = 0..K−1, ``times`` = 0..T−1, ``epoch`` and ``mask`` None.
    Integer ``data`` is kept as counts (``is_counts``) and suits ``loss="poisson"``.
    ``condition`` and ``epoch`` may be labels (e.g. ``["left", "right", "left", …]``): they are
    stored as codes 0..C−1 in order of first appearance (or their index in ``condition_labels``
    when given), and ``condition_labels[c]`` names code c.
    """

    data: Tensor
    condition: Tensor | None = None
    trial_id: Tensor | None = None
    times: Tensor | None = None
    epoch: Tensor | None = None
    mask: Tensor | None = None
    condition_labels: tuple[str, ...] | None = None
    epoch_labels: tuple[str, ...] | None = None

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
        for name in LABELLED:
            codes, labels = _coded(getattr(self, name), _labels(getattr(self, f"{name}_labels"),
                                                                name), name)
            set_(self, name, codes)
            set_(self, f"{name}_labels", labels)
        set_(self, "condition", self._axis("condition", self.condition, K, torch.long,
                                           torch.zeros(K, dtype=torch.long)))
        if bool((self.condition < 0).any()):
            raise ValueError("Recording.condition: expected integers ≥ 0 (codes 0..C−1) or "
                             "labels (strings)")
        set_(self, "trial_id", self._axis("trial_id", self.trial_id, K, torch.float64,
                                          torch.arange(K, dtype=torch.float64)))
        set_(self, "times", self._axis("times", self.times, T, torch.float64,
                                       torch.arange(T, dtype=torch.float64)))
        if self.epoch is not None:
            set_(self, "epoch", self._axis("epoch", self.epoch, K, torch.long, None))
        for name in LABELLED:
            codes, labels = getattr(self, name), getattr(self, f"{name}_labels")
            if labels is not None and codes is not None and int(codes.max()) >= len(labels):
                raise ValueError(f"Recording.{name}_labels: {len(labels)} labels for codes up to "
                                 f"{int(codes.max())}; give one label per code 0..C−1")

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
        arrays = {k: np.asarray(v, dtype=str) if k.endswith("_labels") else v.numpy()
                  for k in FIELDS if (v := getattr(self, k)) is not None}
        np.savez(path, **arrays)


# --- is it [time, trial, neuron]? ------------------------------------------------------------
# Sizes cannot tell: in the right layout a Neuropixels session has n (hundreds to thousands of
# neurons) ≥ K (tens to thousands of trials) ≥ T (tens to hundreds of bins), so "more neurons than
# bins and trials" is the ordinary case, not a sign of a swap, and a trial × time swap keeps every
# size plausible. Only a time axis too short to hold dynamics (< 5 bins) is suspicious by size.
# What does tell is content: activity is smooth in time (bins of 10-50 ms against correlation
# times of 100 ms or more, and smoother still once binned counts are smoothed), while the order
# of neurons is arbitrary (or by depth, which correlates neighbours far less than adjacent bins
# are). So, per neuron as read, standardise over bins and trials and compare the lag-1
# correlation along the neuron axis with that along the time axis: a [neuron, trial, time] array
# of rates is smooth along its last axis and not its first. The margins (≥ 0.5, and 0.3 above
# the time axis) leave unsmoothed counts alone, whose lag-1 correlations are small along every
# axis (Poisson noise), and depth-sorted neurons whose neighbours correlate, because time is
# smoother still; tests/fitting/test_recording_inputs.py checks both sides.
MIN_TIME_BINS = 5
SMOOTH_NEURONS = 0.5  # lag-1 correlation along the neuron axis that looks like a time axis
SMOOTHER_BY = 0.3  # ... and by how much it must exceed the time axis's own


def suspect_layout(rec: Recording) -> str | None:
    """A one-line warning when ``rec.data`` does not look like [time, trial, neuron], else None.

    It fires when the time axis has fewer than ``MIN_TIME_BINS`` bins, or when activity is smooth
    along the neuron axis (lag-1 correlation ≥ ``SMOOTH_NEURONS``) and clearly less so along the
    time axis (by ``SMOOTHER_BY``): a [neuron, trial, time] array. The sizes alone never fire it
    (see the comment above). Reads at most ~10⁶ entries (a contiguous block of bins and neurons
    of ≤ 16 trials spread over the session).
    """
    T, K, n = rec.shape
    fix = ("rnnrank reads data as [time, trial, neuron]; if yours is [neuron, trial, time], "
           "pass data.transpose(2, 1, 0)")
    if T < MIN_TIME_BINS:
        return (f"the recording has only {T} time bins (and {K} trials, {n} neurons): too few "
                f"for dynamics; {fix}")
    if n < 3:
        return None
    trials = torch.linspace(0, K - 1, min(K, 16)).round().long().unique()
    bins = min(T, 256)
    neurons = min(n, max(3, 1_000_000 // (bins * len(trials))))
    x = rec.data[:bins, trials, :neurons].to(torch.float64)
    seen = rec.observed()[:bins, trials, :neurons].to(torch.float64)
    count = seen.sum((0, 1), keepdim=True).clamp_min(1)
    mean = (x * seen).sum((0, 1), keepdim=True) / count
    sd = ((((x - mean) * seen) ** 2).sum((0, 1), keepdim=True) / count).sqrt()
    z = torch.where(sd > 0, (x - mean) / sd.clamp_min(1e-300), 0.0) * seen
    r_time, r_neuron = _lag1(z, 0), _lag1(z, 2)
    if r_neuron >= SMOOTH_NEURONS and r_neuron >= r_time + SMOOTHER_BY:
        return (f"activity is smooth across the {n} neurons (lag-1 correlation {r_neuron:.2f}) "
                f"but not across the {T} time bins ({r_time:.2f}), as if the axes were swapped; "
                f"{fix}")
    return None


def _lag1(z: Tensor, axis: int) -> float:
    """Σ z_i z_{i+1} / Σ z_i² along ``axis`` (a lag-1 correlation of standardised values)."""
    length = z.shape[axis]
    num = (z.narrow(axis, 0, length - 1) * z.narrow(axis, 1, length - 1)).sum()
    den = (z**2).sum()
    return float(num / den) if den > 0 else 0.0
