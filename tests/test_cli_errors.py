"""What the command line says when things go wrong (issue 34.4): damaged recordings and option
values of the wrong type exit 2 with one line; Ctrl-C of train and sweep exits 130 with one line
saying what was kept and the command that resumes; a re-run of a finished sweep says so."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

import rnnrank as rr
import rnnrank.learning.trainer as trainer
from rnnrank.cli import main
from rnnrank.store.run_dir import RunDir

TINY = ["--task-option", "n_bits=2", "--task-option", "duration=10", "--n-rec", "8",
        "--dt", "0.5", "--batch-size", "4", "--record-every", "2"]


def _one_line(err: str, prefix: str = "rnnrank: error:") -> str:
    assert err.startswith(prefix) and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("name, content, fragment", [
    ("bad.npz", b"garbage", "bad.npz: not a readable .npz (no zip directory"),
    ("bad.h5", b"garbage", "bad.h5: not a readable HDF5 file"),
    ("bad.nwb", b"garbage", "bad.nwb: not an NWB (HDF5) file"),
])
def test_a_damaged_recording_exits_2_with_one_line(tmp_path, capsys, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    assert main(["fit", str(tmp_path / name), "--out", str(tmp_path / "fit")]) == 2
    assert fragment in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "fit").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["--task-option", "n_bits=abc"],
     "task 'flipflop' option n_bits expects an integer, got 'abc' (str); e.g. n_bits=3"),
    (["--task-option", "interval=3"], "option interval expects a list of 2 numbers, got 3"),
    (["--task-option", "n_bits=[1,"], "--task-option 'n_bits=[1,': the value is not valid YAML"),
])
def test_a_task_option_of_the_wrong_type_exits_2_naming_it(tmp_path, capsys, argv, fragment):
    assert main(["train", "--out", str(tmp_path / "run"), "--steps", "2", *argv]) == 2
    assert fragment in _one_line(capsys.readouterr().err)


def test_a_sweep_spec_with_a_bad_task_option_names_the_run_and_the_option(tmp_path, capsys):
    spec = tmp_path / "sweep.yaml"
    spec.write_text("train: {task: flipflop, n_rec: 8, steps: 2}\n"
                    "grid: {task_options: [{n_bits: 2}, {n_bits: abc}]}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--workers", "1"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "option n_bits expects an integer, got 'abc'" in err and "run " in err


def test_string_conditions_are_fitted_not_refused(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r.npz", data=rng.standard_normal((12, 8, 4)),
             condition=np.array(["left", "right"] * 4))
    seen = []
    real = rr.fitting.fit_ltr
    monkeypatch.setattr(rr.fitting, "fit_ltr", lambda rec, *a, **kw: (seen.append(rec), real(
        rec, *a, **kw))[1])
    assert main(["fit", str(tmp_path / "r.npz"), "--rank", "1", "--n-rec", "4", "--max-iter",
                 "2", "--out", str(tmp_path / "fit"), "--json"]) == 0
    rec = seen[0]  # one recording, fitted from each of the 3 default seeds
    assert len(seen) == 3 and all(r is rec for r in seen)
    assert rec.condition.tolist() == [0, 1] * 4 and rec.condition_labels == ("left", "right")


@pytest.mark.parametrize("swap", [False, True])
def test_the_swapped_axes_warning_fires_on_a_swap_only(tmp_path, capsys, monkeypatch, swap):
    """A 40-bin × 60-trial × 300-neuron session of smooth rates: no warning; its
    [neuron, trial, time] transpose: one warning line."""
    from rnnrank.fitting.loaders import gaussian_smooth

    rng = np.random.default_rng(0)
    data = gaussian_smooth(rng.standard_normal((40, 60, 5)), 3.0) @ rng.standard_normal((5, 300))
    np.savez(tmp_path / "r.npz", data=data.transpose(2, 1, 0) if swap else data)

    def stop(*args, **kw):
        raise ValueError("stopped before fitting")

    monkeypatch.setattr(rr.fitting, "fit_ltr", stop)
    assert main(["fit", str(tmp_path / "r.npz"), "--out", str(tmp_path / "fit")]) == 2
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("rnnrank: warning:")]
    assert len(warnings) == int(swap), err
    if swap:
        assert "pass data.transpose(2, 1, 0)" in warnings[0]


def _interrupt_at_update(monkeypatch, n: int):
    """Make the n-th parameter update (counted over the process, 1-based) a Ctrl-C."""
    calls = {"n": 0}
    real = trainer.apply_update

    def update(*args, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(trainer, "apply_update", update)


def test_ctrl_c_of_train_says_what_was_kept_and_the_command_that_resumes(tmp_path, capsys,
                                                                        monkeypatch):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), *TINY, "--steps", "12", "--checkpoint-every", "5",
            "--overwrite"]
    _interrupt_at_update(monkeypatch, 8)  # update 7 (0-based): the last checkpoint is at 5
    assert main(argv) == 130
    err = _one_line(capsys.readouterr().err, "rnnrank: interrupted")
    assert f"interrupted at update 7 of 12; {out} keeps every update up to 5" in err
    command = err.split("resume with: ", 1)[1].strip()
    assert "--overwrite" not in command  # resuming must not delete what was kept
    assert RunDir(out).read_status()["status"] == "interrupted"
    monkeypatch.undo()
    words = shlex.split(command)
    assert words[:2] == ["rnnrank", "train"]
    assert main([*words[1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    # the resumed run is the run trained without interruption
    ref = tmp_path / "ref"
    assert main(["train", "--out", str(ref), *TINY, "--steps", "12", "--json"]) == 0
    np.testing.assert_array_equal(rr.load_trajectory(out).weights,
                                  rr.load_trajectory(ref).weights)


def test_ctrl_c_before_the_first_checkpoint_says_a_resume_starts_over(tmp_path, capsys,
                                                                     monkeypatch):
    _interrupt_at_update(monkeypatch, 3)
    assert main(["train", "--out", str(tmp_path / "run"), *TINY, "--steps", "12"]) == 130
    err = _one_line(capsys.readouterr().err, "rnnrank: interrupted")
    assert "has no checkpoint yet (the first comes at update 100" in err
    assert "a resume starts at update 0" in err


def test_ctrl_c_of_a_sweep_then_resume_then_rerun(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "sweep.yaml"
    spec.write_text("train: {task: flipflop, task_options: {n_bits: 2, duration: 10.0}, n_rec: 8, "
                    "dt: 0.5, steps: 6, record_every: 2, checkpoint_every: 2, batch_size: 2}\n"
                    "grid: {seed: [0, 1]}\nmax_ensemble: 1\n")
    out = tmp_path / "s"
    _interrupt_at_update(monkeypatch, 9)  # update 2 of the second run (the first has 6)
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 130
    err = _one_line(capsys.readouterr().err, "rnnrank: interrupted")
    assert f"1 of 2 runs finished in {out}" in err
    command = err.split("resume with: ", 1)[1].strip()
    assert shlex.split(command) == ["rnnrank", "sweep", str(spec), "--out", str(out),
                                    "--workers", "1"]
    monkeypatch.undo()
    assert main([*shlex.split(command)[1:], "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["completed"] == 2 and summary["already_complete"] == 1
    assert summary["run_now"] == 1 and summary["network_updates_per_second"] > 0
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_complete"] == 2 and again["run_now"] == 0
    assert "network_updates_per_second" not in again  # not "0": nothing was trained
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 0
    table = capsys.readouterr().out
    assert "already_complete" in table and "network_updates_per_second" not in table
