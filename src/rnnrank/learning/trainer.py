"""``train``: the rule-agnostic training loop that records the weight trajectory.

The loop owns batches, the optimiser, recording, checkpoints and resuming; a learning rule
(``rules.py``) only turns (model, batch) into a loss and gradients. Determinism: the task batches
and the private noise come from generators seeded by ``seed`` and saved in every checkpoint, so a
run resumed after a kill records exactly the trajectory of an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..store.run_dir import RunDir
from ..store.trajectory import Trajectory, TrajectoryWriter
from ..tasks.base import Batch, Task
from .best import BestSnapshot, BestTracker
from .config import TrainConfig
from .losses import masked_mse
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
    *,
    rule: str | LearningRule = "bptt",
    steps: int = 1000,
    lr: float = 1e-3,
    optimizer: str = "adam",
    batch_size: int = 32,
    record_every: int = 10,
    out: str | Path | None = None,
    seed: int = 0,
    resume: bool = True,
    overwrite: bool = False,
    checkpoint_every: int = 100,
    grad_clip: float | None = None,
    independent_batches: bool = False,
    lr_warmup: int = 0,
    lr_schedule: str = "constant",
    best_window: int = 20,
    restore_best: bool = False,
    progress: bool = False,
    **rule_options,
) -> Run:
    """Train ``model`` on ``task`` and record W(k) at step 0 and every ``record_every`` updates.

    Args:
        model: a ``RateRNN`` (single or ensemble) or any model with ``run``,
            ``recorded_parameters`` and ``ensemble_size``.
        task: a registered task; its ``dt`` must equal the model's.
        rule: learning rule name or instance; extra keyword arguments are its options
            (e.g. ``backward="autograd"``, ``truncation=10``).
        out: run directory; None keeps the trajectory in memory (no checkpoints).
        resume: continue the run found in ``out`` from its last checkpoint (same configuration;
            ``steps`` may grow). ``overwrite`` deletes it instead.
        progress: show a rich progress bar.
        Other arguments: see ``TrainConfig``.

    Returns:
        a ``Run``; ``run.model`` is ``model``, trained in place.

    Raises:
        TrainingDiverged: the loss became NaN/inf (the run directory keeps what was recorded).
        ValueError: inconsistent model/task/options, or ``out`` holds a different run.
    """
    rule_obj = make_rule(rule, **rule_options)
    config = TrainConfig(rule=rule_obj.name, rule_options=rule_obj.options(), steps=steps,
                         lr=lr, optimizer=optimizer, batch_size=batch_size,
                         record_every=record_every, seed=seed,
                         checkpoint_every=checkpoint_every, grad_clip=grad_clip,
                         independent_batches=independent_batches, lr_warmup=lr_warmup,
                         lr_schedule=lr_schedule, best_window=best_window,
                         restore_best=restore_best)
    _check_model_task(model, task)
    loop = _Loop(model, task, rule_obj, config, out, resume=resume, overwrite=overwrite)
    return loop.run(progress=progress)


def _check_model_task(model: nn.Module, task: Task) -> None:
    cfg = getattr(model, "config", None)
    if cfg is None:
        return
    if cfg.n_in != task.n_in or cfg.n_out != task.n_out:
        raise ValueError(f"model has n_in={cfg.n_in}, n_out={cfg.n_out} but task {task.name!r} "
                         f"needs n_in={task.n_in}, n_out={task.n_out}")
    if hasattr(cfg, "dt") and not math.isclose(cfg.dt, task.dt):
        raise ValueError(f"model dt={cfg.dt} but task dt={task.dt}; build the task with "
                         f"make({task.name!r}, dt={cfg.dt}) (or the model with dt={task.dt})")


class _Loop:
    def __init__(self, model, task, rule, config: TrainConfig, out, *, resume, overwrite):
        self.model, self.task, self.rule, self.config = model, task, rule, config
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
        self.rows: list[tuple] = []
        self.start, self.elapsed0 = 0, 0.0
        self.dir = None if out is None else RunDir(out)
        self.checkpoint: dict | None = None
        shapes = {k: tuple(v.shape) for k, v in model.recorded_parameters().items()}
        if self.dir is not None:
            self._open_dir(resume=resume, overwrite=overwrite)
        self.writer = TrajectoryWriter(None if self.dir is None else self.dir.path, shapes,
                                       self.E, config.n_snapshots,
                                       ensemble=getattr(model, "is_ensemble", False),
                                       dtype="float64" if self.dtype == torch.float64
                                       else "float32")
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
        self.dir.write_metrics(self.rows)
        self.dir.save_checkpoint({
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "rule": self.rule.state_dict(), "batch_generator": self.batch_gen.get_state(),
            "noise_generator": self.noise_gen.get_state(), "step": step,
            "n_snapshots": self.writer.count, "seconds": seconds,
            "completed": completed, "steps_done": self.config.steps,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "best": self.best.state_dict(),
        })
        self.best.save(self.dir.path)

    # --- one update ------------------------------------------------------------------------
    def _batch(self):
        c = self.config
        if c.independent_batches and self.E > 1:
            batches = [self.task.sample(c.batch_size, generator=self.batch_gen)
                       for _ in range(self.E)]
            inputs = torch.stack([b.inputs for b in batches], dim=1)
            targets = torch.stack([b.targets for b in batches], dim=1)
            mask = torch.stack([b.mask for b in batches], dim=1)
            batch = Batch(inputs, targets, mask)
        else:
            batch = self.task.sample(c.batch_size, generator=self.batch_gen)
        batch = batch.to(self.device, self.dtype)
        noise = self.model.draw_noise(batch.n_steps, batch.batch_size, self.noise_gen) \
            if hasattr(self.model, "draw_noise") else None
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

    def _apply(self, grads: dict[str, Tensor]) -> None:
        params = dict(self.model.named_parameters())
        if self.config.grad_clip is not None:
            grads = _clip_per_member(grads, self.config.grad_clip, self.E,
                                     getattr(self.model, "is_ensemble", False))
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
                    seconds = time.perf_counter() - t0
                    self.rows.extend((step, e, float(loss[e]), float(score[e]), seconds)
                                     for e in range(self.E))
                    if not np.all(np.isfinite(loss)):
                        return self._diverged(step, loss, seconds)
                    if record:
                        self._record(step, loss, score)
                    if step < c.steps:
                        self.best.observe(step, loss)
                        self._apply(result.grads)
                        advance(float(np.mean(loss)))
        except TrainingDiverged:
            raise
        except BaseException as exc:  # keep what was recorded, say how the run ended, re-raise
            self.writer.flush()
            if self.dir is not None:
                self.dir.write_metrics(self.rows)
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
            self.dir.write_metrics(self.rows)
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
    return Batch(batch.inputs[:, e], batch.targets[:, e], batch.mask[:, e])


def _clip_per_member(grads: dict[str, Tensor], max_norm: float, E: int, ensemble: bool):
    """Scale each member's gradient so that its norm (over all its parameters) ≤ max_norm."""
    sq = sum(g.reshape(E, -1).pow(2).sum(1) if ensemble else g.pow(2).sum().reshape(1)
             for g in grads.values())
    scale = (max_norm / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    return {k: g * (scale.reshape(-1, *[1] * (g.dim() - 1)) if ensemble else scale[0])
            for k, g in grads.items()}
