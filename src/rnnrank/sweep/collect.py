"""``collect``: one table of a sweep — a row per run with its configuration and its results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..store.atomic import read_json
from ..store.run_dir import RunDir
from ..store.trajectory import Trajectory


def collect(path: str | Path):
    """A pandas DataFrame, one row per run of the sweep in ``path`` (in plan order).

    Columns: ``name``, ``status``, ``message``, ``path``; every resolved option of the run (dict
    options flattened as ``task_options.n_bits``); for training runs ``steps_done``,
    ``final_loss``, ``final_score``, ``delta_norm`` (Frobenius ‖W(K) − W(0)‖),
    ``effective_rank`` (participation ratio (Σσ²)²/Σσ⁴ of ΔW's singular values) and
    ``seconds``; for analyses and fits the numbers of their ``result.json``. Unfinished runs have
    NaN results.
    """
    import pandas as pd

    path = Path(path)
    if not (path / "plan.json").exists():
        raise FileNotFoundError(f"{path} holds no sweep (no plan.json); pass the --out of "
                                "'rnnrank sweep'")
    plan = read_json(path / "plan.json")
    in_groups = _ensembles_in_training(path)
    rows = []
    for run in plan["runs"]:
        d = path / run["dir"]
        status = RunDir(d).read_status()
        if not status and str(d.resolve()) in in_groups:
            status = in_groups[str(d.resolve())]
        row = {"name": run["name"], "status": status.get("status", "pending"),
               "message": status.get("message", ""), "path": str(d)}
        row.update(_flatten(run["options"]))
        if run["kind"] == "train":
            row.update(_train_results(d, status))
        elif (d / "result.json").exists():
            row.update({k: v for k, v in _flatten(read_json(d / "result.json")).items()
                        if isinstance(v, (int, float))})  # bools too (e.g. hit_max_iter)
        rows.append(row)
    return pd.DataFrame(rows)


def _ensembles_in_training(path: Path) -> dict[str, dict]:
    """Run directory → status of the ensemble (``groups/<id>``) that is training it, if any:
    a run not yet split out of its ensemble reads as the ensemble's state, not as pending."""
    from .ensemble_train import MEMBERS

    out = {}
    for group in sorted((path / "groups").glob(f"*{MEMBERS}")):
        group_dir = group.parent / group.name[: -len(MEMBERS)]
        status = RunDir(group_dir).read_status()
        if not status:
            continue
        where = f"in ensemble groups/{group_dir.name} at step {status.get('step', 0)}"
        message = f"{where}: {status['message']}" if status.get("message") else where
        for d in read_json(group)["dirs"]:
            out[str(Path(d).resolve())] = {**status, "message": message}
    return out


def _train_results(d: Path, status: dict) -> dict:
    nan = float("nan")
    out = {"steps_done": nan, "final_loss": nan, "final_score": nan, "delta_norm": nan,
           "effective_rank": nan, "seconds": status.get("seconds", nan)}
    if not (d / "trajectory.zarr").exists():
        return out
    traj = Trajectory.open(d)
    if len(traj) == 0 or traj.ensemble:
        return out
    s = np.linalg.svd(traj.delta(), compute_uv=False)
    s2 = s**2
    out.update(steps_done=int(traj.steps[-1]), final_loss=float(traj.loss[-1]),
               final_score=float(traj.score[-1]), delta_norm=float(np.sqrt(s2.sum())),
               effective_rank=float(s2.sum() ** 2 / (s2**2).sum()) if s2.sum() > 0 else 0.0)
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[f"{prefix}{k}"] = str(v)
        else:
            out[f"{prefix}{k}"] = v
    return out
