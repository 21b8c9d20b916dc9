"""The package's layers: lower packages never import higher ones (checked on the source's AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnrank

SRC = Path(rnnrank.__file__).parent


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved), lazy ones too."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            names.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_analysis_does_not_depend_on_training():
    for path in (SRC / "analysis").glob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("rnnrank.learning")}
        assert not bad, f"{path.name} imports {bad}"


def test_experiment_modules_do_not_import_each_other_in_a_cycle():
    exp = {p.stem: {m.split(".")[-1] for m in _imports(p) if m.startswith("rnnrank.experiments.")}
           for p in (SRC / "experiments").glob("*.py")}
    for name, deps in exp.items():
        for dep in deps:
            assert name not in exp.get(dep, set()), f"{name} and {dep} import each other"
