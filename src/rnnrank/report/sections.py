"""The sections of a run's report: each a figure, a one-sentence caption and the numbers behind it.

Every number is computed by the analyses of ``rnnrank.analysis`` (nothing is re-derived here):
``performance_vs_rank`` and ``functional_rank`` (Schuessler et al. 2020), ``select_cp_rank``
(Pellegrino et al. 2023; Williams et al. 2018), ``singular_values`` and friends. The network of an
ensemble shown is ``member`` (0 by default).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field

import numpy as np

from ..analysis.matrix_rank import participation_ratio, singular_values
from ..analysis.rank_selection import select_cp_rank
from ..analysis.truncation import (
    convergence_time,
    evaluate_networks,
    fresh_batch,
    network_outputs,
    performance_vs_rank,
    snapshot,
)
from ..tasks.base import Batch, Task
from . import figures

TRUNCATION_RANKS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20)


@dataclass
class Section:
    """One heading of the page.

    ``figures``: file name → matplotlib Figure; ``table``: (header, rows) of formatted strings;
    ``numbers``: the same values unformatted (written to ``report.json``); ``note``: an extra line.
    """

    key: str
    heading: str
    caption: str
    figures: dict = field(default_factory=dict)
    table: tuple[tuple[str, ...], list[tuple[str, ...]]] = ((), [])
    numbers: dict = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0


def _g(v: float | None, spec: str = ".3g") -> str:
    return "—" if v is None else format(v, spec)


def _last(values, member: int | None) -> float:
    v = np.atleast_1d(values[-1])
    return float(v[0 if member is None else member])


def learning(traj, metrics, score_name: str, member: int | None) -> Section:
    """(a) Loss per update and task score per snapshot."""
    loss = np.array([r[2] for r in metrics if r[1] == (member or 0)]) if metrics else None
    steps = np.array([r[0] for r in metrics if r[1] == (member or 0)]) if metrics else None
    conv = convergence_time(loss, steps) if loss is not None and len(loss) else None
    initial = float(np.atleast_1d(traj.loss[0])[0 if member is None else member])
    numbers = {"updates": int(traj.steps[-1]), "snapshots": len(traj), "initial_loss": initial,
               "final_loss": _last(traj.loss, member), "final_score": _last(traj.score, member),
               "convergence_update": conv}
    rows = [("updates (snapshots)", f"{numbers['updates']} ({numbers['snapshots']})"),
            ("training loss: first → last snapshot",
             f"{_g(initial, '.4g')} → {_g(numbers['final_loss'], '.4g')}"),
            (f"{score_name} at the last snapshot", f"{numbers['final_score']:.3f}"),
            ("first update with loss < 5% of initial", _g(conv, "d"))]
    return Section("learning", "Learning", "Training loss per update and the task score at each "
                   "snapshot: the loss should fall by orders of magnitude while the score reaches "
                   "its ceiling.",
                   {"loss.png": figures.loss_curve(traj, metrics, score_name)},
                   (("quantity", "value"), rows), numbers)


def score_meaning(task) -> str | None:
    """What a task's score measures, as the task's own ``score`` docstring states it (its first
    paragraph on one line, reST markup removed), so the page defines the number it shows; None
    where the task leaves ``score`` undocumented. ``task``: a Task or a Task class."""
    method = (task if isinstance(task, type) else type(task)).score
    if method is Task.score or not method.__doc__:
        return None
    first = inspect.cleandoc(method.__doc__).split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


def _first_trials(batch: Batch, n: int) -> Batch:
    return Batch(batch.inputs[:, :n], batch.targets[:, :n], batch.mask[:, :n],
                 {k: v[:n] for k, v in batch.info.items()})


def task_view(model, task, traj, member, *, batch_size: int, n_trials: int,
              seed: int) -> Section:
    """(b) The trained network (and the W(0) one) doing the task on fresh test trials."""
    snap = snapshot(traj, member=member)
    batch = fresh_batch(task, batch_size, seed=seed)
    # The untrained network: W0 and the initial U, V, b; x0 as trained (as loss_initial).
    stack = [np.stack(p) for p in ((snap.W0, snap.W), (snap.U0, snap.U), (snap.V0, snap.V),
                                   (snap.b0, snap.b), (snap.x0, snap.x0))]
    loss, score = evaluate_networks(model, task, *stack, batch, seed=seed)
    shown = _first_trials(batch, min(n_trials, batch.batch_size))
    out = task.effector(network_outputs(model, *stack, shown, seed=seed)).numpy()
    fig = figures.task_outputs(shown.targets.numpy(), shown.mask.numpy(), out[:, 1], out[:, 0],
                               task.dt)
    name = task.score_name.replace("_", " ")
    meaning = score_meaning(task)
    numbers = {"test_trials": batch.batch_size, "loss_trained": float(loss[1]),
               "score_trained": float(score[1]), "loss_initial": float(loss[0]),
               "score_initial": float(score[0]), "score_name": task.score_name,
               "score_meaning": meaning}
    rows = [("trained W(K)", f"{loss[1]:.3g}", f"{score[1]:.3f}"),
            ("untrained W(0)", f"{loss[0]:.3g}", f"{score[0]:.3f}")]
    note = (f"{name.capitalize()}: {meaning[:1].lower()}{meaning[1:]} The untrained network "
            f"scores {score[0]:.3f} on the same trials." if meaning else "")
    return Section("task", "The network doing the task",
                   f"Outputs on {shown.batch_size} fresh test trials (shaded: where the loss "
                   "counts): the trained network (colour) should follow the target (dashed) where "
                   "the untrained one (grey) does not.", {"task.png": fig},
                   (("network", f"test loss ({batch.batch_size} trials)", name), rows), numbers,
                   note)


def truncation(model, task, traj, member, *, batch_size: int, seed: int) -> Section:
    """(c) Performance of W0 + [ΔW]_R with the trained U, V, b against R."""
    n = model.n_rec
    ranks = [r for r in TRUNCATION_RANKS if r < n] + [n]
    res = performance_vs_rank(model, task, ranks, trajectory=traj, member=member,
                              batch_size=batch_size, seed=seed)
    fr = res.functional_rank()
    name = task.score_name.replace("_", " ")
    numbers = {"ranks": res.ranks.tolist(), "loss": res.loss.tolist(),
               "score": res.score.tolist(), "loss_full": res.loss_full,
               "score_full": res.score_full, "loss_initial": res.loss_initial,
               "functional_rank": fr, "test_trials": batch_size}
    rows = [(f"R = {r}" + (" (W0 alone)" if r == 0 else "") + (" ← functional rank"
                                                                if r == fr else ""),
             f"{res.loss[i]:.3g}", f"{res.score[i]:.3f}")
            for i, r in enumerate(ranks)]  # every R the figure plots
    rows.append(("full trained W", f"{res.loss_full:.3g}", f"{res.score_full:.3f}"))
    rows.append(("untrained network (W0, initial U, V, b)", f"{res.loss_initial:.3g}", ""))
    note = (f"Functional rank (smallest R with loss < 5% of the loss at R = 0): {_g(fr, 'd')}"
            + ("" if fr is not None else f" — no R ≤ {max(ranks[:-1], default=0)} gets there"))
    return Section("truncation", "Performance vs rank of ΔW",
                   "The trained network with ΔW replaced by its best rank-R approximation (trained "
                   "U, V, b kept): if learning is low rank, a few R recover the full network's "
                   "loss.", {"truncation.png": figures.truncation_curve(res, name)},
                   (("network", f"test loss ({batch_size} trials)", name), rows), numbers, note)


def spectrum(traj, member) -> Section:
    """(d) Spectrum of ΔW against W0's and ‖ΔW(k)‖ over learning."""
    s = singular_values(traj.delta())
    s = s if s.ndim == 1 else s[0 if member is None else member]
    w0 = np.asarray(traj.weights[0], dtype=np.float64)
    w0 = w0 if w0.ndim == 2 else w0[0 if member is None else member]
    energy = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-300)
    numbers = {"delta_norm": float(np.sqrt(np.sum(s**2))), "w0_norm": float(np.linalg.norm(w0)),
               "top_singular_values": [float(v) for v in s[:5]],
               "participation_ratio": float(participation_ratio(s)),
               "rank_for_90pct": int(np.searchsorted(energy, 0.9) + 1)}
    rows = [("‖ΔW‖_F (‖W0‖_F)", f"{numbers['delta_norm']:.3g} ({numbers['w0_norm']:.3g})"),
            ("leading singular values of ΔW",
             ", ".join(f"{v:.3g}" for v in numbers["top_singular_values"])),
            ("participation ratio of ΔW", f"{numbers['participation_ratio']:.2f}"),
            ("singular values for 90% of ‖ΔW‖²", f"{numbers['rank_for_90pct']}")]
    return Section("spectrum", "Spectrum of ΔW and its growth",
                   "Singular values of ΔW = W(K) − W(0) against those of W(0), and ‖ΔW(k)‖ over "
                   "learning: a few large singular values over a flat tail mean a low-rank change.",
                   {"singular_values.png": figures.delta_spectrum(traj, member=member),
                    "delta_norm.png": figures.delta_norm_curve(traj)},
                   (("quantity", "value"), rows), numbers)


