"""The run report: every section with its figure and numbers, a self-contained HTML page, and
truncation numbers that match an Euler loop written here (Schuessler et al. 2020, §3)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.report import write_report
from rnnrank.store.run_dir import rebuild

N, DT, BATCH = 12, 0.5, 24
SECTIONS = ("Learning", "The network doing the task", "Performance vs rank of ΔW",
            "Spectrum of ΔW and its growth", "Tensor rank of learning: CP factors of ΔW(k)")
IMAGES = ("loss.png", "task.png", "truncation.png", "singular_values.png", "delta_norm.png",
          "cp_factors.png")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A tiny flip-flop run (N = 12, 30 updates, 11 snapshots) and its report (~2 s)."""
    run = tmp_path_factory.mktemp("run") / "ff"
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=DT)
    model = rr.RateRNN(task.n_in, N, task.n_out, gain=0.9, seed=0, dt=DT)
    rr.train(model, task, steps=30, lr=1e-2, batch_size=16, record_every=3, seed=0, out=run,
             progress=False)
    out = write_report(run, batch_size=BATCH, n_trials=2, cp_ranks=range(1, 3), cp_restarts=2)
    return run, out, task


def _euler_loss(W, U, V, b, x0, batch) -> float:
    """Masked MSE of x ← (1 − α)x + α(W tanh x + U u + b), y = V tanh x, written out here."""
    alpha = DT / 1.0  # α = dt/τ, τ = 1
    u, y_star, m = (batch.inputs.double().numpy(), batch.targets.double().numpy(),
                    batch.mask.double().numpy())
    x = np.broadcast_to(x0, (u.shape[1], N)).copy()
    err = 0.0
    for t in range(u.shape[0]):
        x = (1 - alpha) * x + alpha * (np.tanh(x) @ W.T + u[t] @ U.T + b)
        err += float(np.sum(m[t] * (np.tanh(x) @ V.T - y_star[t]) ** 2))
    return err / float(m.sum())


def _rank_r(delta: np.ndarray, r: int) -> np.ndarray:
    u, s, vt = np.linalg.svd(delta)
    return (u[:, :r] * s[:r]) @ vt[:r]


