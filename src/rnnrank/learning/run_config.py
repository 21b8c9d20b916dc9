"""The resolved configuration of a run (config.yaml) and the resume compatibility check."""

from __future__ import annotations

import math
from pathlib import Path

from torch import nn

from .._version import __version__
from ..models.protocol import missing_members
from ..tasks.base import Task
from .config import TrainConfig

# Training options that may change when a run is resumed.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "restore_best")
# Saved before an option existed = saved with its default (runs stay resumable across versions).
TRAIN_DEFAULTS = TrainConfig().to_dict()


def model_config(model: nn.Module) -> dict:
    """``{"class": name, **options}`` for models that carry a ``config`` with ``to_dict``."""
    cfg = getattr(model, "config", None)
    options = cfg.to_dict() if hasattr(cfg, "to_dict") else {}
    return {"class": type(model).__name__, **options}


def run_config(model: nn.Module, task: Task, train: TrainConfig) -> dict:
    return {
        "rnnrank": __version__,
        "model": model_config(model),
        "task": {"name": task.name, **task.options()},
        "train": train.to_dict(),
    }


def check_compatible(saved: dict, new: dict, path: Path) -> None:
    """Raise ``ValueError`` naming every setting that differs from the run saved in ``path``."""
    diffs = []
    # a training option added after a run was saved reads as its default there
    defaults = TrainConfig().to_dict()
    for section in ("model", "task", "train"):
        old, cur = saved.get(section, {}), new.get(section, {})
        if section == "train":
            old, cur = {**defaults, **old}, {**defaults, **cur}
        for key in sorted(set(old) | set(cur)):
            if section == "train" and key in RESUMABLE_CHANGES:
                continue
            default = TRAIN_DEFAULTS.get(key) if section == "train" else None
            if old.get(key, default) != cur.get(key, default):
                diffs.append(f"{section}.{key}: saved {old.get(key)!r}, now {cur.get(key)!r}")
    if saved.get("hooks", []) != new.get("hooks", []):
        diffs.append(f"hooks: saved {saved.get('hooks', [])!r}, now {new.get('hooks', [])!r}")
    if diffs:
        raise ValueError(f"{path} holds a different run ({'; '.join(diffs)}); use another "
                         "output directory or overwrite=True (--overwrite)")


def check_model_task(model: nn.Module, task: Task) -> None:
    """Raise ``ValueError`` when ``model`` cannot train on ``task`` (protocol, sizes, dt)."""
    missing = missing_members(model)
    if missing:
        raise ValueError(f"{type(model).__name__} cannot be trained: it lacks {missing} of the "
                         "TrainableModel protocol (rnnrank.models.protocol)")
    cfg = model.config
    if cfg.n_in != task.n_in or cfg.n_out != task.n_out:
        raise ValueError(f"model has n_in={cfg.n_in}, n_out={cfg.n_out} but task {task.name!r} "
                         f"needs n_in={task.n_in}, n_out={task.n_out}")
    dt = getattr(cfg, "dt", None)  # models without a time step (LSTM) have none
    if dt is not None and not math.isclose(dt, task.dt):
        raise ValueError(f"model dt={dt} but task dt={task.dt}; build the task with "
                         f"make({task.name!r}, dt={dt}) (or the model with dt={task.dt})")
