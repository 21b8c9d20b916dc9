"""Sweep specifications: one base section, a ``grid`` and/or a list of ``runs``, expanded to runs.

A spec is a YAML file (or the same dict)::

    train: {task: flipflop, n_rec: 64, steps: 400, record_every: 20, lr: 0.001}
    grid:  {gain: [0.5, 1.0, 1.5], seed: [0, 1]}        # every combination (6 runs)
    runs:  [{lr: 0.001}, {lr: 0.003, steps: 800}]       # a list of overrides (× the grid)

Exactly one base section: ``train`` (options of ``rnnrank train``), ``fit`` (an ltrRNN fit of a
recording) or ``analyze`` (analyses of existing run directories). Optional ``max_ensemble`` caps
how many runs train as one batched ensemble. Every error names the key and the fix.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..learning.schema import RESUMABLE as SCHEMA_RESUMABLE
from ..learning.schema import RUN_OPTIONS
from ..learning.schema import resolve as resolve_run

# The options of a training run: the run schema (``rnnrank.learning.schema``), the same names
# and defaults as ``rnnrank train``.
TRAIN_OPTIONS: dict[str, object] = RUN_OPTIONS
# Options added after run names were fixed: left out of a run's name while at their default,
# so that the runs of existing sweeps keep their directories.
NAME_OMITS_DEFAULT = ("trainable", "flossing", "track_alignment", "best_window")
ANALYZE_OPTIONS: dict[str, object] = {
    "run": None, "matrix_rank": True, "tensor_rank": False, "ranks": [1, 2, 3, 4, 5, 6, 7, 8],
    "restarts": 3, "member": None, "batch_size": 512,
}
FIT_REQUIRED = ("recording", "rank")
KINDS = ("train", "fit", "analyze")
TOP_LEVEL = (*KINDS, "grid", "runs", "name", "max_ensemble")
# Options a resumed run may change: not part of a run's name (restore_best never was).
RESUMABLE = SCHEMA_RESUMABLE


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its kind, fully resolved options, what the sweep varied, its name."""

    kind: str
    options: dict
    overrides: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``gain-0.5_seed-1_3f2a9c1d``: the overrides, then a hash of the resolved options
        (without ``steps``/``checkpoint_every``, so that a longer re-run extends the run)."""
        stable = {k: v for k, v in self.options.items() if k not in RESUMABLE
                  and not (k in NAME_OMITS_DEFAULT and v == TRAIN_OPTIONS.get(k))}
        digest = hashlib.sha1(json.dumps([self.kind, stable], sort_keys=True, default=str)
                              .encode()).hexdigest()[:8]
        parts = [f"{k}-{_short(v)}" for k, v in self.overrides.items() if k not in RESUMABLE]
        slug = re.sub(r"[^A-Za-z0-9.=+-]+", "_", "_".join(parts))[:60].strip("_")
        return f"{slug}_{digest}" if slug else f"run_{digest}"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "options": self.options,
                "overrides": self.overrides}


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec: base section, grid axes, override list; ``expand()`` gives the runs."""

    kind: str
    base: dict
    grid: dict
    runs: list
    name: str = "sweep"
    max_ensemble: int = 32

    def expand(self) -> list[RunSpec]:
        """Every combination of the grid, for every entry of ``runs`` (in order, no duplicates).

        Resolved once per spec (validation, planning and running share it)."""
        return list(self._expanded)

    @functools.cached_property
    def _expanded(self) -> tuple[RunSpec, ...]:
        keys = list(self.grid)
        combos = [dict(zip(keys, values, strict=True))
                  for values in itertools.product(*(self.grid[k] for k in keys))]
        out, seen = [], set()
        for extra in self.runs or [{}]:
            for combo in combos:
                overrides = {**extra, **combo}
                run = RunSpec(self.kind, _resolve(self.kind, {**self.base, **overrides}),
                              overrides)
                if run.name not in seen:
                    seen.add(run.name)
                    out.append(run)
        return tuple(out)

    def to_dict(self) -> dict:
        d = {self.kind: self.base, "name": self.name, "max_ensemble": self.max_ensemble}
        if self.grid:
            d["grid"] = self.grid
        if self.runs:
            d["runs"] = self.runs
        return d


