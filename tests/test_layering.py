"""The package's floors: a module imports only from its own package or from lower floors
(checked on the source's AST, lazy imports included), so no two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnrank

SRC = Path(rnnrank.__file__).parent

# Lowest first. A run directory's readers live in ``store`` (above the models and tasks they
# rebuild); every page and figure of a run in ``report``; the command line on top.
FLOORS = (
    {"_version", "registry", "ensemble", "nonlinearities", "stats"},
    {"tasks", "models"},
    {"losses", "store"},
    {"analysis", "dynamics", "fitting"},
    {"learning"},
    {"report"},
    {"sweep"},
    {"experiments"},
    {"__init__"},
    {"cli", "__main__"},
)
FLOOR = {unit: i for i, units in enumerate(FLOORS) for unit in units}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved), lazy ones too."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            if node.module is None:  # ``from .. import analysis``: the subpackages themselves
                names.update(".".join([*base, alias.name]) for alias in node.names)
            else:
                names.add(".".join([*base, *node.module.split(".")]))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_module_has_a_floor():
    units = {_unit(p) for p in SRC.rglob("*.py")}
    assert units <= set(FLOOR), f"give {sorted(units - set(FLOOR))} a floor in FLOORS"


def test_imports_go_down_the_floors_only():
    bad = []
    for path in SRC.rglob("*.py"):
        unit = _unit(path)
        for module in _imports(path):
            if module != "rnnrank" and not module.startswith("rnnrank."):
                continue
            target = module.split(".")[1] if "." in module else "__init__"
            if target != unit and FLOOR.get(target, -1) >= FLOOR[unit]:
                bad.append(f"{path.relative_to(SRC)} ({unit}) imports {module} ({target})")
    assert not bad, "\n".join(sorted(bad))


def test_analysis_does_not_depend_on_training():
    for path in (SRC / "analysis").glob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("rnnrank.learning")}
        assert not bad, f"{path.name} imports {bad}"


def test_experiment_modules_do_not_import_each_other_in_a_cycle():
    exp = {".".join(p.relative_to(SRC / "experiments").with_suffix("").parts):
           {m.removeprefix("rnnrank.experiments.") for m in _imports(p)
            if m.startswith("rnnrank.experiments.")}
           for p in (SRC / "experiments").rglob("*.py")}
    for name, deps in exp.items():
        for dep in deps:
            assert name not in exp.get(dep, set()), f"{name} and {dep} import each other"


def test_no_two_modules_import_each_other():
    """Within a package too (lazy imports included): a circle means one concept split in two."""
    deps = {}
    for path in SRC.rglob("*.py"):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        deps[module.removesuffix(".__init__")] = {m for m in _imports(path)
                                                  if m.startswith("rnnrank.")}
    circles = sorted({tuple(sorted((a, b))) for a, ds in deps.items() for b in ds
                      if b != a and a in deps.get(b, set()) and not a.startswith(b + ".")
                      and not b.startswith(a + ".")})
    assert not circles, circles
