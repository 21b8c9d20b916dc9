"""The README's and the docs home page's figure, regenerated from a real quickstart run.

``python -m rnnrank.report.readme_figure`` (from the repository root; 30–40 s on 2 CPU cores) runs
``rnnrank quickstart --json`` in a temporary directory, copies the report's ``truncation.png`` to
``docs/quickstart_truncation.png``, writes what the run reported beside it
(``docs/quickstart_truncation.json``: the quickstart's summary, its task and truncation numbers,
its ``config.yaml``, the wall time and machine, the figure's SHA-256) and rewrites the figure's
block in ``README.md`` and ``docs/index.md`` — the image and a caption written by ``caption``
from those numbers, between ``BEGIN`` and ``END`` (``--pages-only``: the blocks alone, from the
record as it is, after editing ``caption``). Nobody edits the numbers by hand:
``tests/test_readme.py`` checks the blocks and the figure against the record, and (``-m slow``)
the record against a fresh quickstart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..store.atomic import read_yaml

FIGURE = "docs/quickstart_truncation.png"
RECORD = "docs/quickstart_truncation.json"
PAGES = {"README.md": FIGURE, "docs/index.md": "quickstart_truncation.png"}  # page → image link
BEGIN = ("<!-- quickstart figure: written by `python -m rnnrank.report.readme_figure` from "
         "docs/quickstart_truncation.json; do not edit by hand -->")
END = "<!-- /quickstart figure -->"


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def caption(record: dict) -> str:
    """The figure's caption: what was run, on what, how long, and the numbers the figure shows
    (functional rank, accuracy trained / untrained / W0 alone, and the test losses)."""
    m, t, tr = (record["config"][k] for k in ("model", "task", "train"))
    task, trunc = record["report"]["task"], record["report"]["truncation"]
    fr, ranks = trunc["functional_rank"], trunc["ranks"]
    rank_text = ("no R up to the largest tried gets there" if fr is None else
                 f"the smallest R whose test loss ({trunc['loss'][ranks.index(fr)]:.3g}) is below "
                 f"5 % of the loss with W0 alone, R = 0 ({trunc['loss'][0]:.3g}; the red "
                 "dash-dotted line marks 5 % of it)")
    meaning = task["score_meaning"] or "the task's score."
    last = meaning.rfind(" (")
    if t.get("memory") != "last" and 'memory="last"' in meaning[last:]:  # flip-flop's aside on
        meaning = meaning[:last] + "."  # a variant the quickstart does not run
    return (f"`rnnrank quickstart` ({t.get('n_bits')}-bit {t['name']}, N = {m['n_rec']}, "
            f"g = {m['gains'][0]:g}, seed {m['seeds'][0]}, dt = {m['dt']:g}, noise σ = "
            f"{m['noise']:g}; {tr['steps']} updates of {tr['batch_size']} trials; "
            f"{record['wall_seconds']:.0f} s on {record['machine']['cpu_cores']} CPU cores): "
            f"test loss (left) and accuracy (right) on {task['test_trials']} fresh trials of the "
            "trained network with ΔW = W − W0 replaced by its best rank-R approximation "
            f"(trained U, V, b kept). **Functional rank {fr}**: {rank_text}. Accuracy is the "
            f"{meaning[:1].lower()}{meaning[1:]} It is {task['score_trained']:.3f} for the "
            f"trained network, {task['score_initial']:.3f} for the untrained one and "
            f"{trunc['score'][0]:.3f} with W0 alone, so read it beside those; the test loss "
            f"separates them by orders of magnitude ({task['loss_trained']:.3g} trained, "
            f"{task['loss_initial']:.3g} untrained).")


def block(record: dict, image: str) -> str:
    """The figure's block of a page: markers, the image linked as ``image``, the caption."""
    return "\n".join([BEGIN, f"![rnnrank quickstart: test loss and accuracy of W0 + rank-R "
                             f"truncation of ΔW]({image})", "", f"*{caption(record)}*", END])


def current_block(text: str) -> str:
    """The figure's block as a page holds it now (markers included)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the page has no figure block: expected a line {BEGIN!r} and, after "
                         f"it, {END!r}; put them where the figure goes")
    return text[start:end + len(END)]


def regenerate(root: str | Path = ".", *, keep: str | Path | None = None) -> dict:
    """Run the quickstart, copy its truncation figure, write the record and both pages' blocks
    under ``root`` (the repository root); return the record. ``keep``: run there instead of in
    a temporary directory (kept afterwards)."""
    root = Path(root)
    for page in PAGES:
        current_block((root / page).read_text())  # refuse before a 40 s run, not after it
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(keep) if keep is not None else Path(tmp) / "quickstart"
        command = [sys.executable, "-c", "from rnnrank.cli import main; main()", "quickstart",
                   "--out", str(run), "--json"]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"rnnrank quickstart exited {done.returncode}; nothing was "
                               f"written. Its stderr:\n{done.stderr}")
        summary = json.loads(done.stdout)
        numbers = json.loads((run / "report" / "report.json").read_text())["sections"]
        shutil.copyfile(run / "report" / "truncation.png", root / FIGURE)
        config = read_yaml(run / "config.yaml")
    record = {
        "command": "rnnrank quickstart --out RUN --json",
        "wall_seconds": round(wall, 1),
        "machine": {"cpu_cores": _cores(), "processor": _processor(),
                    "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "summary": {k: v for k, v in summary.items() if k not in ("run", "report")},
        "report": {k: numbers[k] for k in ("task", "truncation")},
        "config": config,
        "figure": Path(FIGURE).name,
        "figure_sha256": sha256(root / FIGURE),
    }
    (root / RECORD).write_text(json.dumps(record, indent=1, default=float) + "\n")
    write_pages(root, record)
    return record


def write_pages(root: str | Path, record: dict) -> None:
    """Rewrite the figure's block of each page from ``record`` (alone: after editing
    ``caption``, without re-running the quickstart)."""
    for page, image in PAGES.items():
        text = (Path(root) / page).read_text()
        (Path(root) / page).write_text(text.replace(current_block(text), block(record, image)))


def _cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnrank.report.readme_figure",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument("--keep", default=None, help="run the quickstart here and keep it")
    parser.add_argument("--pages-only", action="store_true",
                        help=f"rewrite the pages' blocks from the existing {RECORD} (after "
                        "editing caption()), without running the quickstart")
    args = parser.parse_args(argv)
    if args.pages_only:
        record = json.loads((Path(args.root) / RECORD).read_text())
        write_pages(args.root, record)
    else:
        record = regenerate(args.root, keep=args.keep)
    print(caption(record))


if __name__ == "__main__":
    main()
