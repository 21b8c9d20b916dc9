"""docs/api/fitting.md's example runs as written (issue 34.3: one example per API page)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_fitting_api_example_runs():
    page = (ROOT / "docs" / "api" / "fitting.md").read_text()
    code = re.findall(r"```python\n(.*?)```", page, flags=re.S)[0]
    script = "import torch\ntorch.set_num_threads(1)\n" + code
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], check=True, cwd=ROOT,
                          capture_output=True, text=True)
    assert "scaled" in done.stdout
    assert "None no rank explains held-out data better than its mean" in done.stdout
