"""Read a ``Recording`` from ``.npz``, HDF5 (``.h5``/``.hdf5``) or NWB (``.nwb``, via pynwb).

``.npz`` and HDF5 hold arrays under the keys ``data`` [T, K, n] (required), ``condition`` [K],
``trial_id`` [K], ``times`` [T], ``epoch`` [K] and ``mask`` [T, K, n] (optional); ``condition``
and ``epoch`` may hold labels (strings), with ``condition_labels`` / ``epoch_labels`` fixing
their codes. A file that is not what its suffix says (truncated, or another format) raises a
``ValueError`` that says so.

NWB: spike times of the units table are binned, trial by trial, in a window around a named
event of the trials table (``align_to``, e.g. ``"go_cue_time"``; default ``"start_time"``):
bins of ``bin_size`` seconds from ``-before`` to ``after`` seconds, so ``times`` < 0 is the
preparatory period. The trials table may carry ``condition`` and ``epoch`` columns (integers or
labels, turned into codes in order of first appearance and kept as ``condition_labels`` /
``epoch_labels``). Optional Gaussian smoothing over time
(``smooth`` = σ in bins) and z-scoring per neuron over all bins (``zscore``) turn counts into
rates, as the reference notebook of Pellegrino et al. (2023) does (σ = 4 bins, then z-score).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .recording import FIELDS, Recording


def load_recording(path, **nwb_options) -> Recording:
    """Read a recording; the format follows the suffix (``.npz``, ``.h5``/``.hdf5``, ``.nwb``).

    ``nwb_options`` go to ``load_nwb`` (``align_to``, ``before``, ``after``, ``bin_size``,
    ``smooth``, ``zscore``). Raises ``FileNotFoundError`` or ``ValueError`` naming the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no recording at {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _from_arrays(_read_npz(path), path)
    if suffix in (".h5", ".hdf5"):
        return _from_arrays(_read_h5(path), path)
    if suffix == ".nwb":
        return load_nwb(path, **nwb_options)
    raise ValueError(f"{path}: unknown recording format {suffix!r}; use .npz, .h5/.hdf5 or .nwb")


def _read_npz(path: Path) -> dict:
    """The arrays of an ``.npz``; a ValueError naming the fix for a file that is not one."""
    fix = "write it with numpy.savez(path, data=...) or Recording.save(path)"
    if not zipfile.is_zipfile(path):  # np.load would try it as .npy, then as a pickle
        raise ValueError(f"{path}: not a readable .npz (no zip directory: a truncated or "
                         f"corrupt file, or another format); {fix}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as f:
            for key in f.files:
                try:
                    arrays[key] = f[key]
                except ValueError as exc:
                    if "allow_pickle" not in str(exc):
                        raise
                    raise ValueError(f"{path}: key {key!r} holds Python objects (a pickle), "
                                     "which rnnrank does not load; save numbers, or labels as "
                                     "numpy.array(labels, dtype=str)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ValueError(f"{path}: a corrupt .npz ({type(exc).__name__}: {exc}); {fix}"
                         ) from None
    return arrays


def _read_h5(path: Path) -> dict:
    """The Recording keys of an HDF5 file; a ValueError naming the fix for one it cannot read."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: f[k][()] for k in f.keys() if k in FIELDS}
    except (OSError, KeyError, RuntimeError) as exc:  # h5py's errors of a damaged file
        raise ValueError(f"{path}: not a readable HDF5 file ({exc}); write it with h5py "
                         "(datasets data, condition, ...) or save an .npz") from None


def _from_arrays(arrays: dict, path: Path) -> Recording:
    if "data" not in arrays:
        raise ValueError(f"{path}: missing key 'data' (time × trial × neuron array); found keys "
                         f"{sorted(arrays)}")
    unknown = sorted(set(arrays) - set(FIELDS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; expected some of {list(FIELDS)}")
    return Recording(**arrays)


def _column(values) -> np.ndarray:
    """A trials-table column as codes: non-negative integers as they are, anything else as
    labels (str), which ``Recording`` codes 0..C−1 in order of first appearance."""
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0:
        return arr.astype(np.int64)
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel()])


def gaussian_smooth(x: np.ndarray, sigma: float, axis: int = 0) -> np.ndarray:
    """Convolve along ``axis`` with a normalised Gaussian of σ = ``sigma`` bins (edges renormalised
    so that a constant stays constant)."""
    if sigma <= 0:
        return x
    from scipy.ndimage import correlate1d

    half = int(np.ceil(4 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    smooth = correlate1d(x, k, axis=axis, mode="constant", cval=0.0)
    norm = correlate1d(np.ones(x.shape[axis]), k, mode="constant", cval=0.0)
    shape = [1] * x.ndim
    shape[axis] = -1
    return smooth / norm.reshape(shape)


def load_nwb(path, *, align_to: str = "start_time", before: float = 0.0, after: float | None = None,
             bin_size: float = 0.01, smooth: float = 0.0, zscore: bool = False) -> Recording:
    """Bin the spikes of an NWB file's units table into trials aligned to ``align_to``.

    Args:
        path: an NWB file with a units table (``spike_times``) and a trials table.
        align_to: trials-table column of event times (seconds) that defines t = 0.
        before, after: window [−before, after) seconds around the event; ``after`` defaults to
            the shortest stop_time − event over trials.
        bin_size: seconds per bin.
        smooth: Gaussian σ in bins (0 = none; the result is then float rates per bin).
        zscore: z-score each neuron over all bins and trials (after smoothing).

    Returns:
        a Recording with integer counts (no smoothing/z-scoring) or float rates.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            is_nwb = "nwb_version" in f.attrs
    except (OSError, KeyError, RuntimeError) as exc:  # h5py's errors of a damaged file
        raise ValueError(f"{path}: not an NWB (HDF5) file, or a damaged one ({exc}); write it "
                         "with pynwb") from None
    if not is_nwb:
        raise ValueError(f"{path}: an HDF5 file without the NWB 'nwb_version' attribute; write "
                         f"it with pynwb, or name it .h5 and store the Recording keys")
    from pynwb import NWBHDF5IO

    try:  # h5py and hdmf raise these on a damaged file; the ValueErrors below are ours
        with NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            if nwb.units is None or nwb.trials is None:
                raise ValueError(f"{path}: needs a units table and a trials table, found "
                                 f"units={nwb.units is not None}, trials={nwb.trials is not None}")
            columns = set(nwb.trials.colnames) | {"start_time", "stop_time"}
            if align_to not in columns:
                raise ValueError(f"{path}: trials table has no column {align_to!r} to align to; "
                                 f"choose one of {sorted(columns)}")
            event = np.asarray(nwb.trials[align_to].data[:], dtype=float)
            stop = np.asarray(nwb.trials["stop_time"].data[:], dtype=float)
            spikes = [np.asarray(nwb.units["spike_times"][i], dtype=float)
                      for i in range(len(nwb.units))]
            condition = (_column(nwb.trials["condition"].data[:])
                         if "condition" in nwb.trials.colnames else None)
            epoch = _column(nwb.trials["epoch"].data[:]) if "epoch" in nwb.trials.colnames else None
    except (OSError, KeyError, RuntimeError) as exc:
        raise ValueError(f"{path}: pynwb could not read this NWB file ({type(exc).__name__}: "
                         f"{exc}); is it complete? write it again with pynwb") from None
    if after is None:
        after = float(np.min(stop - event))
    if after <= -before or bin_size <= 0:
        raise ValueError(f"need a window of positive length and bin_size > 0, got before="
                         f"{before}, after={after}, bin_size={bin_size}")
    n_bins = int(round((after + before) / bin_size))
    edges = -before + bin_size * np.arange(n_bins + 1)
    counts = np.zeros((n_bins, len(event), len(spikes)), dtype=np.int64)
    for i, st in enumerate(spikes):
        for k, e in enumerate(event):
            counts[:, k, i] = np.histogram(st - e, bins=edges)[0]
    times = edges[:-1]
    data = counts
    if smooth > 0 or zscore:
        data = gaussian_smooth(counts.astype(float), smooth, axis=0)
        if zscore:
            mu = data.mean(axis=(0, 1), keepdims=True)
            sd = data.std(axis=(0, 1), keepdims=True)
            data = (data - mu) / np.where(sd > 0, sd, 1.0)
    return Recording(data=torch.as_tensor(data), condition=condition,
                     trial_id=np.arange(len(event)), times=times, epoch=epoch)
