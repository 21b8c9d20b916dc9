"""``train``: the rule-agnostic training loop that records the weight trajectory.

The loop owns batches, the optimiser, recording, checkpoints and resuming; a learning rule
(``rules.py``) only turns (model, batch) into a loss and gradients. Determinism: the task batches
and the private noise come from generators seeded by ``seed`` and saved in every checkpoint, so a
run resumed after a kill records exactly the trajectory of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..ensemble import with_members, without_members
from ..losses import masked_mse
from ..models.protocol import missing_members
from ..store.run_dir import RunDir
from ..store.trajectory import Trajectory, TrajectoryWriter
from ..tasks.base import Batch, Task
from . import alignment
from .best import BestSnapshot, BestTracker
from .config import TrainConfig
from .hooks import TrainingHook, hook_config
from .progress import progress_bar
from .rules import LearningRule, make_rule
from .run_config import check_compatible, run_config
from .schedule import make_scheduler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; everything recorded before is kept in ``run``."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class Run:
    """The result of ``train``: where it lives, how it ended, and its trajectory."""

    path: Path | None
    status: str
    steps: int
    final_loss: np.ndarray
    trajectory: Trajectory
    model: nn.Module
    best: BestSnapshot | None = None

    @property
    def best_step(self) -> np.ndarray | None:
        """[E] update at which each member's smoothed training loss was lowest (``best.py``)."""
        return None if self.best is None else self.best.step


