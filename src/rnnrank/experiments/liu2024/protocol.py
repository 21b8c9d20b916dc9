"""The pre-registered protocol of the Liu et al. (2024) reproduction, read back at report time.

``docs/reproductions/liu2024-protocol.md`` (``claims.PROTOCOL``) states the setup, the statistic
per claim and the verdict rules, and was committed before the decisive run (issue 33). This
module finds it, names the commit that last changed it (``git log -1 --format=%H -- FILE``;
without git or outside a checkout it says so instead of failing), reads its machine-readable
rule block — a fenced block opened by ```` ```liu2024-rules ```` whose lines are
``NAME = value`` — and lists every way the code and a run differ from it: a rule constant of
``claims.VERDICT_RULES`` that the block gives another value (or lacks), and a setup field of a
run that differs from ``setup.decisive()``.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import asdict
from pathlib import Path

from . import claims
from .setup import decisive

BLOCK = re.compile(r"^```liu2024-rules[ \t]*\n(.*?)^```", re.M | re.S)


def find(start: Path | None = None) -> Path | None:
    """The protocol file of the checkout this package lives in (or above ``start``), or None
    (an installed package without the repository's docs)."""
    here = Path(start or __file__).resolve()
    for parent in (here, *here.parents):
        path = parent / claims.PROTOCOL
        if path.is_file():
            return path
    return None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit(path: Path | None = None) -> dict:
    """``{"path", "commit", "modified"}`` of the protocol: the last commit that changed it (None
    without git, or when it was never committed) and whether the working copy differs from it
    (None when unknown)."""
    path = path or find()
    if path is None:
        return {"path": None, "commit": None, "modified": None}
    root = path.parents[len(Path(claims.PROTOCOL).parts) - 1]
    sha = _git(root, "log", "-1", "--format=%H", "--", claims.PROTOCOL) or None
    status = _git(root, "status", "--porcelain", "--", claims.PROTOCOL)
    return {"path": str(path), "commit": sha,
            "modified": None if status is None else bool(status)}


def rules(text: str) -> dict[str, float]:
    """The ``NAME = value`` lines of the protocol's rule block (empty when it has none)."""
    found = BLOCK.search(text)
    if found is None:
        return {}
    out = {}
    for line in found.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            name, value = (s.strip() for s in line.split("=", 1))
            out[name] = float(value)
    return out


def rule_differences(text: str, code: dict | None = None) -> list[str]:
    """Each rule constant on which the code (``claims.VERDICT_RULES``) and the protocol's rule
    block disagree, in words; empty when they agree."""
    code = dict(claims.VERDICT_RULES if code is None else code)
    written = rules(text)
    if not written:
        return [f"the protocol has no `liu2024-rules` block: rules not checked ({claims.PROTOCOL})"]
    out = []
    for name in sorted(set(code) | set(written)):
        a, b = code.get(name), written.get(name)
        if a is None or b is None or not math.isclose(float(a), b, rel_tol=1e-12):
            out.append(f"{name}: code {a}, protocol {b}")
    return out


def _plain(value):
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


SETUP_IGNORED = ("label", "leaves_out", "gains")  # names and derived values, not settings


def setup_differences(setup: dict) -> list[str]:
    """Each field of a run's setup (``results["setup"]``) that differs from ``decisive()``."""
    want = _plain(asdict(decisive()))
    out = []
    for name in sorted(set(want) | set(setup)):
        if name in SETUP_IGNORED:
            continue
        a, b = _plain(setup.get(name)), want.get(name)
        if a != b:
            out.append(f"{name} = {a!r} (protocol: {b!r})")
    return out


def check(results: dict) -> dict:
    """What the report says about the protocol: its commit now and at run time, whether the
    code's rules and the run's setup match it."""
    path = find()
    now = commit(path)
    text = path.read_text() if path is not None else ""
    return {**now, "commit_at_run": (results.get("protocol") or {}).get("commit"),
            "modified_at_run": (results.get("protocol") or {}).get("modified"),
            "rule_differences": rule_differences(text) if path is not None else
            [f"protocol file {claims.PROTOCOL} not found: rules not checked"],
            "setup_differences": setup_differences(results.get("setup", {}))}
