"""``sweep_report``: results of a sweep against its swept variables, seeds as error bars."""

from __future__ import annotations

from pathlib import Path

from ..store.atomic import read_json, write_json_atomic
from .collect import collect

METRICS = ("final_loss", "final_score", "delta_norm", "effective_rank", "lambda_max")


def swept_variables(path: str | Path) -> list[str]:
    """Options the sweep varied (over its grid and runs list), seed excluded."""
    plan = read_json(Path(path) / "plan.json")
    keys: dict[str, set] = {}
    for run in plan["runs"]:
        for k, v in run["overrides"].items():
            keys.setdefault(k, set()).add(repr(v))
    return [k for k, values in keys.items() if len(values) > 1 and k != "seed"]


def sweep_report(path: str | Path, out: str | Path | None = None) -> dict:
    """Write ``<out>/sweep.png`` (one panel per metric × swept variable; mean ± std over seeds,
    one line per combination of the other swept variables) and ``table.csv``.

    Returns ``{"figure", "table", "runs", "completed", "variables", "metrics"}``.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    out = Path(out) if out is not None else path / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = collect(path)
    table.to_csv(out / "table.csv", index=False)
    done = table[table["status"] == "completed"]
    variables = swept_variables(path) or ["seed"]
    metrics = [m for m in METRICS if m in done and done[m].notna().any()]
    summary = {"figure": None, "table": str(out / "table.csv"), "runs": len(table),
               "completed": len(done), "variables": variables, "metrics": metrics}
    if not metrics or done.empty:
        write_json_atomic(out / "summary.json", summary)
        return summary
    fig, axes = plt.subplots(len(metrics), len(variables), squeeze=False,
                             figsize=(4 * len(variables), 2.8 * len(metrics)))
    for j, var in enumerate(variables):
        others = [v for v in variables if v != var]
        groups = done.groupby(others, dropna=False) if others else [((), done)]
        for key, sub in groups:
            label = ", ".join(f"{o}={k}" for o, k in zip(others, _tuple(key), strict=True))
            stats = sub.groupby(var)[metrics].agg(["mean", "std"])
            for i, metric in enumerate(metrics):
                ax = axes[i][j]
                ax.errorbar(stats.index, stats[(metric, "mean")],
                            yerr=stats[(metric, "std")].fillna(0.0), marker="o", capsize=3,
                            label=label or None)
                ax.set_xlabel(var)
                ax.set_ylabel(metric)
        if others:
            axes[0][j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=120)
    plt.close(fig)
    summary["figure"] = str(out / "sweep.png")
    write_json_atomic(out / "summary.json", summary)
    return summary


def _tuple(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)
