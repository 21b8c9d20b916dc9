"""The neurogym adapter, on a fake env (conftest) and, when installed, on neurogym itself."""

import subprocess
import sys

import pytest
import torch

import rnnrank.tasks as tasks


def test_trials_are_padded_with_mask_zero(fake_env_factory):
    task = tasks.make("neurogym", env=fake_env_factory(dt=20.0))
    assert (task.n_in, task.n_out) == (3, 3)
    batch = task.sample(16, generator=torch.Generator().manual_seed(0))
    lengths, labels = batch.info["length"], batch.info["gt"]
    assert batch.n_steps == int(lengths.max()) and int(lengths.min()) < batch.n_steps
    for b in range(16):
        n = int(lengths[b])
        assert bool((batch.mask[:n, b] == 1).all()) and bool((batch.mask[n:, b] == 0).all())
        assert bool((batch.inputs[n:, b] == 0).all()) and bool((batch.targets[n:, b] == 0).all())
        assert torch.equal(batch.targets[:n, b].argmax(-1), labels[b, :n])
        assert torch.equal(batch.targets[:n, b].sum(-1), torch.ones(n))


def test_mask_period_restricts_the_mask(fake_env_factory):
    task = tasks.make("neurogym", env=fake_env_factory(dt=20.0), mask_period="decision")
    batch = task.sample(8, generator=torch.Generator().manual_seed(1))
    labels = batch.info["gt"].T  # [T, B]; fixation is label 0, decision labels 1 or 2
    assert torch.equal(batch.mask[..., 0].bool(), labels > 0)
    with pytest.raises(ValueError, match="not a period"):
        tasks.make("neurogym", env=fake_env_factory(dt=20.0), mask_period="nope").sample(2)


def test_dt_mismatch_is_refused(fake_env_factory):
    with pytest.raises(ValueError, match="dt"):
        tasks.make("neurogym", env=fake_env_factory(dt=100.0))  # 0.2 · 100 ms = 20 ms expected
    assert tasks.make("neurogym", env=fake_env_factory(dt=100.0), dt=1.0).dt_ms == 100.0


def test_missing_neurogym_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "neurogym", None)  # makes `import neurogym` fail
    task = tasks.make("neurogym", env="PerceptualDecisionMaking-v0")
    with pytest.raises(ImportError, match=r"pip install 'rnnrank\[neurogym\]'"):
        task.sample(2)


def test_importing_rnnrank_does_not_import_neurogym():
    code = "import sys, rnnrank.tasks; assert 'neurogym' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_real_neurogym_env():
    pytest.importorskip("neurogym")
    task = tasks.make("neurogym", env="PerceptualDecisionMaking-v0", dt=1.0)
    batch = task.sample(4, generator=torch.Generator().manual_seed(0))
    assert batch.inputs.shape[1:] == (4, task.n_in)
    assert task.score(task.ideal_outputs(batch), batch).item() == 1.0