def test_every_section_has_a_heading_caption_figure_and_table(report):
    _, out, _ = report
    md = (out / "index.md").read_text()
    headings = re.findall(r"^## \d+\. (.+)$", md, flags=re.M)
    assert headings == list(SECTIONS)
    for image in IMAGES:
        assert (out / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
        assert f"]({image})" in md  # relative link, beside the page
    # One table per section plus the summary table: a header separator line each.
    assert md.count("\n|---|") == len(SECTIONS) + 1


def test_html_is_self_contained(report):
    _, out, _ = report
    page = (out / "index.html").read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(IMAGES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    # The embedded images are the PNG files written beside the page, byte for byte.
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {(out / image).read_bytes() for image in IMAGES}
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "href=" not in page and "@import" not in page  # no stylesheet or link to fetch


def test_truncation_numbers_match_an_independent_euler_loop(report):
    run, out, task = report
    numbers = json.loads((out / "report.json").read_text())["sections"]
    trunc, shown = numbers["truncation"], numbers["task"]
    traj = rr.load_trajectory(run)
    p = {n: np.asarray(traj.parameter(n), dtype=np.float64) for n in ("W", "U", "V", "b", "x0")}
    W0, W = p["W"][0], p["W"][-1]
    trained_io = (p["U"][-1], p["V"][-1], p["b"][-1], p["x0"][-1])
    # The report's test batch: BATCH trials drawn from a generator seeded 0, in float64.
    batch = task.sample(BATCH, generator=torch.Generator().manual_seed(0))
    ranks = trunc["ranks"]
    assert ranks[0] == 0 and ranks[-1] == N
    # Both sides are float64 over 20 Euler steps of a contracting (g < 1) network: agreement to
    # ~1e-13 relative; 1e-9 leaves a wide margin over round-off on any CPU.
    rtol = 1e-9
    assert trunc["loss"][0] == pytest.approx(_euler_loss(W0, *trained_io, batch), rel=rtol)
    full = _euler_loss(W, *trained_io, batch)
    assert trunc["loss"][-1] == pytest.approx(full, rel=rtol)
    assert trunc["loss_full"] == pytest.approx(full, rel=rtol)
    for i, r in enumerate(ranks[1:3], start=1):
        expected = _euler_loss(W0 + _rank_r(W - W0, r), *trained_io, batch)
        assert trunc["loss"][i] == pytest.approx(expected, rel=rtol)
    untrained = _euler_loss(W0, p["U"][0], p["V"][0], p["b"][0], p["x0"][-1], batch)
    assert trunc["loss_initial"] == pytest.approx(untrained, rel=rtol)
    # The task section scores the same two networks on the same batch.
    assert shown["loss_trained"] == pytest.approx(full, rel=rtol)
    assert shown["loss_initial"] == pytest.approx(untrained, rel=rtol)
    # performance_vs_rank called here gives every rank's loss and score as the page shows them.
    model, _ = rebuild(run)
    ref = rr.analysis.performance_vs_rank(model, task, ranks, trajectory=traj,
                                          batch_size=BATCH, seed=0)
    np.testing.assert_allclose(trunc["loss"], ref.loss, rtol=rtol)
    np.testing.assert_allclose(trunc["score"], ref.score, rtol=rtol)
    assert trunc["functional_rank"] == ref.functional_rank()
    # The table row of R = 0 prints that loss.
    md = (out / "index.md").read_text()
    assert f"| R = 0 (W0 alone) | {trunc['loss'][0]:.3g} |" in md


def test_cp_section_reports_the_selection_it_drew(report):
    run, out, _ = report
    cp = json.loads((out / "report.json").read_text())["sections"]["cp"]
    assert cp["tensor_shape"] == [10, N, N]  # ΔW(k) for the 10 snapshots after W(0)
    assert cp["ranks"] == [1, 2] and cp["chosen_rank"] in (1, 2)
    # Relative error of the best rank-1 CP model is at least that of the best rank-1 matrix
    # approximation of the snapshot-unfolded tensor [K, N²] (CP rank 1 is a constrained case).
    w = np.asarray(rr.load_trajectory(run).weights, dtype=np.float64)
    x = (w[1:] - w[0]).reshape(10, -1)
    s = np.linalg.svd(x, compute_uv=False)
    floor = np.sqrt(np.sum(s[1:] ** 2) / np.sum(s**2))
    assert cp["relative_error"][0] >= floor - 1e-9  # 1e-9: round-off of the two float64 fits
    assert 0 < cp["relative_error"][1] < 1


def test_bad_member_is_refused(report):
    run, _, _ = report
    with pytest.raises(ValueError, match=r"member must be in 0\.\.0 .* got 2"):
        write_report(run, member=2)


def test_the_page_opens_with_what_was_trained_and_lists_every_plotted_rank(report):
    run, out, _ = report
    numbers = json.loads((out / "report.json").read_text())
    opening = numbers["opening"]
    assert "N = 12" in opening and "flipflop" in opening and "30 updates" in opening
    fr = numbers["sections"]["truncation"]["functional_rank"]
    assert (f"Functional rank {fr} of 12" in opening) if fr is not None else \
        "No rank-R truncation" in opening
    md = (out / "index.md").read_text()
    assert md.index(opening) < md.index("## At a glance")
    assert numbers["title"].endswith("g = 0.9")  # a number, not a list
    table_ranks = [int(r) for r in re.findall(r"^\| R = (\d+)", md, flags=re.M)]
    assert table_ranks == numbers["sections"]["truncation"]["ranks"]  # each R the curve plots


def test_a_run_that_did_not_learn_or_stopped_early_says_so_first(tmp_path):
    from rnnrank.report.page import training_caution
    from rnnrank.store.run_dir import RunDir

    class Traj:  # what training_caution reads of a trajectory
        def __init__(self, steps, loss):
            self.steps, self.loss = np.array(steps), np.array(loss)

    RunDir(tmp_path).write_status("completed")
    config = {"train": {"steps": 300}}
    assert training_caution(tmp_path, config, Traj([0, 300], [1.0, 0.01]), None) is None
    unlearned = training_caution(tmp_path, config, Traj([0, 300], [1.0, 0.4]), None)
    assert "had not learned" in unlearned and "40 %" in unlearned
    RunDir(tmp_path).write_status("interrupted")
    stopped = training_caution(tmp_path, config, Traj([0, 80], [1.0, 0.01]), None)
    assert "stopped at update 80 of 300 (status: interrupted)" in stopped
    # an ensemble: the member's own loss column
    assert "had not learned" in training_caution(
        tmp_path, {"train": {"steps": 80}}, Traj([0, 80], [[1.0, 1.0], [0.01, 0.5]]), 1)


def test_the_page_of_an_unlearned_run_opens_with_the_caution(tmp_path):
    run = tmp_path / "ff"
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=DT)
    model = rr.RateRNN(task.n_in, N, task.n_out, gain=0.9, seed=0, dt=DT)
    rr.train(model, task, steps=2, lr=1e-3, batch_size=8, record_every=1, seed=0, out=run,
             progress=False)  # 2 small updates: nowhere near 5 % of the first loss
    out = write_report(run, batch_size=BATCH, n_trials=1, cp_ranks=range(1, 2), cp_restarts=1)
    numbers = json.loads((out / "report.json").read_text())
    assert "had not learned" in numbers["caution"]
    md = (out / "index.md").read_text()
    assert md.index("**Caution:**") < md.index(numbers["opening"])
    assert "not low rank by that test" not in numbers["opening"]
    assert "class='caution'" in (out / "index.html").read_text()


def test_the_page_gives_the_seeds_dt_and_noise_it_ran_with(tmp_path):
    """Non-default seed, dt and σ, so a page that printed constants would fail."""
    run = tmp_path / "ff"
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=DT)
    model = rr.RateRNN(task.n_in, N, task.n_out, gain=0.9, seed=3, dt=DT, noise=0.05)
    rr.train(model, task, steps=3, lr=1e-3, batch_size=8, record_every=1, seed=5, out=run,
             progress=False)
    out = write_report(run, batch_size=BATCH, n_trials=1, cp_ranks=range(1, 2), cp_restarts=1)
    md, page = (out / "index.md").read_text(), (out / "index.html").read_text()
    for quantity, value in (("seed: W0 (trials and noise)", "3 (5)"),
                            ("time step dt (time constant τ)", "0.5 (1)"),
                            ("noise σ per √(unit time)", "0.05")):
        assert f"| {quantity} | {value} |" in md
        assert f"<td>{quantity}</td><td>{value}</td>" in page
    glance = md[md.index("## At a glance"):md.index("## 1.")]
    assert "deterministic" not in glance  # σ > 0


