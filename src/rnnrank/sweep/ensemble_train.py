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

import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..learning.best import member_state, save_best_file
from ..learning.config import TrainConfig
from ..learning.flossing import Flossing
from ..learning.rules import make_rule
from ..learning.run_config import run_config
from ..learning.trainer import Run, _check_model_task, _Loop, train
from ..models import RateRNN
from ..store.atomic import write_json_atomic
from ..store.run_dir import RunDir
from ..store.trajectory import Trajectory, TrajectoryWriter
from ..tasks import Batch, make
from ..tasks.base import Task

# Offsets the trainer adds to a run's seed for its noise generator (trainer._Loop.__init__).
NOISE_SEED_OFFSET = 7919
GROUPABLE_KEYS = ("gain", "seed")  # what may differ between the members of one ensemble
SPLIT_BLOCK = 16  # snapshots read from the group's store at once while splitting
MEMBERS = "members.json"  # in a group directory: the run directories it trains (for collect)


def build(options: dict, *, gain=None, seed=None) -> tuple[RateRNN, Task, dict]:
    """(model, task, train keywords) of a ``train:`` run, exactly as ``rnnrank train`` builds them.

    ``gain``/``seed`` may be lists (an ensemble); by default the options' own.
    """
    o = options
    task = make(o["task"], **{"dt": o["dt"], **o["task_options"]})
    model = RateRNN(task.n_in, o["n_rec"], task.n_out,
                    gain=o["gain"] if gain is None else gain,
                    seed=o["seed"] if seed is None else seed,
                    nonlinearity=o["nonlinearity"], dt=o["dt"], tau=o["tau"], noise=o["noise"],
                    init=o["init"], dtype=getattr(torch, o["dtype"]),
                    device=_device(o.get("device", "cpu")))
    kw = dict(rule=o["rule"], steps=o["steps"], lr=o["lr"], optimizer=o["optimizer"],
              batch_size=o["batch_size"], record_every=o["record_every"],
              checkpoint_every=o["checkpoint_every"], seed=o["seed"], grad_clip=o["grad_clip"],
              lr_warmup=o["lr_warmup"], lr_schedule=o["lr_schedule"],
              rule_options=o["rule_options"])
    if o.get("flossing") is not None:  # the hook gets the task from rr.train (inputs="task")
        kw["flossing"] = Flossing(**o["flossing"])
    return model, task, kw


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def validate(options: dict) -> None:
    """Raise what ``rnnrank train`` would raise for these options, without training.

    Builds the task, the model, the rule and the training configuration and checks that they fit
    together, so a sweep refuses a bad run before its first run starts.
    """
    model, task, _ = build(options)
    _train_config(options, seed=options["seed"], independent_batches=False)
    _check_model_task(model, task)


def train_alone(options: dict, out: Path) -> Run:
    """The run trained by itself into ``out`` (resumed or extended if ``out`` holds it)."""
    model, task, kw = build(options)
    return train(model, task, out=out, resume=True, **kw)


def group_key(options: dict) -> str:
    """Runs with equal keys may train as one ensemble (all options but gain and seed agree)."""
    return repr(sorted((k, repr(v)) for k, v in options.items() if k not in GROUPABLE_KEYS))


class NotGroupable(RuntimeError):
    """The rule draws random state at init (random feedback), or a hook (flossing) acts on the
    whole ensemble: members must train alone."""


