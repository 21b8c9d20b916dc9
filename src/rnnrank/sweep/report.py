"""``sweep_report``: results of a sweep against its swept variables, seeds as error bars."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..store.atomic import read_json, write_json_atomic
from .collect import collect

METRICS = ("final_loss", "final_score", "delta_norm", "effective_rank", "lambda_max")
LABELS = {"final_loss": "final training loss", "final_score": "final task score",
          "delta_norm": "‖ΔW‖_F = ‖W(K) − W(0)‖", "effective_rank": "participation ratio of ΔW",
          "lambda_max": "λ_max (per τ)", "gain": "initial gain g", "lr": "learning rate",
          "n_rec": "network size N", "seed": "seed"}
LOG_METRICS = ("final_loss",)  # spans decades: a log axis, where mean ± s.e. stays positive


def swept_variables(path: str | Path) -> list[str]:
    """Options the sweep varied (over its grid and runs list), seed excluded."""
    plan = read_json(Path(path) / "plan.json")
    keys: dict[str, set] = {}
    for run in plan["runs"]:
        for k, v in run["overrides"].items():
            keys.setdefault(k, set()).add(repr(v))
    return [k for k, values in keys.items() if len(values) > 1 and k != "seed"]


def sweep_report(path: str | Path, out: str | Path | None = None) -> dict:
    """Write ``<out>/sweep.png`` (one panel per metric × swept variable; mean ± standard error
    over the runs that differ only in seed, one line per combination of the other swept
    variables) and ``table.csv``.

    Returns ``{"figure", "caption", "table", "runs", "completed", "variables", "metrics"}``.
    """
    from ..report._mpl import new_figure

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
    fig, axes = new_figure((4.2 * len(variables), 2.9 * len(metrics)), len(metrics),
                           len(variables), squeeze=False)
    for j, var in enumerate(variables):
        others = [v for v in variables if v != var]
        groups = done.groupby(others, dropna=False) if others else [((), done)]
        for key, sub in groups:
            label = ", ".join(f"{o}={k}" for o, k in zip(others, _tuple(key), strict=True))
            stats = sub.groupby(var)[metrics].agg(["mean", "sem", "count"])
            for i, metric in enumerate(metrics):
                ax = axes[i][j]
                mean = stats[(metric, "mean")]
                err = stats[(metric, "sem")].fillna(0.0)
                if metric in LOG_METRICS and (mean > 0).all():
                    ax.set_yscale("log")  # asymmetric bars: never below zero on a log axis
                    err = [mean - (mean - err).clip(lower=mean * 1e-3), err]
                ax.errorbar(stats.index, mean, yerr=err, marker="o", capsize=3,
                            label=label or None)
                ax.set_xlabel(LABELS.get(var, var))
                ax.set_ylabel(LABELS.get(metric, metric))
        if others:
            axes[0][j].legend(fontsize=7)
    n_seeds = done.groupby(variables).size()
    summary["caption"] = (
        f"Each point: mean over the runs that differ only in seed ({n_seeds.min()}–"
        f"{n_seeds.max()} per point); bars: standard error (none with one run). "
        f"{len(done)} of {len(table)} runs completed.")
    fig.suptitle(textwrap.fill(summary["caption"], width=int(16 * 4.2 * len(variables))),
                 fontsize=8)
    fig.savefig(out / "sweep.png", dpi=120)
    summary["figure"] = str(out / "sweep.png")
    write_json_atomic(out / "summary.json", summary)
    return summary


def _tuple(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)
