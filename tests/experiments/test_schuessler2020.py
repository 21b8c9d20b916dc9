"""The Schuessler et al. (2020) setup and a tiny end-to-end reproduction."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml

from rnnrank.analysis import functional_rank, performance_vs_rank
from rnnrank.experiments import schuessler2020 as s20
from rnnrank.experiments.schuessler2020 import claims


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


def test_paper_setup_names_the_authors_values():
    """Rows a–g of issue 22, read from the frozen setup (sources in its comments)."""
    setup = s20.paper()
    assert setup.task_options["mante"] == {"fixate": True}  # (a)
    assert setup.trainable == ("W", "U", "V")  # (b) b not trained
    assert setup.ranks == tuple(range(26))  # (e) every R = 0 … 25
    assert setup.rel_loss_c == 0.05 and setup.test_batch == 512 and setup.batch_size == 32
    assert setup.lr == pytest.approx(0.05 / 256)
    assert setup.linear_n == 1024 and setup.linear_draws == 5 and setup.linear_epochs == 200
    assert setup.linear_gains == pytest.approx(np.arange(0, 1, 0.1))
    assert setup.linear_z_hats == (0.5, 1.0, 2.0) and setup.linear_lr0 == (0.015, 0.009, 0.003)
    assert s20.differences(setup) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.n_rec = 128


def test_quick_setup_keeps_the_method_and_lists_every_difference():
    quick, paper = s20.quick(), s20.paper()
    for name in ("task_options", "trainable", "ranks", "rel_loss_c", "dt", "lr_times_n",
                 "batch_size"):
        assert getattr(quick, name) == getattr(paper, name), name
    assert len(quick.seeds) >= 2
    listed = {d.split(":")[0] for d in s20.differences(quick)}
    changed = {f.name for f in dataclasses.fields(quick)
               if f.name != "label" and getattr(quick, f.name) != getattr(paper, f.name)}
    assert listed == changed and "n_rec" in listed and "seeds" in listed


def test_a_trained_mante_run_has_fixation_an_untouched_bias_and_every_rank(tmp_path):
    """Read back from a run the paper setup trained (tiny sizes): the saved task has fixation
    (target 0, mask 1 until the stimulus ends), b stays exactly 0 while W moves, and the
    functional rank is searched over every R = 0 … 25."""
    setup = replace(s20.paper(), n_rec=28, steps={"mante": 2}, g_grid=(0.9,), seeds=(0, 1),
                    record_every=1, test_batch=8, tasks=("mante",))
    run, task, members = s20.train_task("mante", setup, tmp_path / "mante")
    saved = yaml.safe_load((tmp_path / "mante" / "config.yaml").read_text())
    assert saved["task"]["name"] == "mante" and saved["task"]["fixate"] is True
    batch = s20.make_task("mante", setup).sample(4, generator=torch.Generator().manual_seed(0))
    off = int((3 + 20) / 0.5)  # fixation 3 + stimulus 20, dt = 0.5
    assert torch.all(batch.mask[:off] == 1) and torch.all(batch.targets[:off] == 0)
    b = np.asarray(run.trajectory.parameter("b"))  # [K, E, N]
    assert b.shape[0] == 3 and np.all(b == 0)
    assert not run.model.b.requires_grad
    w = np.asarray(run.trajectory.weights)
    assert np.abs(w[-1] - w[0]).max() > 0
    rows = s20.analyse_task(run, task, members, setup)
    assert [r["rank_grid"] for r in rows] == [list(range(26))] * 2
    for r in rows:  # 2 updates: no R reaches 5 % of loss(R = 0), so every R was tried
        assert r["functional_rank"] is None and r["ranks"] == list(range(26))
        assert len(r["trunc_loss_ratio"]) == 26


def test_the_gate_drops_a_network_with_zero_updates():
    """A planted network that never trained has no convergence time: it is not converged and
    enters no mean."""
    setup = replace(s20.paper(), n_rec=8, steps={"mante": 0}, g_grid=(0.9,), seeds=(0,),
                    test_batch=8, tasks=("mante",))
    run, task, members = s20.train_task("mante", setup)
    (row,) = s20.analyse_task(run, task, members, setup)
    assert row["convergence_time"] is None and row["converged"] is False
    (entry,) = claims.summarise([row])
    assert entry["n"] == 1 and entry["n_converged"] == 0 and entry["functional_rank"] is None


def _row(g, fr, ct, dn, conv):
    return {"task": "flipflop", "g": g, "functional_rank": fr, "convergence_time": ct,
            "delta_norm": dn, "shuffle_ratio": 1.0, "converged": conv, "final_loss": 0.01,
            "initial_loss": 0.1}


def test_summary_means_and_standard_errors_are_over_converged_networks_only():
    rows = [_row(0.9, 4, 40, 1.0, True), _row(0.9, 6, 60, 2.0, True),
            _row(0.9, 25, 0, 9.0, False), _row(0.9, None, None, 9.0, False)]
    (e,) = claims.summarise(rows)
    assert (e["n"], e["n_converged"]) == (4, 2)
    assert e["functional_rank"] == 5.0 and e["functional_rank_se"] == pytest.approx(1.0)
    assert e["delta_norm"] == 1.5 and e["delta_norm_se"] == pytest.approx(0.5)
    assert e["final_loss"] == pytest.approx(0.1)  # over every network
    assert claims.verdict(5.0, 1.0, 2, 7.7, floor=1) == "reproduced"  # 2.7 ≤ 1.155 + 2
    assert claims.verdict(5.0, 0.1, 2, 7.7, floor=1) == "not reproduced"
    assert claims.verdict(5.0, None, 1, 5.0) == "inconclusive"


@pytest.mark.slow  # ~15 s on a loaded machine: two runs of 120 updates
def test_the_gate_keeps_a_converged_network_and_drops_a_planted_one():
    """Same networks (N = 32, g = 0.9, 2 seeds), once trained 120 updates at the paper's
    lr = 0.05/N (they converge) and once planted with zero updates: the summary counts 2 of 4
    converged and its means equal the trained networks' own values."""
    base = replace(s20.paper(), n_rec=32, g_grid=(0.9,), seeds=(0, 1), record_every=1,
                   test_batch=32, tasks=("flipflop",))
    rows = []
    for steps in (120, 0):
        setup = replace(base, steps={"flipflop": steps})
        run, task, members = s20.train_task("flipflop", setup)
        rows += s20.analyse_task(run, task, members, setup)
        if steps:  # the blockwise rank search gives the full search's answer, any block
            full = performance_vs_rank(run.model, task, list(range(26)),
                                       trajectory=run.trajectory, member=0, batch_size=32,
                                       seed=10_000)
            want = functional_rank(full.ranks, full.loss)
            assert want is not None
            for block in (1, 4, 26):
                _, loss, _, fr, _ = s20.rank_search(run, task, setup, 0, 0, block=block)
                assert fr == want
                np.testing.assert_allclose(loss, full.loss[:len(loss)], rtol=1e-12)
    assert [r["converged"] for r in rows] == [True, True, False, False]
    for r in rows[:2]:  # the search stopped at the block holding the functional rank
        assert r["functional_rank"] is not None
        assert r["ranks"] == list(range(len(r["ranks"]))) and r["functional_rank"] in r["ranks"]
        assert r["trunc_loss_ratio"][r["ranks"].index(r["functional_rank"])] < 0.05
        assert all(v >= 0.05 for v in r["trunc_loss_ratio"][:r["functional_rank"]])
    (e,) = claims.summarise(rows)
    assert (e["n"], e["n_converged"]) == (4, 2)
    assert e["functional_rank"] == pytest.approx(np.mean([r["functional_rank"] for r in rows[:2]]))
    assert e["delta_norm"] == pytest.approx(np.mean([r["delta_norm"] for r in rows[:2]]))