def train(
    model: nn.Module,
    task: Task,
    config: TrainConfig | None = None,
    *,
    rule: str | LearningRule | None = None,
    rule_options: dict | None = None,
    hooks: Sequence[TrainingHook] = (),
    flossing: TrainingHook | None = None,
    out: str | Path | None = None,
    resume: bool = True,
    overwrite: bool = False,
    progress: bool = False,
    threads: int | None = None,
    **options,
) -> Run:
    """Train ``model`` on ``task`` and record W(k) at step 0 and every ``record_every`` updates.

    Two equivalent forms: ``train(model, task, TrainConfig(steps=2000, lr=1e-3))`` or
    ``train(model, task, steps=2000, lr=1e-3)`` (keywords override the config's fields).

    Args:
        model: any ``TrainableModel`` (``RateRNN`` single or ensemble, ``LSTMNet``, ...).
        task: a registered task; its ``dt`` must equal the model's.
        config: a ``TrainConfig`` (its fields: steps, lr, optimizer, batch_size, record_every,
            seed, checkpoint_every, grad_clip, independent_batches, rule, rule_options).
        rule: learning rule name or instance (default: the config's, ``"bptt"``).
        rule_options: options of the rule, apart from the training options (e.g.
            ``{"truncation": 10}``); other unknown keywords are taken as rule options too.
        hooks: ``TrainingHook``s acting beside the rule (regularisers, phases of their own);
            ``flossing=`` adds gradient flossing to them.
        out: run directory; None keeps the trajectory in memory (no checkpoints).
        resume: continue the run found in ``out`` from its last checkpoint (same configuration;
            ``steps`` may grow). ``overwrite`` deletes it instead.
        progress: show a rich progress bar.
        threads: torch threads for this run (restored afterwards); None keeps the process's.
            On a machine other work keeps busy, 1 thread per process avoids the ~8 ms stall a
            2-thread parallel region takes when one of its threads is descheduled.

    Returns:
        a ``Run``; ``run.model`` is ``model``, trained in place.

    Raises:
        TrainingDiverged: the loss became NaN/inf (the run directory keeps what was recorded).
        ValueError: inconsistent model/task/options, or ``out`` holds a different run.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    config = dataclasses.replace(config if config is not None else TrainConfig(),
                                 **{k: v for k, v in options.items() if k in fields})
    extra = {k: v for k, v in options.items() if k not in fields}
    same_rule = rule is None or (isinstance(rule, str) and rule == config.rule)
    opts = {**(config.rule_options if same_rule else {}), **(rule_options or {}), **extra}
    rule_obj = make_rule(config.rule if rule is None else rule, **opts)
    config = dataclasses.replace(config, rule=rule_obj.name, rule_options=rule_obj.options())
    hooks = [*hooks, *([flossing] if flossing is not None else [])]
    _check_model_task(model, task)
    if not rule_obj.supports(model):
        raise ValueError(f"rule {rule_obj.name!r} cannot train a {type(model).__name__}; "
                         "use rule='bptt' (any model) or a RateRNN")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    loop = _Loop(model, task, rule_obj, config, out, hooks=hooks, resume=resume,
                 overwrite=overwrite)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return loop.run(progress=progress)
    finally:
        torch.set_num_threads(before)


def _check_model_task(model: nn.Module, task: Task) -> None:
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


class _Loop:
    def __init__(self, model, task, rule, config: TrainConfig, out, *, hooks, resume,
                 overwrite):
        self.model, self.task, self.rule, self.config = model, task, rule, config
        self.hooks = list(hooks)
        names = [h.name for h in self.hooks]
        if len(set(names)) != len(names):
            raise ValueError(f"each hook may be given once, got {names}")
        self.E = model.ensemble_size
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        trainable = [p for p in model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("the model has no trainable parameter; set trainable=(...)")
        opt = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
        self.opt = opt(trainable, lr=config.lr)
        self.scheduler = make_scheduler(self.opt, warmup=config.lr_warmup,
                                        schedule=config.lr_schedule, steps=config.steps)
        self.best = BestTracker(model, config.best_window)
        self.batch_gen = torch.Generator().manual_seed(config.seed)
        self.noise_gen = torch.Generator().manual_seed(config.seed + 7919)
        self.full_config = run_config(model, task, config)
        if self.hooks:
            self.full_config["hooks"] = hook_config(self.hooks)
        self.rows: list[tuple] = []
        self.extra_fields = (alignment.alignment_fields(model) if config.track_alignment
                             else ())
        self.start, self.elapsed0 = 0, 0.0
        self.dir = None if out is None else RunDir(out)
        self.checkpoint: dict | None = None
        shapes = {k: tuple(v.shape) for k, v in model.recorded_parameters().items()}
        if self.dir is not None:
            self._open_dir(resume=resume, overwrite=overwrite)
        self.writer = TrajectoryWriter(None if self.dir is None else self.dir.path, shapes,
                                       self.E, config.n_snapshots,
                                       ensemble=model.is_ensemble,
                                       dtype="float64" if self.dtype == torch.float64
                                       else "float32")
        # Randomness of the rule and hooks (random feedback, ...) follows the run's seed.
        self.rule.init(model, torch.Generator().manual_seed(config.seed + 104729))
        for i, hook in enumerate(self.hooks):
            hook.init(model, torch.Generator().manual_seed(config.seed + 1299709 * (i + 1)),
                      task=task)
        if self.checkpoint is not None:
            self._restore(self.checkpoint)
        else:
            self.writer.truncate(0)
        if self.dir is not None:  # only once the resume is accepted: a refusal changes nothing
            self.dir.write_config(self.full_config)

    # --- run directory and resuming --------------------------------------------------------
    def _open_dir(self, *, resume: bool, overwrite: bool) -> None:
        self.dir.prepare(overwrite=overwrite)
        if self.dir.is_run():
            if not resume:
                raise ValueError(f"{self.dir.path} already holds a run; pass resume=True "
                                 "(--resume) to continue it or overwrite=True (--overwrite)")
            check_compatible(self.dir.read_config(), self.full_config, self.dir.path)
            status = self.dir.read_status()
            if status.get("status") == "diverged":
                raise ValueError(f"the run in {self.dir.path} diverged at step "
                                 f"{status.get('step')}; change its settings and overwrite it")
            self.checkpoint = self.dir.load_checkpoint()

    def _restore(self, ck: dict) -> None:
        start, count = int(ck["step"]), int(ck["n_snapshots"])
        done = int(ck["steps_done"]) if ck.get("completed") else None
        if done is not None and self.config.steps > done:
            # Extend a completed run: redo its final (evaluation-only) step as an update.
            start, count = done, count - 1
        elif start > self.config.steps + 1:
            raise ValueError(f"the run in {self.dir.path} is already at step {start - 1}, "
                             f"beyond steps={self.config.steps}")
        if self.config.lr_schedule != "constant" and int(ck["steps_done"]) != self.config.steps:
            raise ValueError(f"the run in {self.dir.path} decays its learning rate to 0 at "
                             f"step {ck['steps_done']} (lr_schedule={self.config.lr_schedule!r}); "
                             f"it cannot continue to steps={self.config.steps}: train a new run")
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ck["scheduler"])
        if "best" in ck:  # runs checkpointed before best.py start tracking at the resume
            self.best.load_state_dict(ck["best"])
        self.rule.load_state_dict(ck["rule"])
        for hook in self.hooks:
            hook.load_state_dict(ck.get("hooks", {}).get(hook.name, {}))
        self.batch_gen.set_state(ck["batch_generator"])
        self.noise_gen.set_state(ck["noise_generator"])
        self.start, self.elapsed0 = start, float(ck["seconds"])
        self.writer.truncate(count)
        self.rows = [r for r in self.dir.read_metrics() if r[0] < self.start]

    def _checkpoint(self, step: int, seconds: float, *, completed: bool = False) -> None:
        """Save everything needed to continue at ``step`` (metrics first, checkpoint last)."""
        self.writer.flush()
        if self.dir is None:
            return
        self.dir.write_metrics(self.rows, self.extra_fields)
        self.dir.save_checkpoint({
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "rule": self.rule.state_dict(),
            "hooks": {h.name: h.state_dict() for h in self.hooks},
            "batch_generator": self.batch_gen.get_state(),
            "noise_generator": self.noise_gen.get_state(), "step": step,
            "n_snapshots": self.writer.count, "seconds": seconds,
            "completed": completed, "steps_done": self.config.steps,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "best": self.best.state_dict(),
        })
        self.best.save(self.dir.path)
        if not completed:  # the heartbeat: progress so far, and who is making it
            self.dir.write_status("running", step=step)

    # --- one update ------------------------------------------------------------------------
    def _batch(self):
        c = self.config
        if c.independent_batches and self.E > 1:
            batches = [self.task.sample(c.batch_size, generator=self.batch_gen)
                       for _ in range(self.E)]
            inputs = torch.stack([b.inputs for b in batches], dim=1)
            targets = torch.stack([b.targets for b in batches], dim=1)
            mask = torch.stack([b.mask for b in batches], dim=1)
            info = {k: torch.stack([b.info[k] for b in batches], dim=1)  # [B, E, ...]
                    for k in batches[0].info}
            batch = Batch(inputs, targets, mask, info)
        else:
            batch = self.task.sample(c.batch_size, generator=self.batch_gen)
        batch = batch.to(self.device, self.dtype)
        noise = self.model.draw_noise(batch.n_steps, batch.batch_size, self.noise_gen)
        return batch, noise

    def _loss_fn(self, batch):
        task = self.task
        return lambda outputs: masked_mse(task.effector(outputs), batch.targets, batch.mask)

    def _score(self, outputs: Tensor, batch) -> np.ndarray:
        if batch.inputs.dim() == 4:  # independent batches: score member by member
            return np.array([float(self.task.score(outputs[:, e], _member(batch, e)))
                             for e in range(self.E)])
        return self.task.score(outputs, batch).detach().cpu().double().numpy().reshape(self.E)

    def _record(self, step: int, loss: np.ndarray, score: np.ndarray) -> None:
        arrays = {k: v.detach().cpu().numpy().copy()  # queued: must not alias the parameter
                  for k, v in self.model.recorded_parameters().items()}
        self.writer.append(step, arrays, loss, score)

    def _alignment(self, grads, batch, noise, due: bool) -> np.ndarray:
        """[extra columns, E]: the rule's cosine with the exact gradient when due, else NaN."""
        values = np.full((len(self.extra_fields), self.E), np.nan)
        if due and grads is not None and self.extra_fields:
            cos = alignment.track(self.model, batch, grads,
                                  loss_fn=self._loss_fn(batch), noise=noise)
            for i, name in enumerate(self.extra_fields):
                values[i] = cos[name].cpu().numpy()
        return values

    def _with_hooks(self, grads: dict[str, Tensor], batch, step: int) -> dict[str, Tensor]:
        """The rule's gradients plus every hook's extra terms (a regulariser's loss)."""
        for hook in self.hooks:
            for name, g in hook.extra_gradients(self.model, batch, step).items():
                grads = {**grads, name: grads[name] + g if name in grads else g}
        return grads

    def _apply(self, grads: dict[str, Tensor]) -> None:
        params = dict(self.model.named_parameters())
        if self.config.grad_clip is not None:
            grads = _clip_per_member(grads, self.config.grad_clip, self.E,
                                     self.model.is_ensemble)
        for name, g in grads.items():
            params[name].grad = g.reshape(params[name].shape).to(params[name].dtype)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()

    # --- the loop --------------------------------------------------------------------------
    def run(self, *, progress: bool) -> Run:
        c = self.config
        if self.dir is not None:
            self.dir.write_status("running", step=self.start)
        t0 = time.perf_counter() - self.elapsed0
        step = self.start
        loss = np.full(self.E, np.nan)
        try:
            with progress_bar(c.steps, self.start, enabled=progress,
                              label=f"{c.rule} on {self.task.name}") as advance:
                for step in range(self.start, c.steps + 1):
                    if step % c.checkpoint_every == 0 and step > self.start:
                        self._checkpoint(step, time.perf_counter() - t0)
                    if step < c.steps:
                        for hook in self.hooks:
                            hook.before_update(self.model, step)
                    batch, noise = self._batch()
                    record = step % c.record_every == 0 or step == c.steps
                    if step < c.steps:
                        result = self.rule.gradients(self.model, batch,
                                                     loss_fn=self._loss_fn(batch), noise=noise)
                        outputs, loss_t = result.outputs, result.loss
                    else:  # final snapshot: evaluate only
                        with torch.no_grad():
                            outputs, _ = self.model.run(batch.inputs, noise=noise, grad=False)
                            loss_t = self._loss_fn(batch)(outputs)
                    loss = loss_t.detach().cpu().double().numpy().reshape(self.E)
                    score = self._score(outputs, batch) if record else np.full(self.E, np.nan)
                    extra = self._alignment(result.grads if step < c.steps else None, batch, noise,
                                           record)
                    seconds = time.perf_counter() - t0
                    self.rows.extend((step, e, float(loss[e]), float(score[e]), seconds,
                                      *extra[:, e]) for e in range(self.E))
                    if not np.all(np.isfinite(loss)):
                        return self._diverged(step, loss, seconds)
                    if record:
                        self._record(step, loss, score)
                    if step < c.steps:
                        self.best.observe(step, loss)
                        self._apply(self._with_hooks(result.grads, batch, step))
                        advance(float(np.mean(loss)))
        except TrainingDiverged:
            raise
        except BaseException as exc:  # keep what was recorded, say how the run ended, re-raise
            self.writer.flush()
            if self.dir is not None:
                self.dir.write_metrics(self.rows, self.extra_fields)
                interrupted = isinstance(exc, KeyboardInterrupt)
                self.dir.write_status("interrupted" if interrupted else "failed", step=step,
                                      message=f"{type(exc).__name__}: {exc}")
            raise
        seconds = time.perf_counter() - t0
        self._checkpoint(c.steps + 1, seconds, completed=True)
        if c.restore_best:
            self.best.snapshot().load_into(self.model)
        if self.dir is not None:
            self.dir.write_status("completed", step=c.steps, seconds=seconds)
        return self._result("completed", loss)

    def _diverged(self, step: int, loss: np.ndarray, seconds: float):
        bad = [e for e in range(self.E) if not np.isfinite(loss[e])]
        where = "" if self.E == 1 else f" (ensemble members {bad})"
        msg = (f"training diverged at step {step}: loss is {loss[bad[0]]}{where}; "
               f"kept {self.writer.count} snapshots. Lower the learning rate or clip gradients "
               "(grad_clip=...).")
        self.writer.flush()
        if self.dir is not None:
            self.dir.write_metrics(self.rows, self.extra_fields)
            self.dir.write_status("diverged", step=step, message=msg, seconds=seconds)
            self.best.save(self.dir.path)  # the best parameters before the divergence
            msg += f" Run directory: {self.dir.path}"
        raise TrainingDiverged(msg, self._result("diverged", loss))

    def _result(self, status: str, loss: np.ndarray) -> Run:
        traj = self.writer.reader()
        if not np.all(np.isfinite(loss)) and status == "completed" and len(traj):
            loss = np.atleast_1d(traj.loss[-1])  # nothing ran: the run was already complete
        return Run(path=None if self.dir is None else self.dir.path, status=status,
                   steps=self.config.steps, final_loss=loss, trajectory=traj,
                   model=self.model, best=self.best.snapshot() if self.best.seen else None)


def _member(batch: Batch, e: int) -> Batch:
    """Member e's trials of a batch drawn with ``independent_batches`` (info is [B, E, ...])."""
    return Batch(batch.inputs[:, e], batch.targets[:, e], batch.mask[:, e],
                 {k: v[:, e] for k, v in batch.info.items()})


def _clip_per_member(grads: dict[str, Tensor], max_norm: float, E: int, ensemble: bool):
    """Scale each member's gradient so that its norm (over all its parameters) ≤ max_norm."""
    grads_e = {k: with_members(g, ensemble) for k, g in grads.items()}
    sq = sum(g.reshape(E, -1).pow(2).sum(1) for g in grads_e.values())
    scale = (max_norm / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    return {k: without_members(g * scale.reshape(-1, *[1] * (g.dim() - 1)), ensemble)
            for k, g in grads_e.items()}
