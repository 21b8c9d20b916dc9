"""The Schuessler et al. (2020) setup and a tiny end-to-end reproduction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnrank.experiments import schuessler2020 as s20


def test_paper_setup_trains_what_the_paper_states():
    """The run the paper setup launches, read back from what was built and saved, against the
    paper's numbers (REFERENCES.md §1): g grid, N, dt, Adam lr = 0.05/N, batch 32, ‖m‖ = √N,
    ‖w‖ = 1/√N, trial lengths T = time/dt."""
    setup = s20.paper()
    assert setup.gains("flipflop") == pytest.approx(np.arange(0, 2.4, 0.3))   # g_max 2.1
    assert setup.gains("mante")[-1] == pytest.approx(2.7)
    assert setup.gains("romo")[-1] == pytest.approx(3.0)
    assert len(setup.seeds) == 5
    assert setup.steps == {"flipflop": 1000, "mante": 2000, "romo": 6000}
    one = replace(setup, steps={"flipflop": 1}, g_grid=(0.9,), seeds=(0,), record_every=1)
    run, task, _ = s20.train_task("flipflop", one)
    model = run.model
    n = model.n_rec
    assert n == 256 and model.alpha == 0.5  # dt = 0.5, τ = 1
    u0 = np.asarray(run.trajectory.parameter("U")[0])[0]
    v0 = np.asarray(run.trajectory.parameter("V")[0])[0]
    np.testing.assert_allclose(np.linalg.norm(u0, axis=0), n**0.5, rtol=1e-5)  # float32
    np.testing.assert_allclose(np.linalg.norm(v0, axis=1), n**-0.5, rtol=1e-5)
    w0 = np.asarray(run.trajectory.weights[0])[0]
    assert w0.std() * np.sqrt(n) == pytest.approx(0.9, rel=0.02)  # W0 = g·N(0, 1/N)
    # one Adam step moves every trained entry by ≈ lr = 0.05/N (Adam's first step is ±lr)
    step_w = np.abs(np.asarray(run.trajectory.weights[1])[0] - w0)
    assert np.median(step_w[step_w > 0]) == pytest.approx(0.05 / n, rel=1e-3)
    batch = task.sample(4, generator=torch.Generator().manual_seed(0))
    assert task.n_bits == 2 and task.memory == "last"
    assert batch.inputs.shape == (100, 4, 2) and batch.targets.shape == (100, 4, 2)  # T = 50
    mante = s20.make_task("mante", setup).sample(4, generator=torch.Generator().manual_seed(0))
    assert mante.inputs.shape == (96, 4, 4)  # (3 + 20 + 5 + 20) / 0.5


@pytest.mark.slow  # ~3 s idle, longer on a loaded machine (matplotlib + training)
def test_tiny_reproduction_trains_one_ensemble_per_task_and_writes_the_report(tmp_path):
    setup = replace(s20.quick(), n_rec=12, steps={"flipflop": 3, "mante": 3, "romo": 3},
                    g_grid=(0.0, 0.9), seeds=(0, 1), record_every=1, test_batch=8,
                    ranks=(0, 1, 2), n_shuffles=1, linear_n=32, linear_gains=(0.0, 0.5),
                    tasks=("flipflop",))
    run, task, members = s20.train_task("flipflop", setup, tmp_path / "ff")
    assert members == [(0.0, 0), (0.0, 1), (0.9, 0), (0.9, 1)]
    assert run.trajectory.weights.shape == (4, 4, 12, 12)   # [K, E, N, N]
    rows = s20.analyse_task(run, task, members, setup)
    assert len(rows) == 4 and rows[2]["g"] == 0.9
    assert rows[0]["ranks"] == [0, 1, 2, 12]
    lin = s20.linear_part(setup)
    assert lin[0]["time_ratio"] == 1.0 and lin[1]["time_ratio_theory"] == pytest.approx(0.5625)
    from rnnrank.experiments.schuessler2020_report import write_report

    results = {"setup": {**setup.__dict__, "label": "quick"}, "networks": rows, "linear": lin,
               "lstm": None, "seconds": 0.0}
    page = write_report(results, tmp_path).read_text()
    assert "| flipflop | 0.9 |" in page and "(5)" in page  # paper's functional rank at g=0.9
    assert (tmp_path / "spectra.png").exists() and (tmp_path / "vs_gain.png").exists()


def test_lstm_experiment_truncations_are_exact_at_the_ends(tmp_path):
    from rnnrank.experiments.schuessler2020_lstm import LSTMSetup, lstm_table, run_lstm

    setup = LSTMSetup(hidden=6, steps=4, record_every=2, ranks=(0, 1, 6, 24), test_batch=64,
                      task={"vocab": 30, "embed": 5, "length": 8, "clause": (2, 4)})
    result = run_lstm(setup, tmp_path / "lstm")
    rows = result["per_matrix"]["lstm.weight_hh_l1"]
    # full rank: p0 + ΔW_R = p1 exactly (float32 difference is exact in float64) and [W]_R = W
    assert rows["delta"][-1] == result["final_accuracy"]
    assert rows["weight"][-1] == result["final_accuracy"]
    assert set(result["per_matrix"]) == {"lstm.weight_ih_l0", "lstm.weight_hh_l0",
                                         "lstm.weight_ih_l1", "lstm.weight_hh_l1",
                                         "readout.weight"}
    # R = 0 of the truncated change is W_hh = W_hh0: the "ΔW_hh removed" accuracy of that layer
    without = result["accuracy_without_delta_hh"]
    assert set(without) == {"lstm.weight_hh_l0", "lstm.weight_hh_l1", "all"}
    for name in ("lstm.weight_hh_l0", "lstm.weight_hh_l1"):
        assert without[name] == result["per_matrix"][name]["delta"][0]
    table = "\n".join(lstm_table(result))
    assert "| lstm.weight_hh_l1 | Δ |" in table and "ΔW_hh removed" in table