def train_ensemble(members: list[dict], member_dirs: list[Path], group_dir: Path) -> None:
    """Train ``members`` (options differing only in gain/seed) as one ensemble in ``group_dir``
    (resumed if it holds this ensemble), then write each member's run directory.

    Raises:
        NotGroupable: the rule holds random state; train the members alone instead.
        Exception: TrainingDiverged, or whatever the training raised.
    """
    first = members[0]
    if first.get("flossing") is not None:
        # flossing draws its trials and states for the ensemble at once: a member trained with
        # it would not equal the same run trained alone
        raise NotGroupable("runs with flossing train alone")
    if any(group_key(m) != group_key(first) for m in members):
        raise ValueError("ensemble members must differ only in gain and seed")
    gains, seeds = [m["gain"] for m in members], [m["seed"] for m in members]
    model, task, kw = build(first, gain=gains, seed=seeds)
    config, rule = _train_config(first, seed=seeds[0], independent_batches=True)
    _check_model_task(model, task)
    loop = _MemberSeededLoop(model, task, rule, config, group_dir, member_seeds=seeds)
    if rule.state_dict():
        raise NotGroupable(f"rule {rule.name!r} draws random state at init")
    write_json_atomic(group_dir / MEMBERS, {"dirs": [str(d) for d in member_dirs]})
    loop.run(progress=False)
    _split(group_dir, members, member_dirs)


def _train_config(options: dict, *, seed: int, independent_batches: bool):
    """(TrainConfig, rule) exactly as ``train(**build(options)[2])`` resolves them."""
    rule = make_rule(options["rule"], **options["rule_options"])
    config = TrainConfig(rule=rule.name, rule_options=rule.options(), steps=options["steps"],
                         lr=options["lr"], optimizer=options["optimizer"],
                         batch_size=options["batch_size"], record_every=options["record_every"],
                         seed=seed, checkpoint_every=options["checkpoint_every"],
                         grad_clip=options["grad_clip"], lr_warmup=options["lr_warmup"],
                         lr_schedule=options["lr_schedule"],
                         independent_batches=independent_batches)
    return config, rule


class GeneratorSet:
    """One ``torch.Generator`` per member; ``get_state``/``set_state`` stack them [E, S]."""

    def __init__(self, seeds: list[int]) -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def get_state(self) -> torch.Tensor:
        return torch.stack([g.get_state() for g in self.generators])

    def set_state(self, state: torch.Tensor) -> None:
        if state.dim() != 2 or state.shape[0] != len(self.generators):
            raise ValueError(f"checkpoint holds generator states {tuple(state.shape)}, expected "
                             f"one per member ({len(self.generators)})")
        for g, s in zip(self.generators, state, strict=True):
            g.set_state(s.clone())


class _MemberSeededLoop(_Loop):
    """The trainer's loop with member e's trials and noise drawn from member e's own seeds."""

    def __init__(self, model, task, rule, config, out, *, member_seeds: list[int]) -> None:
        self.member_seeds = list(member_seeds)
        super().__init__(model, task, rule, config, out, hooks=[], resume=True, overwrite=False)
        if not isinstance(self.batch_gen, GeneratorSet):  # fresh run: nothing was restored
            self._install_generators()

    def _install_generators(self) -> None:
        self.batch_gen = GeneratorSet(self.member_seeds)
        self.noise_gen = GeneratorSet([s + NOISE_SEED_OFFSET for s in self.member_seeds])

    def _restore(self, ck: dict) -> None:
        self._install_generators()
        super()._restore(ck)

    def _batch(self):
        B = self.config.batch_size
        batches = [self.task.sample(B, generator=g) for g in self.batch_gen.generators]
        batch = Batch(*(torch.stack([getattr(b, f) for b in batches], dim=1)
                        for f in ("inputs", "targets", "mask")),
                      {k: torch.stack([b.info[k] for b in batches], dim=1)
                       for k in batches[0].info}).to(self.device, self.dtype)
        noise = None
        if self.model.config.noise > 0:  # as RateRNN.draw_noise draws it for a lone member
            T, N = batch.n_steps, self.model.n_rec
            noise = torch.cat([torch.randn((T, 1, B, N), generator=g, dtype=self.dtype)
                               for g in self.noise_gen.generators], dim=1).to(self.device)
        return batch, noise


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
        model, task, _ = build(options)
        config, _ = _train_config(options, seed=options["seed"], independent_batches=False)
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
