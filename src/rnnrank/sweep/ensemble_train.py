"""Train runs that differ only in gain and seed as one batched ensemble, one run directory each.

Member e of the ensemble ``RateRNN(gain=[g_e], seed=[s_e])`` starts from the parameters of
``RateRNN(gain=g_e, seed=s_e)`` (``RateRNN`` guarantees it). To make its whole trajectory that of
the same configuration trained alone (``rnnrank train --gain g_e --seed s_e``), each member draws
its trials and its private noise from generators seeded as a lone run seeds them (a generator per
member, ``independent_batches``); Adam and SGD act elementwise, the loss is per member and the
gradient of the summed loss splits by member, so nothing couples the members. What differs is only
round-off (batched matrix products), ~1e-15 relative in float64 per step.

The ensemble trains in a group directory (``<sweep>/groups/<id>``, an ordinary run directory,
resumable after a kill); when it completes it is split into one run directory per member —
config.yaml, trajectory, metrics and a checkpoint exactly as a lone run writes them, so
``rr.load_trajectory`` reads them and ``rnnrank train --out <run>`` can extend them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..learning.best import member_state, save_best_file
from ..learning.rules import make_rule
from ..learning.run_config import run_config
from ..learning.schema import build_run
from ..learning.trainer import Run, check_model_task, train
from ..store.atomic import write_json_atomic
from ..store.run_dir import RunDir
from ..store.trajectory import Trajectory, TrajectoryWriter

SPLIT_BLOCK = 16  # snapshots read from the group's store at once while splitting
MEMBERS = ".members.json"  # beside a group directory: the run directories it trains (collect)


def members_file(group_dir: Path) -> Path:
    """``groups/<id>.members.json``: which runs the ensemble in ``groups/<id>`` trains (beside
    it, so the group directory holds nothing but the run ``rr.train`` writes)."""
    return group_dir.parent / f"{group_dir.name}{MEMBERS}"


def remove_group(group_dir: Path) -> None:
    """Delete an ensemble's group directory and its members file."""
    shutil.rmtree(group_dir, ignore_errors=True)
    members_file(group_dir).unlink(missing_ok=True)


def validate(options: dict) -> None:
    """Raise what ``rnnrank train`` would raise for these options, without training.

    Builds the task, the model, the rule and the training configuration and checks that they fit
    together, so a sweep refuses a bad run before its first run starts.
    """
    model, task, config, _ = build_run(options)
    make_rule(config.rule, **config.rule_options)
    check_model_task(model, task)


def train_alone(options: dict, out: Path) -> Run:
    """The run trained by itself into ``out`` (resumed or extended if ``out`` holds it)."""
    model, task, config, hooks = build_run(options)
    return train(model, task, config, hooks=hooks, out=out, resume=True)


class NotGroupable(RuntimeError):
    """The rule draws random state at init (random feedback), or a hook (flossing) acts on the
    whole ensemble: members must train alone."""


def train_ensemble(members: list[dict], member_dirs: list[Path], group_dir: Path) -> None:
    """Train ``members`` (options differing only in gain/seed) as one ensemble in ``group_dir``
    (resumed if it holds this ensemble), then write each member's run directory.

    Through the public ``rr.train``: ``TrainConfig.member_seeds`` makes member e draw its trials
    and noise as its lone run would, so the member is that run.

    Raises:
        NotGroupable: the rule holds random state or a hook acts on the whole ensemble; train
            the members alone instead.
        Exception: TrainingDiverged, or whatever the training raised.
    """
    from .spec import group_key

    first = members[0]
    if first.get("flossing") is not None:
        # flossing draws its trials and states for the ensemble at once: a member trained with
        # it would not equal the same run trained alone
        raise NotGroupable("runs with flossing train alone")
    if any(group_key(m) != group_key(first) for m in members):
        raise ValueError("ensemble members must differ only in gain and seed")
    gains, seeds = [m["gain"] for m in members], [m["seed"] for m in members]
    model, task, config, hooks = build_run(first, gain=gains, seed=seeds)
    rule = make_rule(config.rule, **config.rule_options)
    rule.init(model, torch.Generator().manual_seed(0))
    if rule.state_dict():
        raise NotGroupable(f"rule {rule.name!r} draws random state at init")
    config = dataclasses.replace(config, seed=seeds[0], member_seeds=tuple(seeds))
    group_dir.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(members_file(group_dir), {"dirs": [str(d) for d in member_dirs]})
    train(model, task, config, hooks=hooks, out=group_dir, resume=True)
    _split(group_dir, members, member_dirs)


def _split(group_dir: Path, members: list[dict], member_dirs: list[Path]) -> None:
    """Write each member's run directory from the completed group (each moved in atomically)."""
    group = RunDir(group_dir)
    traj = Trajectory.open(group_dir)
    ck = group.load_checkpoint()
    rows = group.read_metrics()
    status = group.read_status()
    K = len(traj)
    tmp_dirs, writers = [], []
    for e, (options, final) in enumerate(zip(members, member_dirs, strict=True)):
        tmp = final.parent / f".{final.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model, task, config, hooks = build_run(options)
        rule = make_rule(config.rule, **config.rule_options)  # as train() records the rule
        config = dataclasses.replace(config, rule=rule.name, rule_options=rule.options())
        d = RunDir(tmp)
        d.write_config(run_config(model, task, config))
        d.write_metrics([(s, 0, loss, score, sec) for s, m, loss, score, sec in rows if m == e])
        member_ck = _member_checkpoint(ck, e)
        d.save_checkpoint(member_ck)
        if "best" in member_ck:
            save_best_file(tmp, member_ck["best"])
        shapes = {k: tuple(v.shape) for k, v in model.recorded_parameters().items()}
        writers.append(TrajectoryWriter(tmp, shapes, 1, max(K, 1), ensemble=False,
                                        dtype=str(np.dtype(traj.weights.dtype))))
        writers[-1].truncate(0)
        tmp_dirs.append(tmp)
    for k0 in range(0, K, SPLIT_BLOCK):
        k1 = min(K, k0 + SPLIT_BLOCK)
        block = {name: traj.parameter(name)[k0:k1] for name in traj.names}
        loss = traj.group["loss"][k0:k1]
        score = traj.group["score"][k0:k1]
        for e, writer in enumerate(writers):
            for i in range(k1 - k0):
                writer.append(int(traj.steps[k0 + i]), {n: a[i, e] for n, a in block.items()},
                              loss[i, e:e + 1], score[i, e:e + 1])
            writer.flush()
    for tmp, final, writer in zip(tmp_dirs, member_dirs, writers, strict=True):
        assert writer.count == K
        RunDir(tmp).write_status("completed", step=status.get("step"),
                                 seconds=status.get("seconds"), ensemble=str(group_dir.name))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)


def _member_checkpoint(ck: dict, e: int) -> dict:
    """Member e's share of an ensemble checkpoint: every per-member tensor sliced at [e]."""
    def take(value):
        if isinstance(value, torch.Tensor):
            return value[e].clone() if value.dim() >= 1 else value.clone()
        if isinstance(value, dict):
            return {k: take(v) for k, v in value.items()}
        return value

    out = dict(ck)
    out["model"] = take(ck["model"])
    opt = ck["optimizer"]
    out["optimizer"] = {"state": take(opt["state"]), "param_groups": opt["param_groups"]}
    if "best" in ck:  # the best-parameter tracker: member e's, in a single network's layout
        out["best"] = member_state(ck["best"], e)
    out["batch_generator"] = ck["batch_generator"][e].clone()
    out["noise_generator"] = ck["noise_generator"][e].clone()
    return out
