"""Write a run's report: PNG figures, ``index.md`` beside them, a self-contained ``index.html``
(figures embedded as base64 data URIs, plain CSS, no script: it opens from disk without a
server) and ``report.json`` with every number shown.

The page tells the story of one run (Schuessler et al. 2020; Pellegrino et al. 2023): learning
curves, the trained network doing its task, performance vs rank-R truncation of ΔW, the spectrum
of ΔW and ‖ΔW(k)‖, and the CP factors of the ΔW(k) trajectory — each with a caption and its
numbers.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from ..analysis.matrix_rank import participation_ratio, singular_values
from ..store.atomic import read_yaml, write_text_atomic
from ..store.run_dir import RunDir
from ..store.trajectory import load_trajectory
from ..tasks.base import TASKS
from . import sections as sec
from ._mpl import png_bytes


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


def write_report(run_path: str | Path, out: str | Path | None = None, *,
                 member: int | None = None, batch_size: int = 128, n_trials: int = 3,
                 cp_ranks=range(1, 7), cp_restarts: int = 2, max_snapshots: int = 200,
                 seed: int = 0) -> Path:
    """Figures, ``index.md``, ``index.html`` and ``report.json`` in ``out`` (default
    ``<run>/report``); returns ``out``.

    Args:
        member: ensemble member shown (default 0; single networks: None or 0).
        batch_size: fresh test trials (drawn from ``seed``) for the task and truncation sections.
        n_trials: test trials drawn in the task figure.
        cp_ranks, cp_restarts: CP ranks tried and restarts per rank (``select_cp_rank``).
        max_snapshots: at most this many ΔW(k), evenly spaced, enter the CP decomposition.
    """
    from ..store.run_dir import rebuild

    run_path = Path(run_path)
    out = Path(out) if out is not None else run_path / "report"
    traj = load_trajectory(run_path)
    if len(traj) < 2:
        raise ValueError(f"{run_path} holds {len(traj)} snapshot(s); a report needs at least 2 "
                         "(train for at least record_every updates)")
    n_members = traj.weights.shape[1] if traj.ensemble else 1
    if member is not None and not 0 <= member < n_members:
        raise ValueError(f"member must be in 0..{n_members - 1} for this run of {n_members} "
                         f"network(s), got {member}")
    member = (member or 0) if traj.ensemble else None
    config = read_yaml(run_path / "config.yaml")
    m, t = config["model"], config["task"]
    name = t["name"]
    score_name = (TASKS.get(name).score_name if name in TASKS else "score").replace("_", " ")
    parts = [sec.timed(sec.learning, traj, RunDir(run_path).read_metrics(), score_name, member)]
    if m.get("class", "RateRNN") == "RateRNN":
        model, task = rebuild(run_path)
        parts += [sec.timed(sec.task_view, model, task, traj, member, batch_size=batch_size,
                            n_trials=n_trials, seed=seed),
                  sec.timed(sec.truncation, model, task, traj, member, batch_size=batch_size,
                            seed=seed)]
    else:
        parts.append(sec.Section("task", "The network doing the task and truncation of ΔW",
                                 f"Not drawn: these need a RateRNN run (this one is a "
                                 f"{m.get('class')})."))
    fields = RunDir(run_path).metric_fields()
    if "cos_all" in fields:  # trained with track_alignment=True
        parts.append(sec.timed(sec.alignment, RunDir(run_path).read_metrics(), fields, member))
    parts += [sec.timed(sec.spectrum, traj, member),
              sec.timed(sec.cp_factors, traj, member, ranks=list(cp_ranks),
                        n_restarts=cp_restarts, seed=seed, max_snapshots=max_snapshots)]
    out.mkdir(parents=True, exist_ok=True)
    images = {}
    for part in parts:
        for file, fig in part.figures.items():
            images[file] = png_bytes(fig)
            (out / file).write_bytes(images[file])
    gains = list(m.get("gains") or [])
    gain = gains[member or 0] if gains else None
    title = (f"rnnrank run — {name}, N = {m.get('n_rec')}, g = {_g(gain)}"
             + (f", member {member} of {n_members}" if traj.ensemble else ""))
    glance = _at_a_glance(parts, score_name) + run_settings(config, member)
    caution = training_caution(run_path, config, traj, member)
    opening = _opening(config, traj, parts, score_name, gain, learned=caution is None)
    write_text_atomic(out / "index.md",
                      _markdown(title, run_path, opening, glance, parts, caution))
    write_text_atomic(out / "index.html",
                      _html(title, run_path, opening, glance, parts, images, caution))
    numbers = {"run": str(run_path), "member": member, "title": title, "opening": opening,
               "caution": caution,
               "sections": {p.key: {**p.numbers, "seconds": p.seconds} for p in parts}}
    write_text_atomic(out / "report.json", json.dumps(numbers, indent=1, default=float))
    return out


def _g(value) -> str:
    return "?" if value is None else f"{float(value):g}"


CONVERGED = 0.05  # final / initial training loss (Schuessler et al. 2020's criterion)


def training_caution(run_path: Path, config: dict, traj, member: int | None) -> str | None:
    """What a reader must know before any conclusion: the run stopped before its last update
    (interrupted, diverged, still running), or the network did not learn (its final training
    loss is above ``CONVERGED`` of its first). None when it finished and learned."""
    status = RunDir(run_path).read_status().get("status", "unknown")
    planned = int(config.get("train", {}).get("steps") or 0)
    done = int(traj.steps[-1])
    loss = np.asarray(traj.loss, dtype=np.float64)
    loss = loss if loss.ndim == 1 else loss[:, member or 0]
    ratio = float(loss[-1] / loss[0]) if loss[0] > 0 else float("nan")
    out = []
    if status != "completed" or (planned and done < planned):
        out.append(f"this run stopped at update {done} of {planned} (status: {status}); "
                   "resume it with rnnrank train --out RUN before reading its rank")
    if not ratio < CONVERGED:
        out.append(f"the network had not learned the task: its last recorded training loss is "
                   f"{100 * ratio:.0f} % of its first (converged means below "
                   f"{100 * CONVERGED:g} %), so what follows describes a network that has not "
                   "learned, not the connectivity that learning produces")
    return "; ".join(out) or None


def _opening(config: dict, traj, parts, score_name: str, gain, *, learned: bool = True) -> str:
    """The page's first paragraph: what was trained, for how long, and what the headline
    numbers mean (functional rank and participation ratio of ΔW, against N)."""
    m, t, tr = config["model"], config["task"], config.get("train", {})
    n = {p.key: p.numbers for p in parts}
    N = m.get("n_rec")
    text = (f"A rate network of N = {N} {m.get('nonlinearity', 'tanh')} units, started from "
            f"random connectivity W0 of gain g = {_g(gain)}, was trained on the {t['name']} task "
            f"with {tr.get('rule', 'bptt')} ({tr.get('optimizer', 'adam')}, lr {tr.get('lr', '?')})"
            f" for {int(traj.steps[-1])} updates of {tr.get('batch_size', '?')} trials; its "
            f"weights W(k) were recorded {len(traj)} times.")
    if n.get("task"):
        tk = n["task"]
        text += (f" On {tk['test_trials']} fresh test trials its {score_name} is "
                 f"{tk['score_trained']:.3f} (untrained network: {tk['score_initial']:.3f}) and "
                 f"its test loss {tk['loss_trained']:.3g} (untrained: {tk['loss_initial']:.3g}).")
        if tk.get("score_meaning"):  # the task's own definition: what the number counts
            meaning = tk["score_meaning"]
            text += f" The {score_name} is the {meaning[:1].lower()}{meaning[1:]}"
    fr = (n.get("truncation") or {}).get("functional_rank")
    if n.get("truncation"):
        text += (f" Functional rank {fr} of {N} means that keeping only the {fr} largest "
                 "singular directions of the learned change ΔW = W − W0 (and W0 whole) brings the "
                 "loss below 5% of the loss without ΔW — learning changed the connectivity "
                 "along a few directions although all N² weights were free to move (Schuessler "
                 "et al. 2020)." if fr is not None else
                 f" No rank-R truncation of ΔW up to R = {max(n['truncation']['ranks'][:-1])} "
                 "reaches 5% of the loss without ΔW: "
                 + ("learning here is not low rank by that test." if learned else
                    "but the network had not learned, so this says nothing about the rank of "
                    "learning."))
    sp = n["spectrum"]
    text += (f" ‖ΔW‖ is {sp['delta_norm'] / max(sp['w0_norm'], 1e-300):.2f} of ‖W0‖, and "
             f"{sp['rank_for_90pct']} singular values carry 90% of its energy.")
    return text


def _at_a_glance(parts, score_name: str) -> list[tuple[str, str]]:
    n = {p.key: p.numbers for p in parts}
    rows = []
    if n.get("task"):
        rows.append((f"test {score_name}: trained (untrained)",
                     f"{n['task']['score_trained']:.3f} ({n['task']['score_initial']:.3f})"))
        rows.append(("test loss: trained (untrained)",
                     f"{n['task']['loss_trained']:.3g} ({n['task']['loss_initial']:.3g})"))
    if n.get("truncation"):
        fr = n["truncation"]["functional_rank"]
        rows.append(("functional rank of ΔW", "—" if fr is None else str(fr)))
    sp = n["spectrum"]
    rows.append(("‖ΔW‖_F / ‖W0‖_F", f"{sp['delta_norm'] / max(sp['w0_norm'], 1e-300):.3f}"))
    rows.append(("participation ratio of ΔW", f"{sp['participation_ratio']:.2f}"))
    cp = n["cp"]
    chosen = cp["ranks"].index(cp["chosen_rank"])
    sim = cp["similarity"][chosen]
    unsure = sim is not None and sim < cp["min_similarity"]
    rows.append(("CP rank of ΔW(k) (chosen)", str(cp["chosen_rank"]) + (
        f" (restarts disagree, similarity {sim:.2f}: not uniquely determined)" if unsure else "")))
    return rows


def run_settings(config: dict, member: int | None = None) -> list[tuple[str, str]]:
    """At-a-glance rows of the settings a number depends on, from the run's ``config.yaml``:
    the seeds (W0's draw; the trial and noise generators'), the Euler step dt against the time
    constant τ, and the private noise σ (per √(unit time); 0: deterministic)."""
    m, tr = config["model"], config.get("train", {})
    i = member or 0
    seeds = list(m.get("seeds") or [])
    member_seeds = tr.get("member_seeds")
    data_seed = member_seeds[i] if member_seeds else tr.get("seed")
    noise = float(m.get("noise", 0.0))
    return [("seed: W0 (trials and noise)",
             f"{seeds[i] if i < len(seeds) else '?'} ({'?' if data_seed is None else data_seed})"),
            ("time step dt (time constant τ)", f"{_g(m.get('dt'))} ({_g(m.get('tau', 1.0))})"),
            ("noise σ per √(unit time)",
             _g(noise) + (" (deterministic network)" if noise == 0 else ""))]


def _md_table(header, rows) -> list[str]:
    return [f"| {' | '.join(header)} |", "|" + "---|" * len(header),
            *(f"| {' | '.join(r)} |" for r in rows), ""]


def _markdown(title, run_path, opening, glance, parts, caution=None) -> str:
    lines = [f"# {title}", "", *([f"> **Caution:** {caution}.", ""] if caution else []),
             opening, "", f"Run directory: `{run_path}`", "",
             "## At a glance", "",
             *_md_table(("quantity", "value"), glance)]
    for i, p in enumerate(parts, 1):
        lines += [f"## {i}. {p.heading}", "", p.caption, ""]
        if p.figures:
            lines += [" ".join(f"![{p.heading}]({f})" for f in p.figures), ""]
        if p.table[1]:
            lines += _md_table(*p.table)
        if p.note:
            lines += [p.note, ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.4}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;
border-bottom:1px solid #ddd;padding-bottom:.2em}.caption{color:#444;margin:.3em 0 .7em}
.row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}img{max-width:100%;
height:auto}table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;
padding:.25em .6em;text-align:left}th{background:#f4f4f4}.note{font-size:.9em;color:#555}
code{background:#f4f4f4;padding:0 .2em}.caution{background:#fff4e5;border-left:4px solid #e69500;
padding:.5em .8em}"""


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _html(title, run_path, opening, glance, parts, images, caution=None) -> str:
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>",
            *([f"<p class='caution'><b>Caution:</b> {esc(caution)}.</p>"] if caution else []),
            f"<p class='opening'>{esc(opening)}</p>",
            f"<p>Run directory: <code>{esc(str(run_path))}</code></p>",
            "<h2>At a glance</h2>", _html_table(("quantity", "value"), glance)]
    for i, p in enumerate(parts, 1):
        imgs = "".join(
            f'<img alt="{esc(f)}" src="data:image/png;base64,'
            f'{base64.b64encode(images[f]).decode("ascii")}">' for f in p.figures)
        table = _html_table(*p.table) if p.table[1] else ""
        note = f'<p class="note">{esc(p.note)}</p>' if p.note else ""
        body.append(f"<section><h2>{i}. {esc(p.heading)}</h2><p class='caption'>"
                    f"{esc(p.caption)}</p><div class='row'><div>{imgs}</div><div>{table}{note}"
                    "</div></div></section>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
            f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