def cp_factors(traj, member, *, ranks, n_restarts: int, seed: int,
               max_snapshots: int) -> Section:
    """(e) CP decomposition of the ΔW(k) tensor, rank chosen by ``select_cp_rank``."""
    w = np.asarray(traj.weights, dtype=np.float64)
    w = w if w.ndim == 3 else w[:, 0 if member is None else member]
    ks = np.arange(1, len(w))
    if len(ks) > max_snapshots:  # evenly spaced, the last kept
        ks = np.unique(np.linspace(1, len(w) - 1, max_snapshots).round().astype(int))
    tensor = w[ks] - w[0]
    ranks = [r for r in ranks if r <= max(1, min(tensor.shape))] or [1]
    sel = select_cp_rank(tensor, ranks, n_restarts=n_restarts, seed=seed)
    best = sel.decompositions[list(sel.ranks).index(sel.best_rank)]
    numbers = {"tensor_shape": list(tensor.shape), "ranks": sel.ranks.tolist(),
               "relative_error": sel.errors[:, 0].tolist(),
               "similarity": [None if np.isnan(v) else float(v) for v in sel.similarity],
               "chosen_rank": int(sel.best_rank), "n_restarts": n_restarts,
               "min_similarity": float(sel.min_similarity), "notes": sel.notes}
    rows = [(f"{r}" + (" ← chosen" if r == sel.best_rank else ""), f"{e:.3f}",
             "—" if np.isnan(s) else f"{s:.2f}")
            for r, e, s in zip(sel.ranks, sel.errors[:, 0], sel.similarity, strict=True)]
    note = (f"ΔW(k) stacked over {len(ks)} snapshots: tensor {' × '.join(map(str, tensor.shape))}"
            f" (snapshot × post × pre), {n_restarts} restarts per rank.")
    for caution in sel.notes:  # the largest rank tried; restarts that disagree
        note += f" Note: {caution}."
    if sel.best_rank == sel.ranks[-1] and len(sel.ranks) > 1:
        note += " More ranks: rnnrank analyze RUN --tensor-rank --ranks 1-10."
    steps = np.asarray(traj.steps)[ks]
    return Section("cp", "Tensor rank of learning: CP factors of ΔW(k)",
                   "ΔW(k) ≈ Σ_r λ_r c_r(k) a_r b_rᵀ over updates k: each row is one component, its "
                   "time course over learning and its post/pre loadings; the table gives the "
                   "error of each rank.", {"cp_factors.png": figures.cp_factors(best, steps)},
                   (("CP rank", "relative error ‖X − X̂‖/‖X‖", "restart similarity"), rows),
                   numbers, note)


