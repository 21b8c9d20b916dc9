"""What every reproduction shares: a verdict per claim, the ``Reproduction`` protocol, one driver.

A paper's reproduction is a subpackage (``setup``, ``run``, ``claims``, ``report``) that
registers one ``Reproduction``:

- ``paper()`` / ``quick()``: its setup (a frozen dataclass naming each value with its source);
- ``run(out, setup, *, progress, full, **options) -> Outcome``: train / fit / measure, resumable
  under ``out``; ``Outcome.results`` is JSON-ready, ``Outcome.context`` holds the live objects
  its report draws (fits, decompositions) that JSON cannot carry;
- ``claims(results) -> list[Claim]``: one verdict per claim from the results alone;
- ``report(results, out, **context) -> Path``: the page (``out/index.md`` and figures);
- ``supports_full``: whether ``run`` takes ``full=True`` (the paper's grid through ``rr.sweep``).

``reproduce(name, out, ...)`` is the one driver: it runs, decides the claims, writes
``results.json`` (with every claim under ``"claim_verdicts"``), writes the report and returns a
``ReproductionResult`` that the CLI renders the same way for every paper.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..registry import Registry
from .formatting import num, pm


class Verdict(StrEnum):
    """A claim's verdict. ``PARTLY`` only summarises several sub-verdicts that disagree."""

    REPRODUCED = "reproduced"
    NOT = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    PARTLY = "partly reproduced"


def combine(verdicts: Iterable[str]) -> Verdict:
    """One verdict for several (per task, per rule): all reproduced → reproduced; some not and
    none reproduced → not; some reproduced, not all → partly; else (none, or all undecided)
    inconclusive."""
    vs = [Verdict(v) for v in verdicts]
    if not vs:
        return Verdict.INCONCLUSIVE
    if all(v is Verdict.REPRODUCED for v in vs):
        return Verdict.REPRODUCED
    if Verdict.REPRODUCED in vs or Verdict.PARTLY in vs:
        return Verdict.PARTLY
    return Verdict.NOT if Verdict.NOT in vs else Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, decided.

    ``key``: stable identifier (``"iv_learning_score"``, ``"functional_rank · flipflop · g=0.9"``);
    ``text``: the claim in words; ``paper``: the paper's value or stated direction (with
    ``source`` where it was read); ``ours``: our statistic with its spread, formatted
    (``"0.31 ± 0.04"``); ``statistic`` / ``se`` / ``n``: the numbers behind ``ours`` where there
    is one; ``reason``: the rule applied and why it gave ``verdict``.
    """

    key: str
    text: str
    verdict: Verdict
    paper: str
    ours: str
    reason: str = ""
    source: str = ""
    statistic: float | None = None
    se: float | None = None
    n: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": str(self.verdict)}

    @classmethod
    def from_dict(cls, d: Mapping) -> Claim:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def measured(mean, se, n: int | None = None, spec: str = ".3g") -> dict:
    """``Claim`` keywords for a measured mean ± s.e. over ``n`` samples."""
    text = pm(mean, se, spec) + (f" (n = {n})" if n is not None else "")
    mean = None if mean is None or isinstance(mean, str) else float(mean)
    return {"ours": text, "statistic": mean, "se": None if se is None else float(se), "n": n}


@dataclass(frozen=True)
class Outcome:
    """What ``Reproduction.run`` returns: JSON-ready ``results`` and the live ``context`` that
    only the report needs (passed to ``report`` as keywords)."""

    results: dict
    context: dict = field(default_factory=dict)


class Reproduction(Protocol):
    """The protocol each paper's subpackage implements (module docstring)."""

    name: ClassVar[str]
    title: ClassVar[str]
    supports_full: ClassVar[bool]

    def paper(self) -> Any: ...

    def quick(self) -> Any: ...

    def run(self, out: Path, setup: Any, *, progress: bool = False, full: bool = False,
            **options) -> Outcome: ...

    def claims(self, results: dict) -> list[Claim]: ...

    def report(self, results: dict, out: Path, **context) -> Path: ...


class PaperModules:
    """The shared half of a ``Reproduction``: ``paper()``, ``quick()`` and ``claims()`` from the
    subpackage's ``setup`` and ``claims`` modules (class attributes ``setup_module``,
    ``claims_module``); a subclass writes ``run`` and ``report``."""

    setup_module: ClassVar[Any]
    claims_module: ClassVar[Any]

    def paper(self) -> Any:
        return self.setup_module.paper()

    def quick(self) -> Any:
        return self.setup_module.quick()

    def claims(self, results: dict) -> list[Claim]:
        return self.claims_module.decided(results)


REPRODUCTIONS: Registry[Reproduction] = Registry("paper")
"""Every registered reproduction by the name ``rnnrank reproduce NAME`` takes."""


