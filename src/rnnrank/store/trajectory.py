"""Weight trajectories W(k), k = 0 … K−1, stored in zarr one snapshot per chunk, read lazily.

Layout of ``<run>/trajectory.zarr`` (a zarr v3 group):

* one array per recorded parameter (``W`` [K_alloc, (E,) N, N], ``U``, ``V``, ``b``, ``x0``),
  chunked one snapshot per chunk, preallocated and filled with NaN;
* ``step`` [K_alloc] (updates before the snapshot), ``loss`` and ``score`` [K_alloc, E].

Snapshots are queued and written in blocks (``flush``, at every checkpoint): chunks first, then the
count of complete snapshots, atomically, to ``<run>/progress.json``. The count is authoritative:
a ``kill -9`` between the chunks and the count loses those snapshots, never exposes a partial
one. A chunk lost afterwards (a deleted file, a copy cut short) would read back as zarr's fill
value, NaN, so ``Trajectory.open`` checks that every counted snapshot has its chunks and raises
``IncompleteTrajectory`` naming the missing ones (``complete_prefix=True`` opens the snapshots
before the first gap instead); a chunk that exists but cannot be decoded is reported, with its
snapshot, when it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import zarr

from ..ensemble import without_members
from .atomic import read_json, write_json_atomic

PROGRESS = "progress.json"
STORE = "trajectory.zarr"


class IncompleteTrajectory(ValueError):
    """Counted snapshots whose chunks are missing or unreadable (never read as data).

    Attributes:
        missing: sorted snapshot indices that cannot be read.
        complete: number of snapshots before the first gap (``complete_prefix=True`` opens them).
    """

    def __init__(self, path, missing: list[int], count: int, detail: str = "") -> None:
        self.missing = missing
        self.complete = missing[0] if missing else count
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        super().__init__(
            f"trajectory at {path} is incomplete: {len(missing)} of {count} snapshots cannot be "
            f"read (k = {shown}){detail}; the first {self.complete} are complete — open them with "
            f"rr.load_trajectory(path, complete_prefix=True)")


def _missing_snapshots(array: zarr.Array, root: Path, count: int) -> set[int]:
    """Snapshots k < count of ``array`` whose chunk file is absent from the local store ``root``.

    Hand-written because zarr treats an absent chunk as the fill value by design and offers no
    per-chunk existence query; one ``os.scandir``-style listing per array keeps it cheap.
    """
    per = array.chunks[0]
    rest = (0,) * (array.ndim - 1)
    missing = set()
    for c in range(-(-count // per)):
        key = array.metadata.encode_chunk_key((c, *rest))
        if not (root / array.path / key).is_file():
            missing.update(range(c * per, min((c + 1) * per, count)))
    return missing


class SnapshotArray:
    """Lazy view of one recorded array over the complete snapshots: [K, ...].

    Index it like a NumPy array (only the chunks touched are read) or convert it whole with
    ``np.asarray(arr)`` / ``arr.numpy()``.
    """

    def __init__(self, array: zarr.Array, count: int) -> None:
        self._array = array
        self._count = count

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._count, *self._array.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._array.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            k = int(first) + (self._count if first < 0 else 0)
            if not 0 <= k < self._count:
                raise IndexError(f"snapshot {first} out of range for {self._count} snapshots")
            return self._read((k, *rest), f"snapshot {k}")
        if isinstance(first, slice):
            sl = slice(*first.indices(self._count))
            return self._read((sl, *rest), f"snapshots {sl.start}..{sl.stop - 1}")
        idx = np.arange(self._count)[first]
        return np.stack([self._read((int(k), *rest), f"snapshot {k}") for k in idx]) \
            if len(idx) else np.empty((0, *self._array.shape[1:]), dtype=self.dtype)

    def _read(self, key: tuple, what: str) -> np.ndarray:
        try:
            return self._array[key]
        except Exception as exc:  # a codec's own error type: re-raised with the snapshot named
            raise IncompleteTrajectory(
                self._array.store_path, [], self._count,
                f" ({what} of {self._array.path!r} is unreadable: {exc})") from exc

    def numpy(self) -> np.ndarray:
        return self._read((slice(0, self._count),), "the snapshots")

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"SnapshotArray(shape={self.shape}, dtype={self.dtype})"


class TrajectoryWriter:
    """Appends snapshots to a trajectory store (a directory, or memory when ``path`` is None).

    Args:
        shapes: recorded array name → shape of one snapshot.
        n_members: ensemble size E (loss and score are recorded per member).
        capacity: snapshots to preallocate (grows by doubling when exceeded).
        dtype: storage dtype of the parameters (float64 models keep float64 for theory tests).
    """

    def __init__(self, path: str | Path | None, shapes: Mapping[str, tuple[int, ...]],
                 n_members: int, capacity: int, *, ensemble: bool = False,
                 dtype: str = "float32") -> None:
        self.path = None if path is None else Path(path)
        store = zarr.storage.MemoryStore() if path is None else self.path / STORE
        self.group = zarr.open_group(store, mode="a")
        if "ensemble" not in self.group.attrs:
            self.group.attrs["ensemble"] = bool(ensemble)
        self.count = 0
        self._pending: list[dict[str, np.ndarray]] = []
        for name, shape in shapes.items():
            self._ensure(name, shape, dtype, capacity)
        self._ensure("step", (), "int64", capacity, fill=-1)
        self._ensure("loss", (n_members,), "float64", capacity)
        self._ensure("score", (n_members,), "float64", capacity)

    def _ensure(self, name: str, shape: tuple[int, ...], dtype: str, capacity: int,
                fill=np.nan) -> None:
        if name in self.group:
            arr = self.group[name]
            if tuple(arr.shape[1:]) != tuple(shape):
                raise ValueError(f"stored array {name!r} has snapshots of shape "
                                 f"{tuple(arr.shape[1:])}, the model records {tuple(shape)}")
            if arr.shape[0] < capacity:
                arr.resize((capacity, *shape))
            return
        chunks = (1, *shape) if shape else (4096,)
        self.group.create_array(name, shape=(capacity, *shape), chunks=chunks, dtype=dtype,
                                fill_value=fill)

    def truncate(self, count: int) -> None:
        """Forget snapshots from index ``count`` on (they will be overwritten)."""
        self._pending.clear()
        self.count = count
        self._write_count()

    def append(self, step: int, arrays: Mapping[str, np.ndarray], loss: np.ndarray,
               score: np.ndarray) -> None:
        """Queue snapshot ``self.count + len(pending)``; ``flush`` writes it to the store."""
        self._pending.append({**arrays, "loss": loss, "score": score,
                              "step": np.asarray(step, dtype=np.int64)})

    def flush(self) -> None:
        """Write the queued snapshots (chunks first), then advance the authoritative count.

        Writing a block of snapshots per array in one call costs a fraction of writing them one
        by one; the trainer flushes at every checkpoint, so a kill loses only what a resume
        recomputes anyway.
        """
        if not self._pending:
            return
        k0, k1 = self.count, self.count + len(self._pending)
        capacity = self.group["step"].shape[0]
        if k1 > capacity:
            new = max(2 * capacity, k1)
            for name in self.group.array_keys():
                arr = self.group[name]
                arr.resize((new, *arr.shape[1:]))
        for name in self._pending[0]:
            self.group[name][k0:k1] = np.stack([snap[name] for snap in self._pending])
        self._pending.clear()
        self.count = k1
        self._write_count()

    def _write_count(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path / PROGRESS, {"n_snapshots": self.count})

    def reader(self) -> Trajectory:
        self.flush()
        return Trajectory(self.group, self.count, path=self.path)


class Trajectory:
    """A recorded weight trajectory.

    Attributes:
        weights: lazy [K, N, N] (or [K, E, N, N] for an ensemble) recurrent weights W(k).
        steps: [K] number of updates before each snapshot.
        loss, score: [K] (or [K, E]) training loss and task score at each snapshot.
        path: the run directory (None for an in-memory run).
    """

    def __init__(self, group: zarr.Group, count: int, *, path: Path | None = None) -> None:
        self.group = group
        self.path = path
        self.n_snapshots = count
        self.ensemble = bool(group.attrs.get("ensemble", False))
        self.steps = group["step"][:count]
        self.loss = without_members(group["loss"][:count], self.ensemble, axis=1)
        self.score = without_members(group["score"][:count], self.ensemble, axis=1)

    @classmethod
    def open(cls, path: str | Path, *, complete_prefix: bool = False) -> Trajectory:
        """Open a run's trajectory, checking that every counted snapshot has its chunks.

        Raises ``IncompleteTrajectory`` (naming the snapshots) when any is missing, unless
        ``complete_prefix`` is True: then only the snapshots before the first gap are opened.
        """
        path = Path(path)
        if not (path / STORE).exists():
            raise FileNotFoundError(f"no trajectory at {path}: expected {path / STORE} "
                                    "(is this a run directory written by rnnrank.train?)")
        count = int(read_json(path / PROGRESS)["n_snapshots"]) if (path / PROGRESS).exists() \
            else 0
        group = zarr.open_group(path / STORE, mode="r")
        missing = sorted(set().union(*(_missing_snapshots(group[name], path / STORE, count)
                                       for name in group.array_keys())))
        if missing:
            if not complete_prefix:
                raise IncompleteTrajectory(path, missing, count)
            count = missing[0]
        return cls(group, count, path=path)

    def __len__(self) -> int:
        return self.n_snapshots

    @property
    def names(self) -> list[str]:
        return sorted(set(self.group.array_keys()) - {"step", "loss", "score"})

    def parameter(self, name: str) -> SnapshotArray:
        if name not in self.names:
            raise KeyError(f"{name!r} was not recorded; recorded: {self.names}")
        return SnapshotArray(self.group[name], self.n_snapshots)

    @property
    def weights(self) -> SnapshotArray:
        return self.parameter("W")

    def delta(self, k: int = -1) -> np.ndarray:
        """ΔW(k) = W(k) − W(0) in float64: [N, N] (or [E, N, N])."""
        if self.n_snapshots == 0:
            raise ValueError("the trajectory holds no snapshot yet")
        w = self.weights
        return w[k].astype(np.float64) - w[0].astype(np.float64)

    def __repr__(self) -> str:
        return (f"Trajectory(snapshots={self.n_snapshots}, weights={self.weights.shape}, "
                f"path={self.path})")


def load_trajectory(path: str | Path, *, complete_prefix: bool = False) -> Trajectory:
    """Open the trajectory of a run directory (lazy; safe while the run is still writing).

    A snapshot whose chunks are missing raises ``IncompleteTrajectory``; ``complete_prefix=True``
    opens the complete snapshots before the first gap instead.
    """
    return Trajectory.open(path, complete_prefix=complete_prefix)
