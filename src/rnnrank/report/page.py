"""Write a run's report: PNG figures plus a Markdown page and an HTML page that show them."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.matrix_rank import participation_ratio, singular_values
from ..store.atomic import read_yaml, write_text_atomic
from ..store.run_dir import RunDir
from ..store.trajectory import load_trajectory
from ..tasks.base import TASKS
from . import figures


def run_summary(run_path: str | Path) -> dict:
    """Numbers a reader wants first: final loss/score, ‖ΔW‖, its leading singular values."""
    traj = load_trajectory(run_path)
    s = singular_values(traj.delta())
    s = s if s.ndim == 1 else s[0]
    energy = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-300)
    return {
        "snapshots": len(traj),
        "updates": int(traj.steps[-1]) if len(traj) else 0,
        "initial_loss": float(np.atleast_1d(traj.loss[0])[0]),
        "final_loss": float(np.atleast_1d(traj.loss[-1])[0]),
        "final_score": float(np.atleast_1d(traj.score[-1])[0]),
        "delta_norm": float(np.sqrt(np.sum(s**2))),
        "w0_norm": float(np.linalg.norm(np.asarray(traj.weights[0], dtype=np.float64))),
        "top_singular_values": [float(v) for v in s[:5]],
        "participation_ratio": float(participation_ratio(s)),
        "rank_for_90pct": int(np.searchsorted(energy, 0.9) + 1),
    }


def write_report(run_path: str | Path, out: str | Path | None = None) -> Path:
    """Figures and ``index.md``/``index.html`` in ``out`` (default ``<run>/report``)."""
    run_path = Path(run_path)
    out = Path(out) if out is not None else run_path / "report"
    out.mkdir(parents=True, exist_ok=True)
    traj = load_trajectory(run_path)
    config = read_yaml(run_path / "config.yaml")
    metrics = RunDir(run_path).read_metrics()
    name = config["task"]["name"]
    score_name = TASKS.get(name).score_name if name in TASKS else "score"
    made = {
        "loss.png": figures.loss_curve(traj, metrics, score_name=score_name.replace("_", " ")),
        "singular_values.png": figures.delta_spectrum(traj),
        "delta_norm.png": figures.delta_norm_curve(traj),
    }
    fields = RunDir(run_path).metric_fields()
    if "cos_all" in fields:  # trained with track_alignment=True
        made["alignment.png"] = figures.alignment_curve(metrics, fields)
    for name, fig in made.items():
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
    summary = run_summary(run_path)
    m, t = config["model"], config["task"]
    title = f"rnnrank run — {t['name']}, N = {m.get('n_rec')}, g = {m.get('gains')}"
    table = [
        ("updates", f"{summary['updates']}"),
        ("loss: initial → final", f"{summary['initial_loss']:.4g} → {summary['final_loss']:.4g}"),
        ("task score (final)", f"{summary['final_score']:.3f}"),
        ("‖ΔW‖_F (‖W0‖_F)", f"{summary['delta_norm']:.3g} ({summary['w0_norm']:.3g})"),
        ("leading singular values of ΔW",
         ", ".join(f"{v:.3g}" for v in summary["top_singular_values"])),
        ("participation ratio of ΔW", f"{summary['participation_ratio']:.2f}"),
        ("singular values for 90% of ‖ΔW‖²", f"{summary['rank_for_90pct']}"),
    ]
    lines = [f"# {title}", "", f"Run directory: `{run_path}`", "", "| quantity | value |",
             "|---|---|", *(f"| {k} | {v} |" for k, v in table), "",
             "![loss](loss.png)", "",
             "![singular values of ΔW](singular_values.png) ![‖ΔW(k)‖](delta_norm.png)", "",
             *(["![gradient alignment](alignment.png)", ""] if "alignment.png" in made else [])]
    write_text_atomic(out / "index.md", "\n".join(lines))
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for k, v in table)
    imgs = "".join(f'<img src="{n}" alt="{n}" style="max-width:48%">' for n in made)
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<body style='font-family:sans-serif;max-width:1100px'><h1>{html.escape(title)}</h1>"
            f"<p>Run directory: <code>{html.escape(str(run_path))}</code></p>"
            f"<table border=1 cellpadding=4 style='border-collapse:collapse'>{rows}</table>"
            f"<p>{imgs}</p></body>")
    write_text_atomic(out / "index.html", page)
    return out