@pytest.mark.slow  # ~5 s idle, longer on a loaded machine (matplotlib + training)
def test_tiny_reproduction_writes_claims_results_and_the_report(tmp_path):
    setup = replace(s20.quick(), n_rec=12, steps={"flipflop": 3}, g_grid=(0.0, 0.9),
                    seeds=(0, 1), record_every=1, test_batch=8, ranks=(0, 1, 2),
                    linear_n=32, linear_gains=(0.0, 0.3), linear_z_hats=(0.5,),
                    linear_lr0=(0.015,), linear_draws=2, linear_epochs=20, tasks=("flipflop",))
    res = s20.reproduce(tmp_path, setup=setup, lstm=False)
    assert [(r["g"], r["seed"]) for r in res["networks"]] == [(0.0, 0), (0.0, 1), (0.9, 0),
                                                              (0.9, 1)]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["claims"] and all(c["verdict"] in ("reproduced", "not reproduced",
                                                    "inconclusive") for c in saved["claims"])
    assert any("n_rec" in d for d in saved["differences_from_paper"])
    # the framework's claims are the module's claim rows, verdict for verdict
    assert [c["verdict"] for c in saved["claim_verdicts"]] == [c["verdict"]
                                                               for c in saved["claims"]]
    names = {c["claim"] for c in saved["claims"]}
    assert {claims.CONV_ABS, *claims.NORMALISED.values(), claims.LIN_SHUFFLE, claims.LIN_DELTA,
            claims.LIN_TIME, *claims.LIN_OLD.values()} <= names
    assert all("authors_gate" in e and "delta_norm_sd" in e for e in saved["summary"])
    page = (tmp_path / "index.md").read_text()
    assert "| flipflop | 0.9 |" in page and "(5)" in page  # paper's functional rank at g=0.9
    assert "## What changed in the verdict rules and why" in page and " SD" in page
    assert "(absolute, old rule)" in page and "authors' simulation" in page
    assert "Differences from the paper" in page
    for fig in ("spectra.png", "vs_gain.png", "linear.png", "truncation.png"):
        assert (tmp_path / fig).exists()


