"""Recording validation and the loaders (npz, HDF5, NWB written by pynwb inside the test)."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
import torch

from rnnrank.fitting import Recording, load_recording
from rnnrank.fitting.loaders import gaussian_smooth


def _rec(T=5, K=4, n=3, **kw):
    g = torch.Generator().manual_seed(0)
    return Recording(data=torch.randn(T, K, n, generator=g), **kw)


def test_defaults_and_counts():
    rec = _rec()
    assert rec.shape == (5, 4, 3)
    assert rec.trial_id.tolist() == [0, 1, 2, 3] and rec.condition.tolist() == [0] * 4
    counts = Recording(data=np.ones((5, 4, 3), dtype=np.int64))
    assert counts.is_counts and not rec.is_counts


@pytest.mark.parametrize("kw, match", [
    (dict(condition=[0, 1]), "Recording.condition: expected shape \\[4\\]"),
    (dict(times=[0.0, 1.0]), "Recording.times: expected shape \\[5\\]"),
    (dict(mask=np.ones((5, 4, 2), bool)), "Recording.mask: expected shape"),
    (dict(condition=[0, -1, 0, 0]), "condition: expected integers"),
])
def test_bad_fields_name_the_field(kw, match):
    with pytest.raises(ValueError, match=match):
        _rec(**kw)


def test_nan_outside_mask_rejected_inside_mask_allowed():
    data = torch.zeros(5, 4, 3)
    data[2, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN/inf entries outside the mask.*\\(2, 1, 0\\)"):
        Recording(data=data)
    mask = torch.ones(5, 4, 3, dtype=torch.bool)
    mask[2, 1, 0] = False
    rec = Recording(data=data, mask=mask)
    assert torch.isfinite(rec.data).all()  # missing entries are zeroed, never NaN


def test_too_few_trials_and_wrong_rank_of_array():
    with pytest.raises(ValueError, match="at least 2 trials"):
        Recording(data=torch.zeros(5, 1, 3))
    with pytest.raises(ValueError, match="expected \\[T, K, n\\]"):
        Recording(data=torch.zeros(5, 3))


def test_npz_and_h5_round_trip(tmp_path):
    import h5py

    rec = _rec(condition=[0, 1, 1, 0], epoch=[0, 0, 1, 1], times=np.linspace(-1, 1, 5))
    rec.save(tmp_path / "r.npz")
    back = load_recording(tmp_path / "r.npz")
    with h5py.File(tmp_path / "r.h5", "w") as f:
        for key in ("data", "condition", "times", "epoch"):
            f[key] = getattr(rec, key).numpy()
    back_h5 = load_recording(tmp_path / "r.h5")
    for b in (back, back_h5):
        assert torch.equal(b.data, rec.data) and torch.equal(b.epoch, rec.epoch)
        assert torch.equal(b.condition, rec.condition) and torch.equal(b.times, rec.times)


def test_missing_key_and_bad_files(tmp_path):
    np.savez(tmp_path / "x.npz", rates=np.zeros((5, 4, 3)))
    with pytest.raises(ValueError, match="missing key 'data'"):
        load_recording(tmp_path / "x.npz")
    (tmp_path / "fake.nwb").write_text("not hdf5")
    with pytest.raises(ValueError, match="not an NWB"):
        load_recording(tmp_path / "fake.nwb")
    (tmp_path / "fake.txt").write_text("data")
    with pytest.raises(ValueError, match="unknown recording format"):
        load_recording(tmp_path / "fake.txt")


def _write_nwb(tmp_path):
    """A pynwb-written session: 3 trials, 2 units, truth[t, k, i] spikes strictly inside bin t
    of the window [-0.2, 0.6) s around each trial's go cue (0.1 s bins)."""
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(session_description="test", identifier="t1",
                  session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    nwb.add_trial_column(name="go_cue_time", description="go cue")
    nwb.add_trial_column(name="condition", description="target")
    go = [1.0, 3.0, 5.0]
    for k, g in enumerate(go):
        nwb.add_trial(start_time=g - 0.5, stop_time=g + 0.5, go_cue_time=g, condition=k % 2)
    rng = np.random.default_rng(0)
    T, bin_size, before = 8, 0.1, 0.2  # bins [-0.2, 0.6)
    truth = rng.integers(0, 3, size=(T, len(go), 2))
    for i in range(2):
        spikes = []
        for k, g in enumerate(go):
            for t in range(T):
                # truth[t, k, i] spikes strictly inside bin t (centre ± 0.02 s)
                centre = g - before + (t + 0.5) * bin_size
                spikes += list(centre + np.linspace(-0.02, 0.02, truth[t, k, i]))
        nwb.add_unit(spike_times=np.sort(spikes))
    path = tmp_path / "s.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path, truth, bin_size, before


def test_nwb_round_trip(tmp_path):
    """Spikes at known times in a pynwb-written file are binned exactly where they were put."""
    path, truth, bin_size, before = _write_nwb(tmp_path)
    T = truth.shape[0]
    rec = load_recording(path, align_to="go_cue_time", before=before, after=0.6,
                         bin_size=bin_size)
    assert rec.is_counts and rec.shape == (T, 3, 2)
    assert np.array_equal(rec.data.numpy().astype(int), truth)
    assert rec.condition.tolist() == [0, 1, 0]
    np.testing.assert_allclose(rec.times.numpy(), -before + bin_size * np.arange(T), atol=1e-12)
    z = load_recording(path, align_to="go_cue_time", before=before, after=0.6,
                       bin_size=bin_size, smooth=1.0, zscore=True)
    # z-scored per neuron: mean 0, std 1 over bins and trials (float64 round-off)
    np.testing.assert_allclose(z.data.mean(dim=(0, 1)).numpy(), 0, atol=1e-12)
    with pytest.raises(ValueError, match="no column 'reward_time'"):
        load_recording(path, align_to="reward_time")


def test_gaussian_smooth_keeps_constants_and_mass_in_the_middle():
    x = np.ones((30, 2))
    np.testing.assert_allclose(gaussian_smooth(x, 2.0), 1.0, atol=1e-12)
    d = np.zeros(61)
    d[30] = 1.0
    s = gaussian_smooth(d, 3.0)
    # analytic Gaussian of σ = 3 bins, normalised on its ±12-bin support
    k = np.exp(-0.5 * (np.arange(-12, 13) / 3.0) ** 2)
    np.testing.assert_allclose(s[18:43], k / k.sum(), atol=1e-12)


def test_cli_nwb_options_give_the_python_recording(tmp_path, monkeypatch, capsys):
    """``rnnrank fit s.nwb --align-to … --bin-size …`` fits exactly the recording that
    ``load_recording(path, align_to=…, …)`` returns (captured where the fit receives it)."""
    import rnnrank as rr
    from rnnrank.cli import main

    path, truth, bin_size, before = _write_nwb(tmp_path)
    seen = []
    real = rr.fitting.fit_ltr

    def spy(rec, *args, **kw):
        seen.append(rec)
        return real(rec, *args, **kw)

    monkeypatch.setattr(rr.fitting, "fit_ltr", spy)
    argv = ["fit", str(path), "--align-to", "go_cue_time", "--before", str(before), "--after",
            "0.6", "--bin-size", str(bin_size), "--smooth", "1", "--zscore", "--rank", "1",
            "--n-rec", "4", "--max-iter", "2", "--out", str(tmp_path / "fit"), "--json"]
    assert main(argv) == 0
    ref = load_recording(path, align_to="go_cue_time", before=before, after=0.6,
                         bin_size=bin_size, smooth=1.0, zscore=True)
    rec = seen[0]  # one recording, fitted from each of the default seeds
    assert all(r is rec for r in seen)
    assert rec.shape == ref.shape == (truth.shape[0], 3, 2)
    np.testing.assert_array_equal(rec.data.numpy(), ref.data.numpy())
    capsys.readouterr()
    np.savez(tmp_path / "r.npz", data=truth.astype(float))
    assert main(["fit", str(tmp_path / "r.npz"), "--bin-size", "0.02"]) == 2
    assert "--bin-size bin an NWB file's spikes" in capsys.readouterr().err


def test_cli_fit_writes_a_summary_and_a_figure_and_warns_at_max_iter(tmp_path, capsys):
    from rnnrank.cli import main

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "r.npz", data=rng.standard_normal((12, 10, 4)))
    out = tmp_path / "fit"
    assert main(["fit", str(tmp_path / "r.npz"), "--rank", "1", "--n-rec", "4", "--max-iter",
                 "3", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads((out / "fit.json").read_text())
    assert summary["shape"] == [12, 10, 4] and summary["iterations"] == 3
    assert (out / "fit.png").stat().st_size > 10_000
    assert "stopped at --max-iter 3" in captured.err
    assert json.loads(captured.out)["figure"] == str(out / "fit.png")
