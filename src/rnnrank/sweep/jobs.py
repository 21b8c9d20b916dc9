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
from .ensemble_train import NotGroupable, remove_group, train_alone, train_ensemble


def run_job(job: dict) -> list[dict]:
    """Run ``job`` (see ``planner``); returns one ``{"name", "status", "message"}`` per run."""
    runs, dirs = job["runs"], [Path(d) for d in job["dirs"]]
    group_dir = Path(job["group_dir"])
    if job["kind"] == "train" and len(runs) > 1:
        try:
            train_ensemble([r["options"] for r in runs], dirs, group_dir)
            remove_group(group_dir)
            return [_result(r["name"], d) for r, d in zip(runs, dirs, strict=True)]
        except NotGroupable:
            pass  # the rule draws random state: members train alone (same runs, just slower)
        except Exception:  # noqa: BLE001 — a diverged or failed ensemble: retry members alone
            pass
        remove_group(group_dir)
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
    becomes its ``FitOptions`` (lr, max_iter, patience, ...). With ``split: {scheme, seed,
    fraction}`` the run is one nested fit on that held-out split (``rnnrank.fitting.nested_fit``:
    the trial-invariant RNN, then the ltrRNN from it); its summary adds both held-out errors,
    the learning score and how each optimisation ended.
    """
    from ..fitting import FitOptions, fit_ltr, load_recording
    from ..fitting.nested import nested_fit

    kw = {k: v for k, v in options.items() if k not in ("recording", "split")}
    if isinstance(kw.get("options"), dict):
        kw["options"] = FitOptions(**kw["options"])
    rec = load_recording(options["recording"])
    split = options.get("split")
    if split is not None:
        if not isinstance(split, dict) or set(split) - {"scheme", "seed", "fraction"}:
            raise ValueError(f"fit: split must be a mapping of scheme, seed, fraction, got "
                             f"{split!r}; e.g. split: {{scheme: blocks, seed: 0}}")
        nested = nested_fit(rec, kw.pop("rank"), scheme=split.get("scheme", "blocks"),
                            split_seed=int(split.get("seed", 0)),
                            fraction=float(split.get("fraction", 0.2)), **kw)
        nested.fit.save(path / "fit")
        return {"recording": str(options["recording"]), **nested.summary()}
    fit = fit_ltr(rec, **kw)
    fit.save(path / "fit")
    return {"recording": str(options["recording"]), "train_error": float(fit.train_error),
            "test_error": float(fit.test_error)}