def alignment(metrics, fields: tuple[str, ...], member: int | None) -> Section:
    """Cosine of the rule's gradient estimate with the exact BPTT gradient (``track_alignment``)."""
    rows_all = np.array(metrics, dtype=float)
    rows_all = rows_all[rows_all[:, 1] == (member or 0)]
    names = [f for f in fields if f.startswith("cos_")]
    numbers, rows = {}, []
    for name in names:
        col = rows_all[:, fields.index(name)]
        col = col[np.isfinite(col)]
        first, last, mean = (float(col[0]), float(col[-1]), float(col.mean())) if len(col) \
            else (None, None, None)
        numbers[name] = {"first": first, "last": last, "mean": mean}
        rows.append((name.replace("cos_", ""), _g(first, ".2f"), _g(last, ".2f"),
                     _g(mean, ".2f")))
    return Section("alignment", "Gradient alignment with BPTT",
                   "Cosine between the rule's update and the exact gradient of the same batch: "
                   "1 is BPTT's direction, 0 an orthogonal step.",
                   {"alignment.png": figures.alignment_curve(metrics, fields)},
                   (("parameter", "first", "last", "mean"), rows), numbers)


def timed(build, *args, **kwargs) -> Section:
    """``build(*args, **kwargs)`` with its wall time recorded in ``Section.seconds``."""
    t0 = time.perf_counter()
    section = build(*args, **kwargs)
    section.seconds = round(time.perf_counter() - t0, 2)
    return section
