"""Importing rnnrank must not load pyplot nor choose a matplotlib backend (a notebook user's
backend stays theirs); figures are still drawn, headless, through ``report._mpl``."""

from __future__ import annotations

import os
import subprocess
import sys

MODULES = ("rnnrank", "rnnrank.report", "rnnrank.report.figures", "rnnrank.analysis",
           "rnnrank.report.run_matrix_rank", "rnnrank.report.run_tensor_rank",
           "rnnrank.experiments.schuessler2020.report", "rnnrank.cli")

SCRIPT = f"""
import importlib, sys
import matplotlib
raw = lambda: dict.__getitem__(matplotlib.rcParams, "backend")  # read without resolving it
before = raw()
for name in {MODULES!r}:
    importlib.import_module(name)
assert "matplotlib.pyplot" not in sys.modules, "importing rnnrank loaded pyplot"
assert raw() is before or raw() == before, f"backend changed: {{before!r}} -> {{raw()!r}}"
from rnnrank.report._mpl import new_figure, png_bytes
fig, ax = new_figure((2, 2))
ax.plot([0, 1], [1, 0])
assert png_bytes(fig, dpi=20)[:4] == b"\\x89PNG"
assert "matplotlib.pyplot" not in sys.modules, "drawing a figure loaded pyplot"
assert raw() is before or raw() == before, f"backend changed: {{before!r}} -> {{raw()!r}}"
print(matplotlib.get_backend())
"""


def test_import_keeps_the_users_backend():
    # svg is a non-interactive backend other than Agg: a matplotlib.use("Agg") at import
    # would turn it into "agg". One subprocess (~2 s: it imports torch) checks every module.
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "svg"
