"""Sweeps: a run of a sweep is the same run trained alone, failures stay with their run, a killed
sweep resumes, the table holds the right numbers, and every backend gives the same runs."""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.cli import main
from rnnrank.learning import register_rule
from rnnrank.learning.bptt import BPTT
from rnnrank.learning.rules import RuleResult
from rnnrank.sweep import collect, run_sweep

FFO = {"n_bits": 2, "duration": 20.0, "interval": [3.0, 8.0], "settle": 2.0}
BASE = dict(task="flipflop", task_options=FFO, dt=0.5, n_rec=16, steps=12, record_every=4,
            checkpoint_every=4, lr=1e-2, batch_size=4, dtype="float64", noise=0.1)


def _alone(out, gain, seed, rule="bptt", **kw):
    """The same configuration trained by itself, as ``rnnrank train`` would."""
    o = {**BASE, **kw}
    task = rr.tasks.make("flipflop", dt=o["dt"], **FFO)
    model = rr.RateRNN(task.n_in, o["n_rec"], task.n_out, gain=gain, seed=seed, dt=o["dt"],
                       noise=o["noise"], dtype=torch.float64)
    return rr.train(model, task, rule=rule, steps=o["steps"], lr=o["lr"],
                    batch_size=o["batch_size"], record_every=o["record_every"],
                    checkpoint_every=o["checkpoint_every"], seed=seed, out=out)


def _weights(path):
    return np.asarray(rr.load_trajectory(path).weights)


@pytest.mark.parametrize("max_ensemble", [pytest.param(4, marks=pytest.mark.slow), 3])
def test_each_run_of_an_ensemble_sweep_is_the_run_trained_alone(tmp_path, max_ensemble):
    spec = {"train": BASE, "grid": {"gain": [0.5, 1.5], "seed": [0, 1]},
            "max_ensemble": max_ensemble}
    table = run_sweep(spec, tmp_path / "sweep", workers=1)
    assert list(table["status"]) == ["completed"] * 4
    for _, row in table.iterrows():
        status = json.loads((tmp_path / "sweep" / "runs" / row["name"] / "status.json")
                            .read_text())
        assert "ensemble" in status  # trained as a member of a batched ensemble
        ref = tmp_path / f"alone-{row['name']}"
        run = _alone(ref, row["gain"], int(row["seed"]))
        w = _weights(row["path"])
        assert w.shape == (4, 16, 16)  # its own run directory, a single network's trajectory
        # float64; the members differ from lone runs only by round-off of batched products
        np.testing.assert_allclose(w, np.asarray(run.trajectory.weights), rtol=0, atol=1e-10)
        np.testing.assert_allclose(rr.load_trajectory(row["path"]).loss, run.trajectory.loss,
                                   rtol=1e-10)
        # its best snapshot is the lone run's (step, and parameters to round-off)
        best, ref_best = rr.load_best(row["path"]), rr.load_best(ref)
        np.testing.assert_array_equal(best.step, ref_best.step)
        np.testing.assert_allclose(best.params["W"], ref_best.params["W"], rtol=0, atol=1e-10)
        # config.yaml as a lone run writes it: `rnnrank train --out <run>` can extend it
        assert (ref / "config.yaml").read_text() == \
            (tmp_path / "sweep" / "runs" / row["name"] / "config.yaml").read_text()
    assert not (tmp_path / "sweep" / "groups").exists()  # ensembles are removed once split


def test_a_split_run_extends_like_a_lone_run(tmp_path):
    table = run_sweep({"train": BASE, "grid": {"seed": [0, 1]}}, tmp_path / "s", workers=1)
    table = run_sweep({"train": {**BASE, "steps": 20}, "grid": {"seed": [0, 1]}},
                      tmp_path / "s", workers=1)  # more steps: continue from the checkpoints
    for _, row in table.iterrows():  # the same extension of a lone run (12 steps, then 20)
        _alone(tmp_path / f"a{row['seed']}", 1.5, int(row["seed"]), steps=12)
        run = _alone(tmp_path / f"a{row['seed']}", 1.5, int(row["seed"]), steps=20)
        assert row["steps_done"] == 20
        np.testing.assert_allclose(_weights(row["path"]), np.asarray(run.trajectory.weights),
                                   rtol=0, atol=1e-10)  # float64 round-off only


