"""A run directory seen by the trainer: refuse or resume what is there, save and restore state.

A checkpoint holds everything needed to continue at a step exactly as an uninterrupted run
would: model, optimiser, schedule, rule and hook state, the trial generators, the best-parameter
tracker, the step and the count of recorded snapshots. Metrics are written before it, the
checkpoint last, so a kill between them loses nothing a resume does not recompute.
"""

from __future__ import annotations

from ..store.run_dir import RunDir
from .run_config import check_compatible


def open_run_dir(directory: RunDir, full_config: dict, *, resume: bool,
                 overwrite: bool) -> dict | None:
    """Prepare ``directory``; the checkpoint of the run it holds (None for a fresh run).

    Raises:
        ValueError: it holds a run and ``resume`` is False, a different run, or a diverged one.
    """
    directory.prepare(overwrite=overwrite)
    if not directory.is_run():
        return None
    if not resume:
        raise ValueError(f"{directory.path} already holds a run; pass resume=True "
                         "(--resume) to continue it or overwrite=True (--overwrite)")
    check_compatible(directory.read_config(), full_config, directory.path)
    status = directory.read_status()
    if status.get("status") == "diverged":
        raise ValueError(f"the run in {directory.path} diverged at step "
                         f"{status.get('step')}; change its settings and overwrite it")
    return directory.load_checkpoint()


def restore(loop, ck: dict) -> None:
    """Put ``loop`` (the trainer's state) where checkpoint ``ck`` left it."""
    config = loop.config
    start, count = int(ck["step"]), int(ck["n_snapshots"])
    done = int(ck["steps_done"]) if ck.get("completed") else None
    if done is not None and config.steps > done:
        # Extend a completed run: redo its final (evaluation-only) step as an update.
        start, count = done, count - 1
    elif start > config.steps + 1:
        raise ValueError(f"the run in {loop.dir.path} is already at step {start - 1}, "
                         f"beyond steps={config.steps}")
    if config.lr_schedule != "constant" and int(ck["steps_done"]) != config.steps:
        raise ValueError(f"the run in {loop.dir.path} decays its learning rate to 0 at "
                         f"step {ck['steps_done']} (lr_schedule={config.lr_schedule!r}); "
                         f"it cannot continue to steps={config.steps}: train a new run")
    loop.model.load_state_dict(ck["model"])
    loop.opt.load_state_dict(ck["optimizer"])
    if loop.scheduler is not None:
        loop.scheduler.load_state_dict(ck["scheduler"])
    if "best" in ck:  # runs checkpointed before best.py start tracking at the resume
        loop.best.load_state_dict(ck["best"])
    loop.rule.load_state_dict(ck["rule"])
    for hook in loop.hooks:
        hook.load_state_dict(ck.get("hooks", {}).get(hook.name, {}))
    loop.trials.load_state_dict(ck)
    loop.start, loop.elapsed0 = start, float(ck["seconds"])
    loop.writer.truncate(count)
    loop.rows = [r for r in loop.dir.read_metrics() if r[0] < loop.start]


def save(loop, step: int, seconds: float, *, completed: bool = False) -> None:
    """Save everything needed to continue at ``step`` (metrics first, checkpoint last)."""
    loop.writer.flush()
    if loop.dir is None:
        return
    loop.dir.write_metrics(loop.rows, loop.extra_fields)
    loop.dir.save_checkpoint({
        "model": loop.model.state_dict(), "optimizer": loop.opt.state_dict(),
        "rule": loop.rule.state_dict(),
        "hooks": {h.name: h.state_dict() for h in loop.hooks},
        **loop.trials.state_dict(), "step": step,
        "n_snapshots": loop.writer.count, "seconds": seconds,
        "completed": completed, "steps_done": loop.config.steps,
        "scheduler": None if loop.scheduler is None else loop.scheduler.state_dict(),
        "best": loop.best.state_dict(),
    })
    loop.best.save(loop.dir.path)
    if not completed:  # the heartbeat: progress so far, and who is making it
        loop.dir.write_status("running", step=step)
