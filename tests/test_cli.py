"""The command line: bad input → exit code 2 and one line; good input → a run and a JSON summary."""

from __future__ import annotations

import json

import pytest

import rnnrank as rr
from rnnrank.cli import main
from rnnrank.store.run_dir import RunDir


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--out", "OUT", "--task", "nope"], "unknown task 'nope'"),
    (["train", "--out", "OUT", "--n-rec", "-3"], "n_rec must be a positive integer"),
    (["train", "--out", "OUT", "--n-rec", "abc"], "--n-rec"),
    (["train", "--out", "OUT", "--steps", "-1"], "steps must be an integer >= 0"),
    (["train", "--out", "OUT", "--task-option", "n_bits"], "expects KEY=VALUE"),
    (["train", "--out", "OUT", "--task-option", "colour=3"], "unknown option(s) ['colour']"),
    (["train", "--out", "OUT", "--rule", "hebb"], "unknown learning rule"),
    (["train", "--out", "OUT", "--optimizer", "lbfgs"], "optimizer must be one of"),
    (["train"], "Missing option '--out'"),
    (["train", "--out", "OUT", "--lr-schedule", "step"], "lr_schedule must be one of"),
    (["train", "--out", "OUT", "--grad-clip", "0"], "grad_clip must be > 0"),
    (["report", "NOWHERE"], "is not a run directory"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, tmp_path, capsys):
    argv = [a.replace("OUT", str(tmp_path / "run")).replace("NOWHERE", str(tmp_path / "none"))
            for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnrank: error:") and err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err


def test_train_writes_a_run_and_a_json_summary(tmp_path, capsys):
    out = tmp_path / "ff"
    argv = ["train", "--out", str(out), "--task", "flipflop", "--task-option", "n_bits=2",
            "--task-option", "duration=10", "--n-rec", "16", "--steps", "6",
            "--record-every", "3", "--dt", "0.5", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "completed" and summary["snapshots"] == 3
    traj = rr.load_trajectory(out)
    assert traj.weights.shape == (3, 16, 16)
    assert main(argv) == 0  # again: resumes the completed run, trains nothing
    assert json.loads(capsys.readouterr().out)["snapshots"] == 3
    assert main(["report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (out / "report" / "index.html").exists() and report["updates"] == 6


def test_help_shows_an_example(capsys):
    assert main(["train", "--help"]) == 0
    assert "Example: rnnrank train" in capsys.readouterr().out


def test_reproduce_unknown_paper_exits_2(capsys):
    assert main(["reproduce", "smith1999"]) == 2
    err = capsys.readouterr().err
    assert "unknown paper 'smith1999'" in err and err.count("\n") == 1


def test_analyze_matrix_rank_on_a_tiny_run(tmp_path, capsys):
    out = tmp_path / "ff"
    assert main(["train", "--out", str(out), "--task", "flipflop", "--task-option", "n_bits=2",
                 "--task-option", "duration=10", "--n-rec", "16", "--steps", "6",
                 "--record-every", "3", "--dt", "0.5", "--json"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--matrix-rank", "--batch-size", "16", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ranks"][0] == 0 and summary["ranks"][-1] == 16
    assert len(summary["loss_vs_rank"]) == len(summary["ranks"])
    assert (out / "analysis" / "matrix_rank.png").exists()
    assert json.loads((out / "analysis" / "matrix_rank.json").read_text())["step"] == 6
    assert main(["analyze", str(out)]) == 2  # no analysis chosen


def test_analyze_tensor_rank_writes_figures_and_checks_bounds(tmp_path, capsys):
    """A linear network from W0 = 0 trained by SGD: the run's config meets the assumptions of
    the zero-init bound, which the report must check and find satisfied."""
    out = tmp_path / "lin"
    assert main(["train", "--out", str(out), "--task-option", "n_bits=2",
                 "--task-option", "duration=8", "--n-rec", "12", "--gain", "0",
                 "--nonlinearity", "identity", "--optimizer", "sgd", "--lr", "0.2",
                 "--steps", "8", "--record-every", "1", "--dt", "0.5", "--json"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--tensor-rank", "--ranks", "1..3", "--restarts", "2",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tensor_shape"] == [8, 12, 12] and summary["ranks"] == [1, 2, 3]
    (bound,) = summary["rank_bounds"]
    assert bound["holds"] and bound["matrix_rank_bound"] == 4
    assert bound["max_measured_rank"] <= 4
    assert (out / "analysis" / "tensor_rank.png").exists()
    assert (out / "analysis" / "tensor_rank_factors.png").exists()
    assert main(["analyze", str(out), "--tensor-rank", "--ranks", "0-3"]) == 2


def test_train_passes_the_schedule_and_clipping_into_the_run(tmp_path, capsys):
    out = tmp_path / "ff"
    argv = ["train", "--out", str(out), "--task-option", "n_bits=2", "--task-option",
            "duration=10", "--n-rec", "8", "--steps", "4", "--dt", "0.5", "--grad-clip", "0.5",
            "--lr-warmup", "2", "--lr-schedule", "cosine", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    saved = RunDir(out).read_config()["train"]
    assert (saved["grad_clip"], saved["lr_warmup"], saved["lr_schedule"]) == (0.5, 2, "cosine")
    assert 0 <= summary["best_step"] < 4 and rr.load_best(out).step[0] == summary["best_step"]


def test_help_lists_every_registered_task_rule_and_paper(capsys):
    from rnnrank.cli import PAPERS, RULE_NAMES, TASK_NAMES
    from rnnrank.experiments import REPRODUCTIONS
    from rnnrank.learning.rules import available_rules

    def public(names):  # test doubles registered by other test modules start with "_"
        return sorted(n for n in names if not n.startswith("_"))

    assert sorted(TASK_NAMES) == public(rr.tasks.available_tasks())
    assert sorted(RULE_NAMES) == public(available_rules())
    assert sorted(PAPERS) == public(REPRODUCTIONS)
    assert main(["reproduce", "--help"]) == 0
    assert "pellegrino2023" in capsys.readouterr().out


def test_backwards_rank_range_says_so(tmp_path, capsys):
    assert main(["analyze", str(tmp_path), "--tensor-rank", "--ranks", "3-1"]) == 2
    assert "runs backwards" in capsys.readouterr().err


def test_analyze_prints_a_readable_table(tmp_path, capsys):
    out = tmp_path / "ff"
    assert main(["train", "--out", str(out), "--task-option", "n_bits=2", "--task-option",
                 "duration=10", "--n-rec", "12", "--steps", "6", "--record-every", "2",
                 "--dt", "0.5", "--json"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--tensor-rank", "--ranks", "1-2", "--restarts", "2"]) == 0
    text = capsys.readouterr().out
    assert "{'" not in text and "best_rank" in text  # no raw Python dicts
    assert "none applies" in text  # an empty list of bounds is explained

def test_reproduce_full_dry_run_plans_the_papers_145_networks(tmp_path, capsys):
    assert main(["reproduce", "schuessler2020", "--full", "--dry-run", "--json",
                 "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["networks"] == 145 and out["jobs"] == {"flipflop": [40], "mante": [50],
                                                      "romo": [55]}
    assert main(["reproduce", "liu2024", "--full"]) == 2