def test_run_settings_of_an_ensemble_member_are_that_members():
    from rnnrank.report.page import run_settings

    config = {"model": {"seeds": [4, 7], "dt": 0.1, "tau": 2.0, "noise": 0.0},
              "train": {"seed": 0, "member_seeds": [10, 11]}}
    assert dict(run_settings(config, member=1)) == {
        "seed: W0 (trials and noise)": "7 (11)", "time step dt (time constant τ)": "0.1 (2)",
        "noise σ per √(unit time)": "0 (deterministic network)"}


def test_the_score_shown_is_defined_beside_the_untrained_networks(report):
    _, out, _ = report
    numbers = json.loads((out / "report.json").read_text())
    task = numbers["sections"]["task"]
    # flipflop.py's FlipFlop.score docstring says what the accuracy counts: sign agreement.
    assert "output sign matches the target" in task["score_meaning"]
    opening = numbers["opening"]
    assert "The accuracy is the fraction of masked (time, trial, bit) entries" in opening
    assert f"(untrained network: {task['score_initial']:.3f})" in opening
    md = (out / "index.md").read_text()
    section = md[md.index("## 2. The network doing the task"):md.index("## 3.")]
    assert ("Accuracy: fraction of masked (time, trial, bit) entries whose output sign matches "
            "the target") in section
    assert f"The untrained network scores {task['score_initial']:.3f}" in section


def test_a_task_that_does_not_document_its_score_gets_no_definition():
    from rnnrank.report.sections import score_meaning
    from rnnrank.tasks.base import TASKS

    assert score_meaning(TASKS.get("sentiment")) is None  # its score() has no docstring
    assert score_meaning(TASKS.get("sine")).startswith("Masked MSE / masked variance")