@register_rule("_nan_above_gain_1")
class _NanAboveGain1(BPTT):
    """BPTT whose loss is NaN for members with gain > 1: a member that diverges at once."""

    def gradients(self, model, batch, *, loss_fn, noise):
        res = super().gradients(model, batch, loss_fn=loss_fn, noise=noise)
        bad = torch.tensor([g > 1 for g in model.config.gains])
        return RuleResult(torch.where(bad, torch.nan, res.loss), res.grads, res.outputs)


def test_failures_stay_with_their_run(tmp_path):
    spec = {"train": {**BASE, "rule": "_nan_above_gain_1"}, "grid": {"gain": [0.5, 1.5, 0.8]}}
    table = run_sweep(spec, tmp_path / "sweep", workers=1)
    ok = table.set_index("gain")
    assert ok["status"].to_dict() == {0.5: "completed", 1.5: "diverged", 0.8: "completed"}
    for gain in (0.5, 0.8):  # the ensemble diverged; its healthy members were redone alone
        run = _alone(tmp_path / f"a{gain}", gain, 0, rule="_nan_above_gain_1")
        np.testing.assert_allclose(_weights(ok.loc[gain, "path"]),
                                   np.asarray(run.trajectory.weights), rtol=0, atol=1e-10)
    # re-running keeps the finished runs and meets the diverged one again
    again = run_sweep(spec, tmp_path / "sweep", workers=1)
    assert sorted(again["status"]) == sorted(table["status"])


@pytest.mark.parametrize("override, fragment", [
    ({"task_options": {**FFO, "colour": 1}}, "unknown option(s) ['colour']"),
    ({"lr": -0.001}, "lr must be"),
    ({"rule": "hebb"}, "unknown learning rule"),
])
def test_a_bad_run_is_refused_before_any_run_starts(tmp_path, override, fragment):
    """Every run is checked as ``rnnrank train`` checks it, before the first starts: nothing is
    trained and no directory is written when one run of the grid is bad."""
    spec = {"train": BASE, "grid": {"gain": [0.5, 0.8]}, "runs": [{}, override]}
    with pytest.raises(ValueError, match=r"run \S+: .*" + re.escape(fragment)):
        run_sweep(spec, tmp_path / "sweep", workers=1)
    assert not (tmp_path / "sweep").exists()


def test_collect_computes_the_table_from_the_trajectories(tmp_path):
    table = run_sweep({"train": BASE, "grid": {"gain": [0.5, 1.5]}}, tmp_path / "s",
                      workers=1)
    assert len(collect(tmp_path / "s")) == 2
    for _, row in table.iterrows():
        traj = rr.load_trajectory(row["path"])
        w = np.asarray(traj.weights, dtype=np.float64)
        delta = w[-1] - w[0]
        M = delta.T @ delta  # participation ratio of σ² = (tr M)² / tr M² (no SVD)
        assert row["delta_norm"] == pytest.approx(np.sqrt(np.trace(M)), rel=1e-9)
        assert row["effective_rank"] == pytest.approx(np.trace(M) ** 2 / np.trace(M @ M),
                                                      rel=1e-9)
        assert row["final_loss"] == traj.loss[-1] and row["steps_done"] == 12


KILL_SCRIPT = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from rnnrank.sweep import run_sweep
    base = dict(task="flipflop", task_options={"n_bits": 2, "duration": 20.0,
                "interval": [3.0, 8.0], "settle": 2.0}, dt=0.5, n_rec=16, record_every=2,
                checkpoint_every=4, batch_size=4, steps=12)
    spec = {"train": base, "grid": {"seed": [0, 1]},
            "runs": [{"lr": 0.01}, {"lr": 0.02, "steps": int(sys.argv[2])}]}
    run_sweep(spec, sys.argv[1], workers=1)
