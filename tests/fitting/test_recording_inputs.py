"""What a user's files meet at the boundary: damaged files say so, string conditions are coded
(labels kept), and the swapped-axes check fires on a clear swap but not on ordinary sessions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnrank.fitting import Recording, load_recording
from rnnrank.fitting.loaders import gaussian_smooth
from rnnrank.fitting.recording import suspect_layout


def _npz_bytes(tmp_path) -> bytes:
    np.savez(tmp_path / "good.npz", data=np.random.default_rng(0).standard_normal((5, 4, 3)))
    return (tmp_path / "good.npz").read_bytes()


@pytest.mark.parametrize("name, content, match", [
    ("garbage.npz", lambda b: b"not a zip at all", "not a readable .npz"),
    ("truncated.npz", lambda b: b[: len(b) // 2], "not a readable .npz"),
    ("empty.npz", lambda b: b"", "not a readable .npz"),
    ("crc.npz", lambda b: b[:300] + bytes(40) + b[340:], "a corrupt .npz"),  # in the data
    ("garbage.h5", lambda b: b"\x89HDF junk" * 20, "not a readable HDF5 file"),
    ("garbage.nwb", lambda b: b"\x89HDF junk" * 20, "not an NWB"),
])
def test_damaged_files_raise_one_value_error_naming_the_fix(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content(_npz_bytes(tmp_path)))
    with pytest.raises(ValueError, match=match) as info:
        load_recording(path)
    assert "\n" not in str(info.value) and "write it" in str(info.value)


def test_pickled_objects_in_an_npz_are_named(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, data=np.zeros((5, 4, 3)), condition=np.array([1, "a", None, 2], dtype=object))
    with pytest.raises(ValueError, match="key 'condition' holds Python objects"):
        load_recording(path)


def test_string_conditions_become_codes_and_keep_their_labels(tmp_path):
    import h5py

    data = np.random.default_rng(0).standard_normal((5, 6, 3))
    labels = ["left", "right", "left", "up", "right", "left"]
    np.savez(tmp_path / "r.npz", data=data, condition=np.array(labels), epoch=np.array(
        ["base", "base", "adapt", "adapt", "wash", "wash"]))
    rec = load_recording(tmp_path / "r.npz")
    assert rec.condition.tolist() == [0, 1, 0, 2, 1, 0]  # in order of first appearance
    assert rec.condition_labels == ("left", "right", "up") and rec.n_conditions == 3
    assert rec.epoch.tolist() == [0, 0, 1, 1, 2, 2]
    assert rec.epoch_labels == ("base", "adapt", "wash")
    assert [rec.condition_labels[c] for c in rec.condition] == labels
    assert rec.trials([1, 3]).condition_labels == rec.condition_labels  # subsets keep them
    rec.save(tmp_path / "back.npz")
    back = load_recording(tmp_path / "back.npz")
    assert torch.equal(back.condition, rec.condition)
    assert back.condition_labels == rec.condition_labels
    with h5py.File(tmp_path / "r.h5", "w") as f:  # HDF5 stores strings as bytes
        f["data"] = data
        f["condition"] = np.array([s.encode() for s in labels])
    h5 = load_recording(tmp_path / "r.h5")
    assert torch.equal(h5.condition, rec.condition) and h5.condition_labels == rec.condition_labels
    # given labels fix the codes
    fixed = Recording(data=data, condition=labels, condition_labels=["up", "right", "left"])
    assert fixed.condition.tolist() == [2, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("kw, match", [
    (dict(condition=list("abcdef"), condition_labels=["a", "b"]),
     r"labels \['c', 'd', 'e', 'f'\] are not in condition_labels"),
    (dict(condition=[0, 1, 2, 0, 1, 2], condition_labels=["a", "b"]),
     "2 labels for codes up to 2"),
    (dict(condition=list("aabbcc"), condition_labels=["a", "a", "b"]), "distinct labels"),
    (dict(times=["a"] * 5), r"Recording.times: expected numbers, got an array of strings"),
    (dict(condition=[[0, 1], [1]]), "expected one code or label per trial"),
])
def test_bad_labels_and_strings_elsewhere_say_what_is_expected(kw, match):
    with pytest.raises(ValueError, match=match):
        Recording(data=torch.zeros(5, 6, 3), **kw)


def _session(T, K, n, *, sorted_neurons=False, seed=0):
    """Rates of n neurons mixing 5 latents that are smooth in time (Gaussian σ = 3 bins) and
    vary from trial to trial, plus private noise: what a binned, smoothed session looks like."""
    rng = np.random.default_rng(seed)
    latents = (gaussian_smooth(rng.standard_normal((T, K, 5)), 3.0, axis=0) * 3.2).astype(
        np.float32)
    loadings = rng.standard_normal((5, n), dtype=np.float32)
    if sorted_neurons:  # neighbours by depth share inputs: adjacent loadings correlate ~0.8
        loadings = (gaussian_smooth(loadings.T, 2.0, axis=0).T * 2).astype(np.float32)
    return latents @ loadings + 0.5 * rng.standard_normal((T, K, n), dtype=np.float32)


# Sizes beyond ~50 trials only cost memory here: the check reads at most 16 trials.
@pytest.mark.parametrize("shape", [(40, 60, 300), (100, 48, 1500), (20, 2000, 50),
                                   (250, 16, 3000), (5, 60, 300)])
def test_ordinary_sessions_do_not_look_swapped(shape):
    """[T, K, n] of Neuropixels-sized sessions (n up to thousands, T tens to hundreds of bins, K
    tens to thousands of trials) as rates, depth-sorted rates, noise and spike counts."""
    T, K, n = shape
    rng = np.random.default_rng(1)
    rates = _session(T, K, n)
    cases = {"rates": rates, "noise": rng.standard_normal(shape, dtype=np.float32),
             "counts": rng.poisson(np.exp(rates / 6) * 0.3)}
    if n <= 1500:
        cases["sorted"] = _session(T, K, n, sorted_neurons=True)
    for name, data in cases.items():
        assert suspect_layout(Recording(data=torch.as_tensor(data))) is None, name


def test_a_neuron_trial_time_array_is_caught():
    for data in (_session(40, 60, 300), gaussian_smooth(
            np.random.default_rng(2).poisson(2.0, (40, 60, 300)).astype(float), 2.0, axis=0)):
        swapped = np.ascontiguousarray(data.transpose(2, 1, 0))  # [neuron, trial, time]
        warning = suspect_layout(Recording(data=torch.as_tensor(swapped)))
        assert warning is not None and "transpose(2, 1, 0)" in warning
        assert "smooth across the 40 neurons" in warning
    short = suspect_layout(Recording(data=torch.zeros(3, 60, 300)))
    assert short is not None and "only 3 time bins" in short
