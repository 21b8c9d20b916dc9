"""The README's and the docs home page's figure are the quickstart's: the figure is the file the
record (docs/quickstart_truncation.json) was written with, each caption is the one the record's
numbers give, and no page names another functional rank. The quickstart takes ~40 s on 2 cores,
so the fast tests read the record; ``-m slow`` checks the record against a fresh quickstart.
Regenerate all three with ``python -m rnnrank.report.readme_figure``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnrank.report import readme_figure as rf
from rnnrank.store.atomic import read_yaml

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "regenerate with: python -m rnnrank.report.readme_figure"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((ROOT / rf.RECORD).read_text())


def test_the_figure_is_the_one_the_record_was_written_with(record):
    assert rf.sha256(ROOT / rf.FIGURE) == record["figure_sha256"], \
        f"{rf.FIGURE} is not the figure of {rf.RECORD}; {REGENERATE}"


@pytest.mark.parametrize("page", list(rf.PAGES))
def test_each_caption_is_written_from_the_record(record, page):
    text = (ROOT / page).read_text()
    assert rf.current_block(text) == rf.block(record, rf.PAGES[page]), \
        f"{page}'s figure block differs from what {rf.RECORD} gives; {REGENERATE}"
    # The numbers a reader takes from the caption, checked one by one against the record (so a
    # caption() that dropped them would fail too), at the precision the caption prints.
    task, trunc = record["report"]["task"], record["report"]["truncation"]
    assert record["summary"]["functional_rank"] == trunc["functional_rank"]
    shown = rf.current_block(text)
    for expected in (f"**Functional rank {trunc['functional_rank']}**",
                     f"{task['score_trained']:.3f} for the trained network",
                     f"{task['score_initial']:.3f} for the untrained one",
                     f"{trunc['score'][0]:.3f} with W0 alone",
                     "output sign matches the target",  # what the accuracy counts (flipflop.py)
                     f"{record['wall_seconds']:.0f} s on {record['machine']['cpu_cores']} CPU"):
        assert expected in shown, (page, expected)


@pytest.mark.parametrize("page", list(rf.PAGES))
def test_no_page_names_another_functional_rank(record, page):
    named = re.findall(r"functional rank\**:?\s+(\d+)", (ROOT / page).read_text(), flags=re.I)
    assert named and set(named) == {str(record["summary"]["functional_rank"])}, (page, named)


@pytest.mark.parametrize("page", list(rf.PAGES))
def test_the_quickstart_command_is_timed_as_the_record_says(record, page):
    line = next(li for li in (ROOT / page).read_text().splitlines()
                if "&& rnnrank quickstart" in li)
    assert f"~{record['wall_seconds']:.0f} s" in line, (line, "write the record's time there")


def test_a_page_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="no figure block: expected a line"):
        rf.current_block("# a page\n![figure](x.png)\n")


@pytest.mark.slow
def test_the_record_is_what_the_quickstart_gives_now(record, tmp_path):
    """A fresh ``rnnrank quickstart`` (~40 s) gives the record's configuration and, at the
    precision the caption prints, its numbers: the quickstart is seeded and deterministic on a
    CPU, so any difference means the code changed and the figure was not regenerated."""
    run = tmp_path / "qs"
    done = subprocess.run([sys.executable, "-c", "from rnnrank.cli import main; main()",
                           "quickstart", "--out", str(run), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    config = read_yaml(run / "config.yaml")
    assert {k: config[k] for k in ("model", "task", "train")} == \
        {k: record["config"][k] for k in ("model", "task", "train")}, REGENERATE
    now = json.loads((run / "report" / "report.json").read_text())["sections"]
    then = record["report"]
    assert now["truncation"]["functional_rank"] == then["truncation"]["functional_rank"], \
        REGENERATE
    for key in ("score_trained", "score_initial"):
        assert f"{now['task'][key]:.3f}" == f"{then['task'][key]:.3f}", (key, REGENERATE)
    assert f"{now['truncation']['score'][0]:.3f}" == f"{then['truncation']['score'][0]:.3f}"
    for key in ("loss_trained", "loss_initial"):
        assert f"{now['task'][key]:.3g}" == f"{then['task'][key]:.3g}", (key, REGENERATE)
    # What the quickstart prints: the test accuracy beside the untrained one, and its meaning.
    summary = json.loads(done.stdout)
    assert summary["test_accuracy"] == {"trained": now["task"]["score_trained"],
                                        "untrained": now["task"]["score_initial"]}
    assert "output sign matches the target" in summary["accuracy_is"]
