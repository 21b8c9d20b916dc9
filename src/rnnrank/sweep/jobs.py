"""Execute one job of a sweep (an ensemble of train runs, or one run): what every backend calls.

A failure stays with its run: the run's ``status.json`` records the error and the other runs go
on. An ensemble that fails (one member diverged, say) is retried member by member, so one bad
member never takes the others down; a member trained alone gives the same trajectory.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

from ..learning.trainer import TrainingDiverged
from ..store.atomic import write_json_atomic
from ..store.run_dir import RunDir
from .ensemble_train import NotGroupable, train_alone, train_ensemble


def run_job(job: dict) -> list[dict]:
    """Run ``job`` (see ``planner``); returns one ``{"name", "status", "message"}`` per run."""
    runs, dirs = job["runs"], [Path(d) for d in job["dirs"]]
    group_dir = Path(job["group_dir"])
    if job["kind"] == "train" and len(runs) > 1:
        try:
            train_ensemble([r["options"] for r in runs], dirs, group_dir)
            shutil.rmtree(group_dir, ignore_errors=True)
            return [_result(r["name"], d) for r, d in zip(runs, dirs, strict=True)]
        except NotGroupable:
            pass  # the rule draws random state: members train alone (same runs, just slower)
        except Exception:  # noqa: BLE001 — a diverged or failed ensemble: retry members alone
            pass
        shutil.rmtree(group_dir, ignore_errors=True)
    return [run_one(r, d) for r, d in zip(runs, dirs, strict=True)]


def run_one(run: dict, path: Path) -> dict:
    """Run a single run into ``path``, recording any failure there instead of raising it."""
    path = Path(path)
    if path.exists() and not RunDir(path).is_run():
        shutil.rmtree(path)  # left by a failed attempt (status only): start afresh
    try:
        if run["kind"] == "train":
            train_alone(run["options"], path)
        else:
            path.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path / "options.json", run["options"])
            summary = (_analyze if run["kind"] == "analyze" else _fit)(run["options"], path)
            write_json_atomic(path / "result.json", summary)
            RunDir(path).write_status("completed")
    except TrainingDiverged:
        pass  # the trainer wrote status "diverged" with its message
    except Exception as exc:  # noqa: BLE001 — a failed run must not stop the sweep
        path.mkdir(parents=True, exist_ok=True)
        status = RunDir(path).read_status()
        if status.get("status") != "failed":
            RunDir(path).write_status("failed", message=f"{type(exc).__name__}: {exc}")
        (path / "error.txt").write_text(traceback.format_exc())
    return _result(run["name"], path)


def record_failure(job: dict, message: str) -> list[dict]:
    """Mark every unfinished run of a job that died as a whole (worker killed, lost node)."""
    out = []
    for run, d in zip(job["runs"], job["dirs"], strict=True):
        path = Path(d)
        if RunDir(path).read_status().get("status") not in ("completed", "diverged"):
            path.mkdir(parents=True, exist_ok=True)
            RunDir(path).write_status("failed", message=message)
        out.append(_result(run["name"], path))
    return out


def _result(name: str, path: Path) -> dict:
    status = RunDir(path).read_status()
    return {"name": name, "status": status.get("status", "missing"),
            "message": status.get("message", "")}


def _analyze(options: dict, path: Path) -> dict:
    from ..report.run_matrix_rank import matrix_rank_report
    from ..report.run_tensor_rank import tensor_rank_report

    run = Path(options["run"])
    if not (run / "config.yaml").exists():
        raise ValueError(f"{run} is not a run directory (no config.yaml)")
    summary: dict = {"run": str(run)}
    if options["matrix_rank"]:
        summary["matrix_rank"] = matrix_rank_report(run, member=options["member"],
                                                    batch_size=options["batch_size"])
    if options["tensor_rank"]:
        summary["tensor_rank"] = tensor_rank_report(run, ranks=options["ranks"],
                                                    member=options["member"],
                                                    n_restarts=options["restarts"])
    return summary


def _fit(options: dict, path: Path) -> dict:
    """An ltrRNN fit (``rnnrank.fitting.fit_ltr``): saved in the run directory, errors summarised.

    ``options`` are ``fit_ltr``'s keywords plus ``recording`` (a path); ``options:`` (a mapping)
    becomes its ``FitOptions`` (lr, max_iter, patience, ...).
    """
    from ..fitting import FitOptions, fit_ltr, load_recording

    kw = {k: v for k, v in options.items() if k != "recording"}
    if isinstance(kw.get("options"), dict):
        kw["options"] = FitOptions(**kw["options"])
    fit = fit_ltr(load_recording(options["recording"]), **kw)
    fit.save(path / "fit")
    return {"recording": str(options["recording"]), "train_error": float(fit.train_error),
            "test_error": float(fit.test_error)}