def load_spec(source: str | Path | dict) -> SweepSpec:
    """Read and validate a spec from a YAML path or a dict.

    Raises:
        ValueError: unknown keys, missing or several base sections, bad grid values; the message
            names the key and the fix.
        FileNotFoundError: the YAML file does not exist.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"sweep spec {path} not found; pass a YAML file such as "
                                    "'train: {task: flipflop}\\ngrid: {seed: [0, 1]}'")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ValueError(f"sweep spec {path} is not valid YAML{where}: {problem}") from None
    else:
        data = source
    if not isinstance(data, dict):
        raise ValueError(f"a sweep spec is a mapping with a train:, fit: or analyze: section, "
                         f"got {type(data).__name__}")
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise ValueError(f"unknown spec key(s) {unknown}; valid keys: {list(TOP_LEVEL)}")
    kinds = [k for k in KINDS if k in data]
    if len(kinds) != 1:
        raise ValueError("a spec needs exactly one of train:, fit:, analyze:, got "
                         f"{kinds or 'none'}; e.g. 'train: {{task: flipflop, n_rec: 64}}'")
    kind = kinds[0]
    base = data[kind] or {}
    if not isinstance(base, dict):
        raise ValueError(f"{kind}: must be a mapping of options, got {base!r}")
    _check_keys(kind, base, f"{kind}:")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise ValueError(f"grid: must map option names to lists, got {grid!r}")
    if "grid" in data and not grid:
        raise ValueError("grid: is empty (it would run the base section once); list values, "
                         "e.g. grid: {seed: [0, 1]}, or remove grid:")
    _check_keys(kind, grid, "grid:")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid.{key} must be a non-empty list, got {values!r}; "
                             f"e.g. grid: {{{key}: [a, b]}}")
    grid = _expand_globs(kind, grid)
    runs = data.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError(f"runs: must be a list of mappings of overrides, got {runs!r}")
    for i, run in enumerate(runs):
        _check_keys(kind, run, f"runs[{i}]")
    max_ensemble = data.get("max_ensemble", 32)
    if isinstance(max_ensemble, bool) or not isinstance(max_ensemble, int) or max_ensemble < 1:
        raise ValueError(f"max_ensemble must be a positive integer, got {max_ensemble!r}")
    spec = SweepSpec(kind, dict(base), grid, list(runs), str(data.get("name", "sweep")),
                     max_ensemble)
    spec.expand()  # resolve every run now: a bad value fails before anything runs
    return spec


def _check_keys(kind: str, options: dict, where: str) -> None:
    if kind == "fit":
        return  # options of rnnrank.fitting.fit_ltr, checked by it
    valid = TRAIN_OPTIONS if kind == "train" else ANALYZE_OPTIONS
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} in {where}; valid {kind} options: "
                         f"{sorted(valid)}")


def _expand_globs(kind: str, grid: dict) -> dict:
    if kind != "analyze" or "run" not in grid:
        return grid
    runs = []
    for pattern in grid["run"]:
        matches = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [pattern]
        runs.extend(m for m in matches if (Path(m) / "config.yaml").exists()
                    or not glob.has_magic(str(pattern)))
    if not runs:
        raise ValueError(f"grid.run {grid['run']} matches no run directory; give paths of runs")
    return {**grid, "run": runs}


def _resolve(kind: str, options: dict) -> dict:
    """Defaults filled in and values checked (types, choices); fit options pass through."""
    if kind == "fit":
        missing = [k for k in FIT_REQUIRED if k not in options]
        if missing:
            raise ValueError(f"fit: needs {missing}; e.g. fit: {{recording: data.npz, rank: 3}}")
        return dict(options)
    if kind == "train":
        return resolve_run(options)
    out = {**ANALYZE_OPTIONS, **options}
    for key, default in ANALYZE_OPTIONS.items():
        value = out[key]
        if default is None or value is None:
            continue
        if not (isinstance(value, type(default))
                and (isinstance(default, bool) or not isinstance(value, bool))):
            raise ValueError(f"analyze option {key} must be a {type(default).__name__}, got "
                             f"{value!r}")
    if out["run"] is None:
        raise ValueError("analyze: needs run: a run directory (or grid: {run: [dirs or globs]})")
    return out


GROUPABLE_KEYS = ("gain", "seed")  # what may differ between the members of one ensemble


def group_key(options: dict) -> str:
    """Runs with equal keys may train as one batched ensemble (all options but gain and seed
    agree)."""
    return repr(sorted((k, repr(v)) for k, v in options.items() if k not in GROUPABLE_KEYS))


def _short(value) -> str:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return str(value)
