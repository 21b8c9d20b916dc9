"""One run schema: a run set on the command line, stored in config.yaml, read back, and written
as a sweep's train: section is the same run — every field round-trips."""

from __future__ import annotations

import pytest

from rnnrank.cli import main
from rnnrank.learning.schema import RUN_OPTIONS, build_run, canonical, options_of_run, resolve
from rnnrank.sweep.spec import load_spec

# every option away from its default (flossing tiny, so the run stays fast)
OPTIONS = dict(
    task="sine", task_options={"duration": 6.0, "settle": 1.0}, n_rec=8, gain=0.7,
    nonlinearity="softplus", dt=0.5, tau=1.5, noise=0.05, init="orthogonal",
    trainable=["W", "U", "V"], rule="eprop", rule_options={"chunk": 7}, steps=3, lr=0.002,
    optimizer="sgd", batch_size=4, record_every=2, seed=5, checkpoint_every=2, grad_clip=0.5,
    track_alignment=True, lr_warmup=1, lr_schedule="cosine", best_window=3, restore_best=True,
    flossing=dict(k=2, pre=2, window=8, discard=2, warmup=3, target=0.0, steps=500, every=None,
                  times=2, lr=0.001, batch=1, inputs="task"),
    dtype="float64", device="auto")


def _argv(out) -> list[str]:
    o = OPTIONS
    argv = ["train", "--out", str(out), "--json", "--flossing"]
    for k, v in o["task_options"].items():
        argv += ["--task-option", f"{k}={v}"]
    for k, v in o["rule_options"].items():
        argv += ["--rule-option", f"{k}={v}"]
    for k, v in o["flossing"].items():
        argv += ["--flossing-option", f"{k}={'null' if v is None else v}"]
    for p in o["trainable"]:
        argv += ["--trainable", p]
    for k in ("task", "n_rec", "gain", "nonlinearity", "dt", "tau", "noise", "init", "rule",
              "steps", "lr", "optimizer", "batch_size", "record_every", "seed",
              "checkpoint_every", "grad_clip", "lr_warmup", "lr_schedule", "best_window",
              "dtype", "device"):
        argv += [f"--{k.replace('_', '-')}", str(o[k])]
    return argv + ["--track-alignment", "--restore-best"]


def test_every_option_is_changed_by_this_test():
    resolved = resolve(OPTIONS)
    same = [k for k in RUN_OPTIONS if resolved[k] == RUN_OPTIONS[k]]
    assert not same, f"give these a non-default value here: {same}"


def test_cli_config_yaml_and_sweep_spec_describe_one_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(out)) == 0
    capsys.readouterr()
    back = canonical(options_of_run(out))
    want = canonical(OPTIONS)
    back.pop("dtype"), want.pop("dtype")  # config.yaml records the model, not its dtype
    back.pop("device"), want.pop("device")
    assert back == want
    (run,) = load_spec({"train": OPTIONS}).expand()
    assert {k: v for k, v in canonical(run.options).items()
            if k not in ("dtype", "device")} == want
    model, task, config, hooks = build_run(run.options)
    assert config.track_alignment and config.restore_best and hooks[0].k == 2
    assert not model.b.requires_grad and model.config.nonlinearity == "softplus"


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['n_recc'\]"):
        resolve({"n_recc": 3})