""")


@pytest.mark.slow  # three Python processes that import torch: ~15-50 s on a shared 2-core box
def test_kill_minus_9_of_a_sweep_loses_no_finished_run_and_resumes(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out), "100000"],
                            start_new_session=True)
    deadline, group = time.time() + 120, None
    while time.time() < deadline:  # first ensemble finished and split, second checkpointed
        finished = glob.glob(str(out / "runs" / "*" / "status.json"))
        groups = glob.glob(str(out / "groups" / "*" / "checkpoint.pt"))
        if len(finished) == 2 and groups:
            group = os.path.dirname(groups[0])
            if len(rr.load_trajectory(group)) >= 6:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert group is not None
    finished = collect(out)
    done = finished[finished["status"] == "completed"]
    assert len(done) == 2 and set(done["lr"]) == {0.01}
    killed = finished[finished["status"] != "completed"]  # the ensemble that was training
    assert list(killed["status"]) == ["killed"] * 2, killed[["status", "message"]]
    assert killed["message"].str.contains("in ensemble groups/").all()
    stamps = {p: os.stat(os.path.join(p, "status.json")).st_mtime_ns for p in done["path"]}
    k = len(rr.load_trajectory(group))
    assert k >= 6 and np.isfinite(np.asarray(rr.load_trajectory(group).weights)).all()
    steps = 2 * k + 6
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(out), str(steps)], check=True)
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(ref), str(steps)], check=True)
    for p, stamp in stamps.items():  # finished runs were not touched
        assert os.stat(os.path.join(p, "status.json")).st_mtime_ns == stamp
    a, b = collect(out), collect(ref)
    assert list(a["status"]) == list(b["status"]) == ["completed"] * 4
    for pa, pb in zip(a["path"], b["path"], strict=True):  # same process layout: bit-equal
        np.testing.assert_array_equal(_weights(pa), _weights(pb))


# submitit's in-process (debug) executor leaves its log files open: its leak, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_submitit_backend_in_process(tmp_path):
    spec = {"train": BASE, "grid": {"gain": [0.5, 1.5]}}
    table = run_sweep(spec, tmp_path / "s", backend="slurm", cluster="debug")
    ref = run_sweep(spec, tmp_path / "r", workers=1)
    assert list(table["status"]) == ["completed"] * 2
    for pa, pb in zip(table["path"], ref["path"], strict=True):
        np.testing.assert_array_equal(_weights(pa), _weights(pb))


@pytest.mark.slow
def test_submitit_local_executor_and_local_pool_give_the_lone_runs(tmp_path):
    spec = {"train": BASE, "grid": {"gain": [0.5, 1.5], "seed": [0, 1]}}
    for name, kw in [("submitit", dict(backend="slurm", cluster="local", time=5)),
                     ("pool", dict(workers=2))]:
        table = run_sweep(spec, tmp_path / name, **kw)
        assert list(table["status"]) == ["completed"] * 4
        for _, row in table.iterrows():
            run = _alone(tmp_path / f"{name}-{row['name']}", row["gain"], int(row["seed"]))
            np.testing.assert_allclose(_weights(row["path"]), np.asarray(run.trajectory.weights),
                                       rtol=0, atol=1e-10)  # float64 round-off only


@pytest.mark.slow
def test_ray_backend_on_a_local_instance(tmp_path):
    ray = pytest.importorskip("ray")
    spec = {"train": BASE, "grid": {"gain": [0.5, 1.5]}}
    try:
        table = run_sweep(spec, tmp_path / "s", backend="ray", cpus_per_job=1)
    finally:
        ray.shutdown()
    ref = run_sweep(spec, tmp_path / "r", workers=1)
    assert list(table["status"]) == ["completed"] * 2
    for pa, pb in zip(table["path"], ref["path"], strict=True):
        np.testing.assert_allclose(_weights(pa), _weights(pb), rtol=0, atol=1e-10)


def test_cli_sweep_and_report(tmp_path, capsys):
    spec = tmp_path / "sweep.yaml"
    spec.write_text("train: {task: flipflop, task_options: {n_bits: 2}, n_rec: 8, steps: 4, "
                    "record_every: 2, batch_size: 2}\ngrid: {gain: [0.5, 1.0], seed: [0, 1]}\n")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == 4 and summary["completed"] == 4
    assert summary["workers"].startswith("1 process(es)")
    assert summary["network_updates_per_second"] == pytest.approx(
        16 / summary["seconds"], rel=0.05)  # 4 runs × 4 updates in the measured time
    assert main(["sweep-report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["variables"] == ["gain"] and (out / "report" / "sweep.png").exists()
    bad = tmp_path / "bad.yaml"
    for text, fragment in [("train: {n_recc: 3}\n", "unknown option(s) ['n_recc']"),
                           ("train: [oops\n", "is not valid YAML at line 2"),
                           ("train: {n_rec: 8}\ngrid: {}\n", "grid: is empty"),
                           ("train: {n_rec: 8, lr: -0.001}\n", "lr must be")]:
        bad.write_text(text)
        assert main(["sweep", str(bad), "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("rnnrank: error: ") and err.count("\n") == 1, err
        assert fragment in err and not (tmp_path / "never").exists()
    assert main(["sweep-report", str(tmp_path)]) == 2


def test_cli_sweep_exits_1_when_a_run_failed(tmp_path, capsys):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(f"analyze: {{run: {tmp_path / 'missing_run'}}}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"] == 1
    assert "1 of 1 runs failed" in captured.err


@pytest.mark.slow  # the matrix-rank analysis retrains nothing but evaluates many truncations
def test_analyze_sweep_over_the_runs_of_a_train_sweep(tmp_path):
    train = run_sweep({"train": BASE, "grid": {"gain": [0.5, 1.5]}}, tmp_path / "t", workers=1)
    spec = {"analyze": {"matrix_rank": True, "batch_size": 8},
            "grid": {"run": [str(tmp_path / "t" / "runs" / "*")]}}
    table = run_sweep(spec, tmp_path / "a", workers=1)
    assert list(table["status"]) == ["completed"] * 2
    for _, row in table.iterrows():
        w = _weights(row["run"]).astype(np.float64)
        # independent truth: the Frobenius norm of ΔW from the trajectory itself
        assert row["matrix_rank.delta_norm"] == pytest.approx(np.linalg.norm(w[-1] - w[0]),
                                                              rel=1e-9)
        assert (tmp_path / "t" / "runs" / os.path.basename(row["run"]) / "analysis").is_dir()
    assert set(table["run"]) == set(train["path"])


def test_fit_sweep_runs_real_fits_whose_saved_fits_reproduce_the_table(tmp_path):
    """fit: sweeps over ranks on a planted rank-1 teacher: each run directory holds a fit whose
    own errors, recomputed from the saved fit, are the table's (the truth: Fit.load + error)."""
    from rnnrank.fitting import Fit
    from rnnrank.fitting.synthetic import ltr_teacher

    rec, _ = ltr_teacher(T=6, K=8, n=4, N=6, rank=1, noise=0.02, seed=0, dtype=torch.float32)
    rec.save(tmp_path / "rec.npz")
    spec = {"fit": {"recording": str(tmp_path / "rec.npz"), "n_rec": 6, "seed": 0,
                    "options": {"max_iter": 5, "eval_every": 5}},
            "grid": {"rank": [1, 2]}}
    table = run_sweep(spec, tmp_path / "f", workers=1)
    assert list(table["status"]) == ["completed"] * 2
    for _, row in table.iterrows():
        fit = Fit.load(Path(row["path"]) / "fit")
        assert fit.factors[0].shape == (8, int(row["rank"]))
        assert row["train_error"] == pytest.approx(fit.train_error, rel=1e-6)