def test_lstm_experiment_truncations_are_exact_at_the_ends(tmp_path):
    from rnnrank.experiments.schuessler2020.lstm import LSTMSetup, lstm_table, run_lstm

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
    v = result["verdict"]
    assert v["verdict"] in ("reproduced", "not reproduced", "inconclusive") and v["n"] == 1
    table = "\n".join(lstm_table(result))
    assert "| lstm.weight_hh_l1 | Δ |" in table and "ΔW_hh removed" in table


def test_full_run_plans_the_papers_145_networks_as_sweeps(tmp_path):
    from rnnrank.experiments.schuessler2020 import full

    jobs = full.plan_full(s20.paper(), tmp_path)
    runs = {t: sum(len(j["runs"]) for j in js) for t, js in jobs.items()}
    assert runs == {"flipflop": 8 * 5, "mante": 10 * 5, "romo": 11 * 5}  # 145 networks
    assert all(len(js) == 1 for js in jobs.values())  # each task one batched ensemble
    opts = jobs["mante"][0]["runs"][0]["options"]
    assert opts["trainable"] == ["W", "U", "V"] and opts["task_options"] == {"fixate": True}
    assert opts["lr"] == pytest.approx(0.05 / 256) and opts["dt"] == 0.5


@pytest.mark.slow  # ~10 s: a sweep trained, analysed, and planned again
def test_full_run_trains_resumes_and_analyses_lone_runs(tmp_path):
    from rnnrank.experiments.schuessler2020 import full
    from rnnrank.store.trajectory import load_trajectory

    setup = replace(s20.paper(), n_rec=10, steps={"flipflop": 3}, g_grid=(0.0, 0.9),
                    seeds=(0, 1), record_every=1, test_batch=8, tasks=("flipflop",))
    full.train_full(setup, tmp_path, workers=1)
    assert full.plan_full(setup, tmp_path)["flipflop"] == []  # finished: nothing to resume
    rows = full.analyse_sweep(setup, tmp_path)
    assert sorted((r["g"], r["seed"]) for r in rows) == [(0.0, 0), (0.0, 1), (0.9, 0), (0.9, 1)]
    assert all(r["rank_grid"] == list(range(26)) for r in rows)
    run = next((tmp_path / "sweeps" / "flipflop" / "runs").iterdir())
    traj = load_trajectory(run)
    assert np.all(np.asarray(traj.parameter("b")) == 0)  # b not trained in the sweep either
    assert np.abs(np.asarray(traj.weights[-1]) - np.asarray(traj.weights[0])).max() > 0


def _entry(task, g, n_conv, ct=None, ct_se=None, dn=None, dn_se=None, n=5):
    return {"task": task, "g": g, "n": n, "n_converged": n_conv, "convergence_time": ct,
            "convergence_time_se": ct_se, "delta_norm": dn, "delta_norm_se": dn_se,
            "functional_rank": None, "functional_rank_se": None, "shuffle_ratio": None,
            "shuffle_ratio_se": None}


def test_u_shape_and_norm_decrease_verdicts_on_planted_summaries():
    u = [_entry("flipflop", g, 5, ct, 3.0, dn, 0.02) for g, ct, dn in
         ((0.0, 100, 1.9), (0.9, 40, 1.2), (1.5, 55, 0.6), (2.1, 90, 0.5))]
    got = {c["claim"]: c["verdict"] for c in claims.network_claims(u) if c["g"] != 0.0
           and c["claim"].endswith(("U-shaped", "with g"))}
    assert got == {"convergence time U-shaped": "reproduced",
                   "delta_norm decreases with g": "reproduced"}
    flat = [dict(e) for e in u]
    flat[-1]["convergence_time"] = 41  # no rise on the right: not a U
    flat[1]["delta_norm"] = 0.5  # ‖ΔW‖ rises from g = 0.9 to 1.5 by 0.1 ≫ 2 s.e.
    got = {c["claim"]: c["verdict"] for c in claims.network_claims(flat)
           if c["claim"].endswith(("U-shaped", "with g"))}
    assert got == {"convergence time U-shaped": "not reproduced",
                   "delta_norm decreases with g": "not reproduced"}
    short = [e for e in u if e["g"] <= 1.5]  # the grid stops at the minimum: cannot tell
    (c,) = [c for c in claims.network_claims(short) if c["claim"].endswith("U-shaped")]
    assert c["verdict"] == "inconclusive"
    never = [_entry("romo", 0.0, 0, n=5)]  # none converged in 1200 updates: "> 600" holds
    (c,) = [c for c in claims.network_claims(never, budget={"romo": 1200})
            if c["claim"] == claims.CONV_ABS]
    assert c["verdict"] == "reproduced" and "1200" in c["note"]
    assert "unpublished code" in c["note"]
