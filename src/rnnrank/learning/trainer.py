"""``train``: the rule-agnostic training loop that records the weight trajectory.

The loop owns batches (``trials.py``), the optimiser (``updates.py``), recording, checkpoints
and resuming (``checkpointing.py``); a learning rule (``rules.py``) only turns (model, batch)
into a loss and gradients, and the task owns the loss (``Task.loss``). Determinism: the task
batches and the private noise come from generators seeded by ``seed`` and saved in every
checkpoint, so a run resumed after a kill records exactly the trajectory of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..store.run_dir import RunDir
from ..store.trajectory import TrajectoryWriter
from ..tasks.base import Batch, Task
from . import alignment, checkpointing
from .best import BestTracker
from .config import TrainConfig
from .hooks import TrainingHook, hook_config
from .progress import progress_bar
from .rules import LearningRule, make_rule
from .run_config import check_model_task, run_config
from .run_result import Run, TrainingDiverged, diverged, run_result
from .trials import TrialSource, member_batch
from .updates import apply_update, make_optimizer, with_hook_gradients

__all__ = ["Run", "TrainingDiverged", "check_model_task", "train"]


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
    loss: Callable[[Tensor, Batch], Tensor] | None = None,
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
        loss: ``loss(outputs [T, E, B, O], batch) -> [E]``, the objective for this run
            (default: the task's own, ``task.loss``: masked MSE of its effector's output).
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
    check_model_task(model, task)
    if not rule_obj.supports(model):
        raise ValueError(f"rule {rule_obj.name!r} cannot train a {type(model).__name__}; "
                         "use rule='bptt' (any model) or a RateRNN")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    loop = _Loop(model, task, rule_obj, config, out, hooks=hooks, resume=resume,
                 overwrite=overwrite, loss=loss or task.loss)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return loop.run(progress=progress)
    finally:
        torch.set_num_threads(before)


class _Loop:
    """The state of one training run and its loop (``train`` builds and runs it)."""

    def __init__(self, model, task, rule, config: TrainConfig, out, *, hooks, resume,
                 overwrite, loss):
        self.model, self.task, self.rule, self.config, self.loss = model, task, rule, config, loss
        self.hooks = list(hooks)
        names = [h.name for h in self.hooks]
        if len(set(names)) != len(names):
            raise ValueError(f"each hook may be given once, got {names}")
        self.E = model.ensemble_size
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.opt, self.scheduler = make_optimizer(model, config)
        self.best = BestTracker(model, config.best_window)
        self.trials = TrialSource(task, model, config, device=self.device, dtype=self.dtype)
        full_config = run_config(model, task, config)
        if self.hooks:
            full_config["hooks"] = hook_config(self.hooks)
        self.rows: list[tuple] = []
        self.align_fields = (alignment.alignment_fields(model) if config.track_alignment
                             else ())
        self.extra_fields = (*self.align_fields,
                             *(f"{h.name}.{n}" for h in self.hooks for n in h.loss_names))
        self.start, self.elapsed0 = 0, 0.0
        self.dir = None if out is None else RunDir(out)
        checkpoint = None if self.dir is None else checkpointing.open_run_dir(
            self.dir, full_config, resume=resume, overwrite=overwrite)
        shapes = {k: tuple(v.shape) for k, v in model.recorded_parameters().items()}
        self.writer = TrajectoryWriter(None if self.dir is None else self.dir.path, shapes,
                                       self.E, config.n_snapshots, ensemble=model.is_ensemble,
                                       dtype="float64" if self.dtype == torch.float64
                                       else "float32")
        # Randomness of the rule and hooks (random feedback, ...) follows the run's seed.
        self.rule.init(model, torch.Generator().manual_seed(config.seed + 104729))
        for i, hook in enumerate(self.hooks):
            hook.init(model, torch.Generator().manual_seed(config.seed + 1299709 * (i + 1)),
                      task=task)
        if checkpoint is not None:
            checkpointing.restore(self, checkpoint)
        else:
            self.writer.truncate(0)
        if self.dir is not None:  # only once the resume is accepted: a refusal changes nothing
            self.dir.write_config(full_config)

    # --- what one step measures -------------------------------------------------------------
    def _loss_fn(self, batch):
        return lambda outputs: self.loss(outputs, batch)

    def _score(self, outputs: Tensor, batch) -> np.ndarray:
        if self.trials.per_member:  # each member its own trials: score member by member
            return np.array([float(self.task.score(outputs[:, e], member_batch(batch, e)))
                             for e in range(self.E)])
        return self.task.score(outputs, batch).detach().cpu().double().numpy().reshape(self.E)

    def _alignment(self, grads, batch, noise, due: bool) -> np.ndarray:
        """[extra columns, E]: the rule's cosine with the exact gradient when due, else NaN."""
        values = np.full((len(self.align_fields), self.E), np.nan)
        if due and grads is not None and self.align_fields:
            cos = alignment.track(self.model, batch, grads,
                                  loss_fn=self._loss_fn(batch), noise=noise)
            for i, name in enumerate(self.align_fields):
                values[i] = cos[name].cpu().numpy()
        return values

    def _observe(self, step: int, outputs, loss_t, batch, noise, grads, seconds) -> np.ndarray:
        """Log step ``step`` (metrics row, snapshot when due); raise if the loss diverged."""
        c = self.config
        loss = loss_t.detach().cpu().double().numpy().reshape(self.E)
        record = step % c.record_every == 0 or step == c.steps
        score = self._score(outputs, batch) if record else np.full(self.E, np.nan)
        terms = [h.loss_terms(step) for h in self.hooks]
        extra = np.concatenate([self._alignment(grads, batch, noise, record), np.array(
            [[t.get(n, np.nan)] * self.E for h, t in zip(self.hooks, terms, strict=True)
             for n in h.loss_names]).reshape(-1, self.E)])
        self.rows.extend((step, e, float(loss[e]), float(score[e]), seconds, *extra[:, e])
                         for e in range(self.E))
        if not np.all(np.isfinite(loss)):
            diverged(self, step, loss, seconds)
        if record:
            arrays = {k: v.detach().cpu().numpy().copy()  # queued: must not alias the parameter
                      for k, v in self.model.recorded_parameters().items()}
            self.writer.append(step, arrays, loss, score)
        return loss

    # --- the loop --------------------------------------------------------------------------
    def run(self, *, progress: bool) -> Run:
        c = self.config
        if self.dir is not None:
            self.dir.write_status("running", step=self.start)
        t0 = time.perf_counter() - self.elapsed0
        step, loss = self.start, np.full(self.E, np.nan)
        try:
            with progress_bar(c.steps, self.start, enabled=progress,
                              label=f"{c.rule} on {self.task.name}") as advance:
                for step in range(self.start, c.steps + 1):
                    if step % c.checkpoint_every == 0 and step > self.start:
                        checkpointing.save(self, step, time.perf_counter() - t0)
                    if step == c.steps:
                        break  # the final snapshot is an evaluation, after the loop
                    for hook in self.hooks:
                        hook.before_update(self.model, step)
                    batch, noise = self.trials.draw()
                    result = self.rule.gradients(self.model, batch, noise=noise,
                                                 loss_fn=self._loss_fn(batch))
                    loss = self._observe(step, result.outputs, result.loss, batch, noise,
                                         result.grads, time.perf_counter() - t0)
                    self.best.observe(step, loss)
                    apply_update(self.model, self.opt, self.scheduler,
                                 with_hook_gradients(self.hooks, self.model, result.grads,
                                                     batch, step), grad_clip=c.grad_clip)
                    advance(float(np.mean(loss)))
                if self.start <= c.steps:  # the final snapshot: evaluate W(K) only
                    batch, noise = self.trials.draw()
                    with torch.no_grad():
                        outputs, _ = self.model.run(batch.inputs, noise=noise, grad=False)
                        loss = self._observe(c.steps, outputs, self.loss(outputs, batch), batch,
                                             noise, None, time.perf_counter() - t0)
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
        checkpointing.save(self, c.steps + 1, seconds, completed=True)
        if c.restore_best:
            self.best.snapshot().load_into(self.model)
        if self.dir is not None:
            self.dir.write_status("completed", step=c.steps, seconds=seconds)
        return run_result(self, "completed", loss)
