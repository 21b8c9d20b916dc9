"""The pre-registered protocol of the Liu et al. (2024) decisive run and the code agree: the
rule block of docs/reproductions/liu2024-protocol.md holds the constants ``claims`` applies,
``decisive()`` is the grid it describes, and the report flags whatever differs."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from rnnrank.experiments import liu2024 as liu
from rnnrank.experiments.liu2024 import claims, protocol
from rnnrank.experiments.liu2024.report import protocol_lines

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / claims.PROTOCOL).read_text()


def test_the_code_applies_exactly_the_protocols_rules():
    assert protocol.find() == ROOT / claims.PROTOCOL
    assert protocol.rules(TEXT) == {k: float(x) for k, x in claims.VERDICT_RULES.items()}
    assert protocol.rule_differences(TEXT) == []


def test_a_changed_or_missing_rule_is_flagged():
    changed = TEXT.replace("R_AGREE = 0.5", "R_AGREE = 0.3")
    assert protocol.rule_differences(changed) == ["R_AGREE: code 0.5, protocol 0.3"]
    dropped = TEXT.replace("PLATEAU_TOL = 0.05", "")
    assert protocol.rule_differences(dropped) == ["PLATEAU_TOL: code 0.05, protocol None"]
    assert "no `liu2024-rules` block" in protocol.rule_differences("# nothing")[0]


def test_decisive_is_the_grid_the_protocol_describes():
    s = liu.decisive()
    assert s.rules == ("bptt", "eprop", "rflo") and set(s.floss_rules) == set(s.rules)
    assert s.ini_gains == (0.25, 0.5, 1.0, 1.5, 2.0) and s.seeds == (0, 1, 2, 3, 4)
    assert {r: s.steps_for(r) for r in s.rules} == {"bptt": 500, "eprop": 1500, "rflo": 1500}
    assert s.extend == 1 and (s.floss_updates, s.floss_k, s.floss_lr) == (500, 20, 1e-3)
    task = liu.make_task("mante", s)
    assert task.sample(1).n_steps == 480  # the task's full trial length (48 τ at dt/τ 0.1)
    for phrase in ("BPTT 500, e-prop 1500, RFLO 1500", "0.25, 0.5, 1, 1.5, 2", "480 steps"):
        assert phrase in TEXT, phrase
    assert protocol.setup_differences(asdict(s)) == []
    ce = liu.decisive(lab_ce=True)
    assert liu.make_task("mante", ce).n_out == 3 and ce.floss_rules == ()
    diffs = protocol.setup_differences(asdict(ce))
    assert any(d.startswith("task_options") for d in diffs)


def test_the_protocol_commit_is_read_and_no_git_is_tolerated(tmp_path):
    info = protocol.commit()
    assert info["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    copy = tmp_path / claims.PROTOCOL
    copy.parent.mkdir(parents=True)
    copy.write_text(TEXT)
    assert protocol.find(tmp_path / "docs") == copy
    assert protocol.commit(copy)["commit"] is None  # not a git checkout (or no git at all)


def test_the_report_flags_a_run_that_is_not_the_protocols():
    s = replace(liu.quick(), label="quick")
    setup = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items()}
    lines = " ".join(protocol_lines({"setup": setup, "protocol": {"commit": "0" * 40,
                                                                   "modified": False}}))
    assert "not the pre-registered decisive grid" in lines and "steps = 100" in lines
    assert "When the run began the protocol stood at `" + "0" * 40 in lines
    assert "Every rule constant of the code equals the protocol's" in lines


@pytest.mark.skipif(subprocess.run(["git", "-C", str(ROOT), "rev-parse"],
                                   capture_output=True).returncode != 0, reason="no git checkout")
def test_the_report_accepts_a_run_begun_at_the_current_commit():
    info = protocol.commit()
    if info["commit"] is None or info["modified"]:
        pytest.skip("the protocol has uncommitted changes")
    setup = {k: (list(v) if isinstance(v, tuple) else v)
             for k, v in asdict(liu.decisive()).items()}
    lines = " ".join(protocol_lines({"setup": setup, "protocol": info}))
    assert "same commit of the protocol" in lines and "is the pre-registered" in lines
