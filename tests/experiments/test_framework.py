"""The reproduction framework: verdict types, the driver, the registry and the CLI's rendering.

A planted reproduction (registered under a name starting with "_", which the CLI's public lists
skip) has claims whose verdicts are known; the driver and the CLI must carry them unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rnnrank.cli import main
from rnnrank.experiments import REPRODUCTIONS, Claim, Verdict, reproduce
from rnnrank.experiments.framework import Outcome, combine, measured, verdict_table


@dataclass(frozen=True)
class _Setup:
    size: int = 3
    label: str = "paper"


@REPRODUCTIONS.register("_planted")
class _Planted:
    title = "planted"
    supports_full = False

    def paper(self):
        return _Setup()

    def quick(self):
        return _Setup(size=1, label="quick")

    def run(self, out, setup, *, progress=False, full=False, scale=1.0):
        return Outcome({"values": [scale * setup.size] * 3, "network_count": setup.size},
                       {"live": object()})

    def claims(self, results):
        v = results["values"]
        return [Claim("a", "effect a", "reproduced", "≈ 3", **measured(v[0], 0.1, 3)),
                Claim("b", "effect b | with a pipe", Verdict.NOT, "> 0", "−1 ± 0.2",
                      reason="opposite"),
                Claim("c", "effect c", "inconclusive", "≈ 1", "1 ± 5")]

    def report(self, results, out, *, live):
        assert live is not None  # the live context reaches the report
        path = Path(out) / "index.md"
        path.write_text("\n".join(verdict_table(Claim.from_dict(c)
                                                for c in results["claim_verdicts"])))
        return path


def test_combine_follows_its_rule():
    R, N, I = "reproduced", "not reproduced", "inconclusive"
    assert combine([]) is Verdict.INCONCLUSIVE
    assert combine([R, R]) is Verdict.REPRODUCED
    assert combine([R, I]) is Verdict.PARTLY and combine([R, N]) is Verdict.PARTLY
    assert combine([N, I]) is Verdict.NOT and combine([I, I]) is Verdict.INCONCLUSIVE
    with pytest.raises(ValueError):
        combine(["maybe"])


def test_claims_round_trip_and_refuse_an_unknown_verdict():
    c = Claim("k", "text", "reproduced", "1", **measured(1.2345, 0.01, 4))
    assert c.verdict is Verdict.REPRODUCED and c.ours == "1.23 ± 0.01 (n = 4)"
    assert Claim.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError):
        Claim("k", "t", "sort of", "1", "2")


def test_driver_writes_results_and_report_and_returns_every_claim(tmp_path):
    res = reproduce("_planted", tmp_path, quick=True, scale=2.0)
    assert res.networks == 1 and res.report == tmp_path / "index.md"
    assert [c.verdict for c in res.claims] == [Verdict.REPRODUCED, Verdict.NOT,
                                               Verdict.INCONCLUSIVE]
    assert res.claims[0].statistic == 2.0  # quick(): size 1, × scale 2
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [c["verdict"] for c in saved["claim_verdicts"]] == ["reproduced", "not reproduced",
                                                               "inconclusive"]
    assert saved["seconds"] == res.seconds >= 0
    page = (tmp_path / "index.md").read_text().splitlines()
    assert len(page) == 2 + 3 and all(line.count("|") == 6 for line in page)  # pipe escaped
    assert res.counts() == {"reproduced": 1, "not reproduced": 1, "inconclusive": 1}
    with pytest.raises(ValueError, match="no --full"):
        reproduce("_planted", tmp_path, full=True)
    with pytest.raises(ValueError, match="unknown paper"):
        reproduce("nobody2099", tmp_path)


def test_cli_prints_the_verdict_of_every_claim_the_same_way(tmp_path, capsys):
    assert main(["reproduce", "_planted", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(c["claim"], c["verdict"]) for c in summary["claims"]] == [
        ("a", "reproduced"), ("b", "not reproduced"), ("c", "inconclusive")]
    assert summary["networks"] == 3 and summary["verdict_counts"]["reproduced"] == 1
    assert main(["reproduce", "_planted", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for verdict in ("reproduced", "not reproduced", "inconclusive"):
        assert verdict in text
    assert "effect a" in text and "1 not reproduced" in text
    assert main(["reproduce", "_planted", "--full", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("name", ["schuessler2020", "pellegrino2023", "liu2024"])
def test_every_paper_implements_the_protocol(name):
    rep = REPRODUCTIONS.get(name)()
    paper, quick = rep.paper(), rep.quick()
    assert paper != quick and quick.label == "quick" and paper.label == "paper"
    for method in ("run", "claims", "report"):
        assert callable(getattr(rep, method))
    assert isinstance(rep.supports_full, bool) and rep.title


def test_publish_copies_the_page_and_its_figures_with_links_rewritten(tmp_path):
    from rnnrank.experiments.framework import publish

    run = tmp_path / "run"
    run.mkdir()
    (run / "a.png").write_bytes(b"\x89PNG fake")
    (run / "index.md").write_text("# Title\n\ntext\n\n![first figure](a.png)\n")
    page = publish(run, tmp_path / "docs" / "paper.md", header=["Command: `x`"])
    text = page.read_text()
    assert text.startswith("# Title\n\nCommand: `x`\n")
    assert "![first figure](paper/a.png)" in text
    assert (tmp_path / "docs" / "paper" / "a.png").read_bytes() == b"\x89PNG fake"


def test_verdict_markdown_keeps_four_columns_and_lists_the_reasons(tmp_path):
    from rnnrank.experiments.framework import verdict_markdown

    res = reproduce("_planted", tmp_path)
    lines = verdict_markdown(res.claims)
    table = [x for x in lines if x.startswith("|")]
    assert len(table) == 2 + 3 and all(x.count("|") == 5 for x in table)
    assert "- **effect b | with a pipe** — opposite" in lines
