"""The documentation stays true: the API reference names every public re-export, and the how-to
code runs as written."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tasks", "models", "learning", "analysis", "dynamics", "fitting", "sweep", "store")


def _public_reexports(package: str) -> list[str]:
    """Names a package re-exports explicitly (``from .x import y as y``), as users see them."""
    tree = ast.parse((ROOT / "src" / "rnnrank" / package / "__init__.py").read_text())
    return [a.asname for node in tree.body if isinstance(node, ast.ImportFrom)
            for a in node.names if a.asname == a.name and not a.name.startswith("_")]


@pytest.mark.parametrize("package", PACKAGES)
def test_the_api_reference_documents_every_public_name(package):
    page = (ROOT / "docs" / "api" / f"{package}.md").read_text()
    documented = set(re.findall(rf"^::: rnnrank\.{package}\.(\w+)$", page, flags=re.M))
    missing = [n for n in _public_reexports(package) if n not in documented]
    assert not missing, f"add '::: rnnrank.{package}.NAME' to docs/api/{package}.md for {missing}"


def test_the_extension_howto_task_registers_and_trains():
    """docs/howto/extend.md's task, run as written, then trained by name for a few updates."""
    code = re.findall(r"```python\n(.*?)```", (ROOT / "docs/howto/extend.md").read_text(),
                      flags=re.S)[0]
    script = code + (
        "\nimport rnnrank as rr, torch\ntorch.set_num_threads(1)\n"
        "task = rr.tasks.make('hold')\n"
        "model = rr.RateRNN(task.n_in, 16, task.n_out, gain=0.9, seed=0)\n"
        "run = rr.train(model, task, steps=40, lr=3e-3, batch_size=8, record_every=20)\n"
        "assert run.status == 'completed' and run.final_loss[0] < run.trajectory.loss[0]\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT)
