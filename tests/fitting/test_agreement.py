"""Fits of a planted learning teacher agree across seeds; fits of noise do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnrank.fitting import Recording, fit_ltr, ltr_teacher
from rnnrank.fitting.agreement import match_factors, seed_agreement


def test_match_factors_undoes_a_permutation_and_sign():
    g = np.random.default_rng(0)
    c = g.standard_normal((40, 3))
    other = np.c_[-c[:, 2], c[:, 0], 2 * c[:, 1]]  # permuted, one sign flipped, one scaled
    m, r = match_factors(c, other)
    np.testing.assert_allclose(r, 1.0, atol=1e-12)
    np.testing.assert_allclose(m[:, 0], c[:, 0])
    np.testing.assert_allclose(m[:, 2], c[:, 2])  # -(-c2) = c2
    np.testing.assert_allclose(m[:, 1], 2 * c[:, 1])


@pytest.mark.slow  # ~20 s: 6 fits
def test_seeds_agree_on_a_teacher_and_not_on_noise():
    rec, _ = ltr_teacher(T=10, K=40, n=12, N=12, rank=1, noise=0.02, seed=1)
    teacher = [fit_ltr(rec, 1, n_rec=12, seed=s, max_iter=300) for s in range(3)]
    g = torch.Generator().manual_seed(0)
    noise = Recording(data=torch.randn(rec.shape, generator=g), condition=rec.condition)
    noisy = [fit_ltr(noise, 1, n_rec=12, seed=s, max_iter=300) for s in range(3)]
    on_teacher, on_noise = seed_agreement(teacher)["mean"], seed_agreement(noisy)["mean"]
    assert on_teacher > 0.9 and on_noise < 0.6, (on_teacher, on_noise)


def test_rnnrank_fit_compares_seeds_and_warns_on_noise(tmp_path, capsys):
    import json

    from rnnrank.cli import main

    g = np.random.default_rng(0)
    np.savez(tmp_path / "noise.npz", data=g.standard_normal((10, 40, 12)),
             condition=np.arange(40) % 4)
    assert main(["fit", str(tmp_path / "noise.npz"), "--rank", "1", "--n-rec", "12",
                 "--max-iter", "300", "--out", str(tmp_path / "fit"), "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["seeds"] == 3 and summary["seed_agreement"]["mean_abs_corr"] < 0.5
    assert "differ between seeds" in out.err
    assert (tmp_path / "fit" / "fit.png").exists()
