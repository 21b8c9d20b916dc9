"""One run schema: every option of a training run, named once.

The same flat options are the keywords of ``rnnrank train``, the ``train:`` section of a sweep
(``rnnrank.sweep.spec``), and what a run's ``config.yaml`` reads back as (``options_of_run``).
``build_run`` turns them into what ``rr.train`` takes — model, task, ``TrainConfig`` and hooks —
so the command line, sweeps and ``load_run`` build a run the same way.

Sections: the task (``task``, ``task_options``), the model (``RateRNN``'s keywords), the training
(``TrainConfig``'s fields, read from the dataclass) and the hooks (``flossing``: None, or the
options of ``rr.learning.Flossing``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..models import RateRNN
from ..store.atomic import read_yaml
from ..tasks import make
from .config import TrainConfig
from .flossing import Flossing
from .hooks import TrainingHook

TASK_OPTIONS: dict[str, object] = {"task": "flipflop", "task_options": {}}
MODEL_OPTIONS: dict[str, object] = {
    "n_rec": 256, "gain": 1.5, "nonlinearity": "tanh", "dt": 0.2, "tau": 1.0, "noise": 0.0,
    "init": "gaussian", "trainable": ["W", "U", "V", "b"],
    # where the parameters live: "cpu", "cuda", "cuda:1", or "auto" (a GPU where there is one)
    "dtype": "float32", "device": "cpu",
}
# TrainConfig's fields, except what a runner sets rather than a user: the ensemble layout of
# trials (a sweep sets member_seeds for the runs it batches).
_RUNNER_SET = ("independent_batches", "member_seeds")
# The command line trains longer by default than TrainConfig's library default.
_CLI_DEFAULTS = {"steps": 2000}
TRAIN_OPTIONS: dict[str, object] = {
    f.name: _CLI_DEFAULTS.get(f.name, f.default if f.default is not dataclasses.MISSING
                              else f.default_factory())
    for f in dataclasses.fields(TrainConfig) if f.name not in _RUNNER_SET}
HOOK_OPTIONS: dict[str, object] = {"flossing": None}
RUN_OPTIONS: dict[str, object] = {**TASK_OPTIONS, **MODEL_OPTIONS, **TRAIN_OPTIONS,
                                  **HOOK_OPTIONS}
DTYPES = ("float32", "float64")
# Options a resumed run may change (run_config.RESUMABLE_CHANGES, seen from the schema)
RESUMABLE = ("steps", "checkpoint_every", "restore_best")


def resolve(options: dict) -> dict:
    """Every option, defaults filled in, types and choices checked.

    Raises:
        ValueError: an unknown option (named, with the valid ones) or a value of the wrong type.
    """
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; valid options: {sorted(RUN_OPTIONS)}")
    out = {**RUN_OPTIONS, **options}
    for key, default in RUN_OPTIONS.items():
        value = out[key]
        if default is None or value is None:
            if key == "flossing" and value is not None and not isinstance(value, dict):
                raise ValueError(f"flossing must be a mapping of Flossing options or None, "
                                 f"got {value!r}")
            continue
        if isinstance(default, float) and not isinstance(default, bool):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default)) and (
                isinstance(default, bool) or not isinstance(value, bool))
        if not ok:
            raise ValueError(f"train option {key} must be a {type(default).__name__}, got "
                             f"{value!r}")
        if isinstance(default, float):
            out[key] = float(value)
    if out["dtype"] not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {out['dtype']!r}")
    from ..tasks import available_tasks

    if out["task"] not in available_tasks():
        raise ValueError(f"unknown task {out['task']!r}; choose one of {available_tasks()}")
    return out


def build_run(options: dict, *, gain=None, seed=None,
              ) -> tuple[RateRNN, object, TrainConfig, list[TrainingHook]]:
    """(model, task, TrainConfig, hooks) of resolved ``options``, as ``rr.train`` takes them.

    ``gain``/``seed`` may be lists (an ensemble of those members); by default the options' own.
    """
    o = resolve(options)
    task = make(o["task"], **{"dt": o["dt"], **o["task_options"]})
    model = RateRNN(task.n_in, o["n_rec"], task.n_out,
                    gain=o["gain"] if gain is None else gain,
                    seed=o["seed"] if seed is None else seed,
                    nonlinearity=o["nonlinearity"], dt=o["dt"], tau=o["tau"], noise=o["noise"],
                    init=o["init"], trainable=tuple(o["trainable"]),
                    dtype=getattr(torch, o["dtype"]), device=resolve_device(o["device"]))
    config = TrainConfig(**{k: o[k] for k in TRAIN_OPTIONS})
    hooks = [] if o["flossing"] is None else [Flossing(**o["flossing"])]
    return model, task, config, hooks


def resolve_device(name: str) -> str:
    """The torch device a run's ``device`` option names ("auto": cuda where available)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def options_of_run(path: str | Path) -> dict:
    """The flat options of the run in ``path`` (its config.yaml), as ``resolve`` returns them:
    ``build_run(options_of_run(path))`` builds that run again (a single ``RateRNN`` run)."""
    cfg = read_yaml(Path(path) / "config.yaml")
    m, t, tr = dict(cfg["model"]), dict(cfg["task"]), dict(cfg["train"])
    if m.get("class", "RateRNN") != "RateRNN" or m.get("ensemble"):
        raise ValueError(f"{path} holds a {m.get('class')} run"
                         f"{' (an ensemble)' if m.get('ensemble') else ''}; the run schema "
                         "describes single RateRNN runs")
    name = t.pop("name")
    dt = t.pop("dt", m["dt"])
    floss = [h for h in cfg.get("hooks", []) if h.get("name") == "flossing"]
    options = {
        "task": name, "task_options": t, "n_rec": m["n_rec"], "gain": m["gains"][0],
        "nonlinearity": m["nonlinearity"], "dt": dt, "tau": m["tau"], "noise": m["noise"],
        "init": m["init"], "trainable": list(m["trainable"]),
        **{k: tr[k] for k in TRAIN_OPTIONS if k in tr},
        "flossing": {k: v for k, v in floss[0].items() if k != "name"} if floss else None,
    }
    return resolve(options)


def canonical(options: dict) -> dict:
    """``resolve(options)`` with the task's and the rule's options written out in full (their
    defaults included), as a run's config.yaml stores them: two option sets describe the same
    run exactly when their canonical forms are equal."""
    from .rules import make_rule

    o = resolve(options)
    task = make(o["task"], **{"dt": o["dt"], **o["task_options"]})
    task_options = {k: v for k, v in task.options().items() if k != "dt"}
    rule = make_rule(o["rule"], **o["rule_options"])
    return {**o, "task_options": task_options, "rule": rule.name, "rule_options": rule.options()}