@dataclass(frozen=True)
class ReproductionResult:
    """A finished reproduction: where its page is, how long it took, and every claim's verdict.

    ``networks``: networks trained (or read) for it; ``results``: the whole results.json."""

    paper: str
    out: Path
    report: Path
    seconds: float
    networks: int
    claims: tuple[Claim, ...]
    results: dict

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict."""
        out: dict[str, int] = {}
        for c in self.claims:
            out[str(c.verdict)] = out.get(str(c.verdict), 0) + 1
        return out

    def summary(self) -> dict:
        """JSON summary (what ``rnnrank reproduce --json`` prints)."""
        return {"paper": self.paper, "report": str(self.report), "seconds": self.seconds,
                "networks": self.networks, "verdict_counts": self.counts(),
                "claims": [{"claim": c.key, "paper": c.paper, "ours": c.ours,
                            "verdict": str(c.verdict)} for c in self.claims]}


def _json_default(x):
    if isinstance(x, Path):
        return str(x)
    return float(x)


def write_results(results: dict, out: Path) -> Path:
    """``out/results.json`` (indent 1; numpy scalars as floats)."""
    path = Path(out) / "results.json"
    path.write_text(json.dumps(results, indent=1, default=_json_default))
    return path


def reproduce(name: str, out: str | Path | None = None, *, quick: bool = False,
              full: bool = False, setup: Any = None, progress: bool = False,
              **options) -> ReproductionResult:
    """Run (or resume) the reproduction ``name`` under ``out`` (default ``runs/<name>``), decide
    its claims, write ``results.json`` and the report; ``setup`` overrides ``paper()`` /
    ``quick()``; ``options`` go to its ``run`` (e.g. ``backend=`` for a full Schuessler run)."""
    rep = REPRODUCTIONS.get(name)()
    if full and not rep.supports_full:
        with_full = [n for n in REPRODUCTIONS.names() if REPRODUCTIONS.get(n).supports_full]
        raise ValueError(f"{name} has no --full run; drop --full (papers with one: {with_full})")
    if full and quick:
        raise ValueError("--full runs the paper's setup; drop --quick")
    out = Path(out if out is not None else Path("runs") / name)
    out.mkdir(parents=True, exist_ok=True)
    setup = setup if setup is not None else (rep.quick() if quick else rep.paper())
    t0 = time.perf_counter()
    outcome = rep.run(out, setup, progress=progress, full=full, **options)
    results = outcome.results
    claims = tuple(rep.claims(results))
    results["claim_verdicts"] = [c.to_dict() for c in claims]
    results["seconds"] = round(time.perf_counter() - t0, 1)
    write_results(results, out)
    report = rep.report(results, out, **outcome.context)
    results["seconds"] = round(time.perf_counter() - t0, 1)  # the report's figures included
    write_results(results, out)
    return ReproductionResult(paper=name, out=out, report=Path(report),
                              seconds=results["seconds"],
                              networks=int(results.get("network_count", 0)), claims=claims,
                              results=results)


def verdict_table(claims: Iterable[Claim], *, reasons: bool = True) -> list[str]:
    """The Markdown verdict table every report opens with: claim, paper, ours ± s.e., verdict
    (and why). Cells are plain text that wraps, never a dump of a dict."""
    head = "| claim | paper | ours | verdict |" + (" why |" if reasons else "")
    lines = [head, "|---|---|---|---|" + ("---|" if reasons else "")]
    for c in claims:
        cells = [c.text or c.key, c.paper, c.ours, f"**{c.verdict}**"]
        if reasons:
            cells.append(c.reason)
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return lines


def verdict_markdown(claims: Iterable[Claim]) -> list[str]:
    """For narrow pages (a notebook's output): the verdict table without its "why" column,
    then each claim's reason as a bullet below it."""
    claims = list(claims)
    return [*verdict_table(claims, reasons=False), "",
            *(f"- **{c.text or c.key}** — {_cell(c.reason)}" for c in claims if c.reason)]


def _cell(x) -> str:
    return num(x).replace("|", "/").replace("\n", " ")


def publish(out: str | Path, page: str | Path, *, header: Iterable[str] = ()) -> Path:
    """Copy a finished reproduction's page (``out/index.md``) and the figures it shows to a
    results page of the site: ``page`` (``docs/reproductions/<paper>.md``) with its figures in
    the folder ``<page stem>/`` beside it (links rewritten), ``header`` lines first (the
    command, the machine, the wall time). The run directory itself need not be kept."""
    import re
    import shutil

    out, page = Path(out), Path(page)
    text = (out / "index.md").read_text()
    folder = page.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)

    def move(m):
        name = Path(m.group(2)).name
        shutil.copyfile(out / m.group(2), folder / name)
        return f"![{m.group(1)}]({folder.name}/{name})"

    body = re.sub(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)", move, text)
    lines = body.splitlines()
    head = list(header)
    if head:
        lines = lines[:1] + [""] + head + lines[1:]
    page.write_text("\n".join(lines) + "\n")
    return page
