"""``rnnrank`` command line: a thin layer over the library (typer + rich).

Bad input exits with code 2 and one line on stderr (``rnnrank: error: …``), never a traceback.
Ctrl-C of ``train`` or ``sweep`` exits with code 130 and one line: what was saved, and the
command that resumes it.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="How the connectivity of recurrent networks changes while they learn.")


class BadInput(Exception):
    """Raised for user errors: reported as one line, exit code 2."""


class Interrupted(Exception):
    """Raised for Ctrl-C of long work: its message (what was saved, how to resume) is reported
    as one line, exit code 130."""


def _parse_options(pairs: list[str] | None, flag: str) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag} expects KEY=VALUE, got {pair!r} (e.g. {flag} n_bits=3)")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise BadInput(f"{flag} {pair!r}: the value is not valid YAML ({problem}); quote "
                           f"a string or write a list as [1, 2]") from None
    return options


def _command_line(ctx: typer.Context, *, drop: tuple[str, ...] = ()) -> str:
    """The command that repeats this one: its arguments and the options it was given other than
    their defaults (except those named in ``drop``), quoted for a POSIX shell."""
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in drop or value is None or value == param.default:
            continue
        if param.param_type_name == "argument":
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            if value or param.secondary_opts:
                words.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            for v in value if getattr(param, "multiple", False) else [value]:
                words += [param.opts[0], str(v)]
    return shlex.join(words)


def _interrupted_run(out: Path, steps: int, checkpoint_every: int, resume: str) -> str:
    """The line of a Ctrl-C'd training run: where it stopped, what its directory keeps (up to
    the last checkpoint: a resume redoes the updates after it), and the command that resumes."""
    from rnnrank.store.run_dir import RunDir

    run = RunDir(out)
    at = run.read_status().get("step") if run.is_run() else None
    where = "before training started" if at is None else f"at update {at} of {steps}"
    checkpoint = run.load_checkpoint() if run.is_run() else None
    if checkpoint is not None:
        # a completed run's checkpoint (one being extended) is one past its last update
        kept = int(checkpoint["steps_done"] if checkpoint.get("completed") else checkpoint["step"])
        saved = (f"{out} keeps every update up to {kept} (its last checkpoint; "
                 f"{int(checkpoint['n_snapshots'])} snapshots)")
    elif run.is_run():
        saved = (f"{out} has no checkpoint yet (the first comes at update {checkpoint_every}, "
                 "set by --checkpoint-every), so a resume starts at update 0")
    else:
        saved = "nothing was saved"
    return f"interrupted {where}; {saved}; resume with: {resume}"


def _emit(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2, default=float))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key, value in _flat_items(summary):
        table.add_row(f"[bold]{key}[/]", _readable(value))
    Console().print(table)


def _flat_items(summary: dict, prefix: str = ""):
    """(dotted key, value) pairs of a nested summary, for a two-column table."""
    for key, value in summary.items():
        if isinstance(value, dict) and value:
            yield from _flat_items(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _readable(value, shown: int = 8) -> str:
    """Numbers at 4 significant digits; long lists cut (``--json`` prints every value)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        if not value:
            return "none"
        if all(isinstance(v, dict) for v in value):
            return "; ".join(", ".join(f"{k} {_readable(v)}" for k, v in d.items())
                             for d in value)
        body = ", ".join(_readable(v) for v in value[:shown])
        return f"[{body}{', …' if len(value) > shown else ''}]" + (
            f" ({len(value)} values; --json for all)" if len(value) > shown else "")
    return "—" if value is None else str(value)


def _train_and_summarise(model, task, config=None, *, out: Path, as_json: bool,
                         **train_kw) -> dict:
    import numpy as np

    import rnnrank as rr

    t0 = time.perf_counter()
    run = rr.train(model, task, config, out=out, progress=not as_json, **train_kw)
    traj = run.trajectory
    return {
        "run": str(out), "status": run.status, "steps": run.steps, "snapshots": len(traj),
        "final_loss": float(np.mean(run.final_loss)),
        f"final_{task.score_name}": float(np.mean(np.atleast_1d(traj.score[-1]))),
        "best_step": None if run.best_step is None else (
            int(run.best_step[0]) if len(run.best_step) == 1 else run.best_step.tolist()),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# Quickstart's training schedule, chosen from benchmarks/stability.py (flip-flop, N = 128, 600
# updates, g ∈ {0.5, 0.9, 1.5} × 4 seeds): plain Adam fell out of solved states in 1/12 members at
# lr 1e-3 and 3/12 at 2e-3; clipping each member's gradient norm at 1.0 in 0/12 at both, and
# ended solved in 12/12 and 11/12 (plain: 9/12, 7/12). Warm-up (100 updates), with or without
# cosine decay, did not help (6/12 fell out at 2e-3). The library's default stays unclipped: the
# papers' setups state their own.
QUICKSTART_CLIP: float | None = 1.0
QUICKSTART_WARMUP = 0
QUICKSTART_SCHEDULE = "constant"

TASK_OPT_HELP = "Task option KEY=VALUE (repeatable), e.g. --task-option n_bits=3"
# Listed in --help without importing torch at startup; tests/test_cli.py checks them against the
# registries, so a newly registered task or rule fails the test until it is named here.
TASK_NAMES = ("flipflop", "mante", "romo", "reach", "sine", "delayed_xor", "sentiment",
              "sentiment_memory", "neurogym")
RULE_NAMES = ("bptt", "eprop", "rflo", "fa")
PAPERS = ("schuessler2020", "pellegrino2023", "liu2024")


@app.command(epilog="Example: rnnrank train --task flipflop --n-rec 256 --gain 1.5 --rule bptt "
             "--steps 2000 --record-every 10 --seed 0 --out runs/ff")
def train(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Run directory (resumed if it holds this run).")],
    task: Annotated[str, typer.Option(help=f"Registered task: {', '.join(TASK_NAMES)}.")]
    = "flipflop",
    task_option: Annotated[list[str] | None, typer.Option(help=TASK_OPT_HELP)] = None,
    n_rec: Annotated[int, typer.Option(help="Number of recurrent units N.")] = 256,
    gain: Annotated[float, typer.Option(help="Gain g of W0 = g·J/√N.")] = 1.5,
    nonlinearity: Annotated[str, typer.Option(help="tanh, relu, softplus or identity.")] = "tanh",
    dt: Annotated[float, typer.Option(help="Euler step (time units of τ).")] = 0.2,
    tau: Annotated[float, typer.Option(help="Time constant τ.")] = 1.0,
    noise: Annotated[float, typer.Option(help="Private noise σ.")] = 0.0,
    init: Annotated[str, typer.Option(help="gaussian, orthogonal or sparse.")] = "gaussian",
    rule: Annotated[str, typer.Option(help=f"Learning rule: {', '.join(RULE_NAMES)}.")]
    = "bptt",
    rule_option: Annotated[list[str] | None, typer.Option(
        help="Rule option KEY=VALUE, e.g. --rule-option truncation=10")] = None,
    steps: Annotated[int, typer.Option(help="Parameter updates.")] = 2000,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam or sgd.")] = "adam",
    batch_size: Annotated[int, typer.Option(help="Trials per update.")] = 32,
    grad_clip: Annotated[float | None, typer.Option(
        help="Clip each member's gradient norm (default: none; 1.0 keeps flip-flop solved at "
        "Adam 1e-3..2e-3).")] = None,
    lr_warmup: Annotated[int, typer.Option(
        help="Updates of linear learning-rate warm-up (0: none).")] = 0,
    lr_schedule: Annotated[str, typer.Option(
        help="After the warm-up: constant, or cosine decay to 0 at the last update.")]
    = "constant",
    record_every: Annotated[int, typer.Option(help="Snapshot every this many updates.")] = 10,
    checkpoint_every: Annotated[int, typer.Option(help="Checkpoint every this many updates.")]
    = 100,
    seed: Annotated[int, typer.Option(help="Seed of W0 and of the trials.")] = 0,
    flossing: Annotated[bool, typer.Option(
        "--flossing", help="Add gradient flossing (Engelken 2023) of the network driven by the "
        "task's trials (rr.learning.Flossing).")] = False,
    flossing_option: Annotated[list[str] | None, typer.Option(
        help="Flossing option KEY=VALUE (repeatable), e.g. --flossing-option pre=500")] = None,
    overwrite: Annotated[bool, typer.Option(help="Delete a previous run in --out.")] = False,
    dtype: Annotated[str, typer.Option(help="float32 (training) or float64 (theory).")]
    = "float32",
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1, or auto (a GPU if any).")]
    = "cpu",
    trainable: Annotated[list[str] | None, typer.Option(
        help="A parameter that learns (repeatable; default W, U, V and b), e.g. --trainable W "
        "--trainable U --trainable V (b stays 0, as in Schuessler et al. 2020).")] = None,
    track_alignment: Annotated[bool, typer.Option(
        "--track-alignment", help="Record the cosine of the rule's gradient with the exact one "
        "at every snapshot (metrics.csv).")] = False,
    best_window: Annotated[int, typer.Option(
        help="Updates averaged when tracking each network's best parameters (best.pt).")] = 20,
    restore_best: Annotated[bool, typer.Option(
        "--restore-best", help="End with the best parameters loaded (the trajectory keeps the "
        "last).")] = False,
    threads: Annotated[int | None, typer.Option(
        help="Torch threads (default: torch's; 1 is fastest on a machine other work keeps "
        "busy).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train a rate RNN on a task and record its weight trajectory W(k)."""
    from rnnrank.learning.schema import RUN_OPTIONS, build_run

    floss_opts = _parse_options(flossing_option, "--flossing-option")
    if floss_opts and not flossing:
        raise BadInput("--flossing-option needs --flossing")
    # the run schema (rnnrank.learning.schema) builds it, as a sweep's train: section would
    options = dict(
        task=task, task_options=_parse_options(task_option, "--task-option"), n_rec=n_rec,
        gain=gain, nonlinearity=nonlinearity, dt=dt, tau=tau, noise=noise, init=init,
        trainable=list(trainable or RUN_OPTIONS["trainable"]), rule=rule,
        rule_options=_parse_options(rule_option, "--rule-option"), steps=steps, lr=lr,
        optimizer=optimizer, batch_size=batch_size, record_every=record_every,
        checkpoint_every=checkpoint_every, seed=seed, grad_clip=grad_clip, lr_warmup=lr_warmup,
        lr_schedule=lr_schedule, track_alignment=track_alignment, best_window=best_window,
        restore_best=restore_best, flossing=floss_opts if flossing else None, dtype=dtype,
        device=device)
    model, task_obj, config, hooks = build_run(options)
    try:
        summary = _train_and_summarise(model, task_obj, config, out=out, as_json=as_json,
                                       hooks=hooks, overwrite=overwrite, threads=threads)
    except KeyboardInterrupt:  # the trainer has written status "interrupted" and its metrics
        raise Interrupted(_interrupted_run(out, steps, checkpoint_every, _command_line(
            ctx, drop=("overwrite",)))) from None
    _emit(summary, as_json)


@app.command(epilog="Example: rnnrank quickstart --out runs/quickstart")
def quickstart(
    out: Annotated[Path, typer.Option(help="Where to write the run and its report.")]
    = Path("runs/quickstart"),
    steps: Annotated[int, typer.Option(help="Parameter updates.")] = 1200,
    grad_clip: Annotated[float | None, typer.Option(
        help="Clip the gradient norm to this value.")] = QUICKSTART_CLIP,
    lr_warmup: Annotated[int, typer.Option(
        help="Updates of linear learning-rate warm-up.")] = QUICKSTART_WARMUP,
    lr_schedule: Annotated[str, typer.Option(
        help="After the warm-up: constant or cosine.")] = QUICKSTART_SCHEDULE,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train a small 3-bit flip-flop network, record W(k), and write a first report."""
    import rnnrank as rr
    from rnnrank.report import run_summary, write_report

    task = rr.tasks.make("flipflop", n_bits=3, dt=0.2)
    # g = 0.9, Adam 1e-3: solved (accuracy 1.0) within ~300 updates for seeds 0 and 1; at
    # lr = 2e-3 the loss can jump back up and stay there (measured), at g = 1.5 even at 1e-3;
    # gradient clipping at 1.0 prevents it (QUICKSTART_CLIP); best.pt keeps the best anyway.
    model = rr.RateRNN(task.n_in, 128, task.n_out, gain=0.9, seed=0, dt=0.2)
    summary = _train_and_summarise(model, task, out=out, as_json=as_json, steps=steps, lr=1e-3,
                                   batch_size=32, record_every=10, seed=0, grad_clip=grad_clip,
                                   lr_warmup=min(lr_warmup, steps), lr_schedule=lr_schedule)
    t0 = time.perf_counter()
    report = write_report(out)
    summary.update({k: v for k, v in run_summary(out).items()
                    if k in ("delta_norm", "w0_norm", "participation_ratio", "rank_for_90pct")})
    numbers = json.loads((report / "report.json").read_text())["sections"]
    # final_accuracy is the last training snapshot's; the report's fresh test trials give it
    # beside the untrained network's, with the task's own definition of the score.
    shown = numbers["task"]
    summary[f"test_{shown['score_name']}"] = {"trained": shown["score_trained"],
                                              "untrained": shown["score_initial"]}
    if shown.get("score_meaning"):
        summary[f"{shown['score_name']}_is"] = shown["score_meaning"]
    summary["functional_rank"] = numbers["truncation"]["functional_rank"]
    summary["cp_rank"] = numbers["cp"]["chosen_rank"]
    if numbers["cp"].get("notes"):
        summary["cp_rank_notes"] = numbers["cp"]["notes"]
        for caution in numbers["cp"]["notes"]:
            _warn(caution)
    summary["report_seconds"] = round(time.perf_counter() - t0, 2)
    summary["report"] = str(report / "index.html")
    _emit(summary, as_json)


@app.command(epilog="Example: rnnrank report runs/ff")
def report(
    run: Annotated[Path, typer.Argument(help="A run directory written by rnnrank train.")],
    out: Annotated[Path | None, typer.Option(help="Report directory (default RUN/report).")]
    = None,
    member: Annotated[int | None, typer.Option(help="Ensemble member shown (default 0).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write the figures and the Markdown/HTML page of a run: learning curves, the network doing
    the task, performance vs rank of ΔW, its spectrum and the CP factors of ΔW(k)."""
    from rnnrank.report import run_summary, write_report

    if not (run / "config.yaml").exists():
        raise BadInput(f"{run} is not a run directory (no config.yaml); pass the --out of a "
                       "finished or running 'rnnrank train'")
    path = write_report(run, out, member=member)
    _emit({**run_summary(run), "report": str(path / "index.html")}, as_json)


@app.command(epilog="Example: rnnrank reproduce schuessler2020 --quick --out runs/schuessler")
def reproduce(
    paper: Annotated[str, typer.Argument(help=f"Paper to reproduce: {', '.join(PAPERS)}.")],
    out: Annotated[Path | None, typer.Option(help="Report and run directory (resumable).")]
    = None,
    quick: Annotated[bool, typer.Option(
        help="Reduced sizes (schuessler2020: ~17 min on 2 loaded cores).")] = False,
    full: Annotated[bool, typer.Option(
        help="schuessler2020: the paper's networks as rr.sweep runs (batched ensembles, "
        "resumable, --backend).")] = False,
    backend: Annotated[str, typer.Option(help="With --full: local, slurm or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(help="With --full: local processes.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="With --full: print the jobs still to run, run nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train, analyse and write the report of a paper's experiments (resumes saved runs); print
    a verdict per claim beside the paper's value."""
    from rnnrank.experiments import REPRODUCTIONS
    from rnnrank.experiments import reproduce as drive

    if paper not in REPRODUCTIONS:
        raise BadInput(f"unknown paper {paper!r}; choose one of {REPRODUCTIONS.names()}")
    rep = REPRODUCTIONS.get(paper)()
    if (full or dry_run) and not rep.supports_full:
        raise BadInput(f"{paper} has no --full run; drop --full/--dry-run")
    if full and quick:
        raise BadInput("--full runs the paper's setup as sweeps; drop --quick")
    if dry_run and not full:
        raise BadInput("--dry-run plans the --full run; add --full")
    out = out if out is not None else Path("runs") / paper
    if dry_run:
        jobs = rep.plan(out, workers=workers or 1)
        _emit({"paper": paper, "jobs": {t: [len(j["runs"]) for j in js]
                                        for t, js in jobs.items()},
               "networks": sum(len(j["runs"]) for js in jobs.values() for j in js)}, as_json)
        return
    options = {"backend": backend, "workers": workers} if full else {}
    result = drive(paper, out, quick=quick, full=full, progress=not as_json, **options)
    if as_json:
        _emit(result.summary(), True)
        return
    _print_verdicts(result)


def _print_verdicts(result) -> None:
    """The claims of a reproduction as one table (claim, paper, ours, verdict), then where the
    report is: the same layout for every paper."""
    from rich.console import Console
    from rich.table import Table

    colour = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow",
              "partly reproduced": "yellow"}
    table = Table(title=f"{result.paper}: {len(result.claims)} claims", show_lines=False)
    for name in ("claim", "paper", "ours", "verdict"):
        table.add_column(name, overflow="fold")
    for c in result.claims:
        v = str(c.verdict)
        table.add_row(c.text or c.key, c.paper, c.ours, f"[{colour.get(v, 'white')}]{v}[/]")
    console = Console()
    console.print(table)
    counts = ", ".join(f"{n} {v}" for v, n in sorted(result.counts().items()))
    console.print(f"{counts}. Report: {result.report} ({result.seconds:.0f} s, "
                  f"{result.networks} networks)")


@app.command(epilog="Example: rnnrank analyze runs/ff --matrix-rank --tensor-rank --ranks 1-8 "
             "--lyapunov --fixed-points")
def analyze(
    run: Annotated[Path, typer.Argument(help="A run directory written by rnnrank train.")],
    matrix_rank: Annotated[bool, typer.Option(
        "--matrix-rank", help="Spectra of ΔW and task loss vs truncation rank.")] = False,
    tensor_rank: Annotated[bool, typer.Option(
        "--tensor-rank", help="CP rank of the ΔW(k) tensor, its factors, rank bounds.")] = False,
    lyapunov: Annotated[bool, typer.Option(
        "--lyapunov", help="Lyapunov spectra before (W(0)) and after (W(K)) training.")] = False,
    fixed_points: Annotated[bool, typer.Option(
        "--fixed-points", help="Fixed points under zero input and their stability, before "
        "and after training.")] = False,
    lyapunov_steps: Annotated[int, typer.Option(
        help="Steps averaged per Lyapunov estimate (after a quarter as many warm-up steps).")]
    = 2000,
    ranks: Annotated[str, typer.Option(help="CP ranks to try: 1-10, 1..10 or 1,2,4.")] = "1-10",
    restarts: Annotated[int, typer.Option(help="CP restarts per rank.")] = 3,
    member: Annotated[int | None, typer.Option(help="Ensemble member (ensembles only).")]
    = None,
    batch_size: Annotated[int, typer.Option(help="Test trials per evaluation.")] = 512,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON summary.")] = False,
) -> None:
    """Analyses of one run, written to RUN/analysis/ (PNG figures + JSON summaries)."""
    from rnnrank.report.run_matrix_rank import matrix_rank_report
    from rnnrank.report.run_tensor_rank import tensor_rank_report

    rank_list = _parse_ranks(ranks) if tensor_rank else None  # every check before any work
    if not (run / "config.yaml").exists():
        raise BadInput(f"{run} is not a run directory (no config.yaml); pass the --out of a "
                       "finished or running 'rnnrank train'")
    if not (matrix_rank or tensor_rank or lyapunov or fixed_points):
        raise BadInput("choose an analysis: --matrix-rank, --tensor-rank, --lyapunov and/or "
                       "--fixed-points")
    summary = {}
    if matrix_rank:
        summary["matrix_rank"] = matrix_rank_report(run, member=member, batch_size=batch_size)
    if tensor_rank:
        summary["tensor_rank"] = tensor_rank_report(run, ranks=rank_list,
                                                    member=member, n_restarts=restarts)
        for caution in summary["tensor_rank"]["notes"]:
            _warn(caution)
        if not as_json and not summary["tensor_rank"]["rank_bounds"]:
            summary["tensor_rank"]["rank_bounds"] = (
                "none applies: the proved bounds need a linear network trained by SGD from "
                "W0 = 0 (rnnrank.analysis.rank_bounds)")
    if lyapunov or fixed_points:
        from rnnrank.report.run_dynamics import dynamics_report

        if lyapunov_steps < 4:
            raise BadInput(f"--lyapunov-steps must be >= 4, got {lyapunov_steps}")
        summary["dynamics"] = dynamics_report(run, lyapunov=lyapunov, fixed=fixed_points,
                                              member=member, steps=lyapunov_steps,
                                              warmup=lyapunov_steps // 4)
    _emit(summary if len(summary) > 1 else next(iter(summary.values())), as_json)


# --- fit (low-tensor-rank RNN fits of recordings; Pellegrino et al. 2023) ---------------------
@app.command(epilog="Example: rnnrank fit session.npz --cv --ranks 1-8 --out fits/cv")
def fit(
    recording: Annotated[Path, typer.Argument(help="A recording: .npz, .h5/.hdf5 or .nwb.")],
    rank: Annotated[int, typer.Option(help="Rank R of the fit (without --cv).")] = 3,
    cv: Annotated[bool, typer.Option("--cv", help="Cross-validate the rank over --ranks.")]
    = False,
    ranks: Annotated[str, typer.Option(help="Ranks for --cv: 1-8, 1..8 or 1,2,4.")] = "1-5",
    scheme: Annotated[str, typer.Option(help="CV scheme: blocks, trials or neurons.")]
    = "blocks",
    seeds: Annotated[int | None, typer.Option(
        help="Seeds (default 3): a plain fit keeps the best and compares the others' trial "
        "factors with it; with --cv, the splits (3: the fewest that give the standard error "
        "the rank rule needs).")] = None,
    n_rec: Annotated[int, typer.Option(help="Neurons N of the fitted network.")] = 100,
    loss: Annotated[str, typer.Option(help="mse (rates), poisson (counts) or gamma.")] = "mse",
    alpha: Annotated[float, typer.Option(help="dt/τ of the fitted dynamics per bin.")] = 0.2,
    max_iter: Annotated[int, typer.Option(help="Adam iterations at most per fit.")] = 1500,
    align_to: Annotated[str | None, typer.Option(
        help="NWB: trials-table column of event times that defines t = 0 (default start_time).")]
    = None,
    before: Annotated[float | None, typer.Option(help="NWB: seconds before the event.")] = None,
    after: Annotated[float | None, typer.Option(
        help="NWB: seconds after the event (default: the shortest trial).")] = None,
    bin_size: Annotated[float | None, typer.Option(help="NWB: seconds per bin (0.01).")] = None,
    smooth: Annotated[float | None, typer.Option(
        help="NWB: Gaussian smoothing σ in bins (0: counts).")] = None,
    zscore: Annotated[bool | None, typer.Option(
        "--zscore/--no-zscore", help="NWB: z-score each neuron after smoothing.")] = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("fits/fit"),
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Fit a low-tensor-rank RNN W(k) = Σ_r c_r(k) a_r b_rᵀ to a recording (or CV its rank).

    A .npz/.h5 recording holds ``data`` [time, trial, neuron] (counts or rates) and optionally
    ``condition``, ``trial_id``, ``epoch`` [trial], ``times`` [time] and ``mask``; an .nwb file
    is binned into trials by the NWB options (the same as rnnrank.fitting.load_nwb's keywords).
    """
    import rnnrank as rr
    from rnnrank.fitting.likelihoods import LOSSES

    rank_list = _parse_ranks(ranks) if cv else None  # every check before any work
    if loss not in LOSSES:
        raise BadInput(f"--loss: loss must be one of {LOSSES}, got {loss!r}")
    if rank < 1:
        raise BadInput(f"--rank must be ≥ 1, got {rank}")
    seeds = seeds if seeds is not None else 3  # a spread over seeds or splits, by default
    if seeds < 1:
        raise BadInput(f"--seeds must be ≥ 1, got {seeds}")
    nwb_options = {k: v for k, v in dict(align_to=align_to, before=before, after=after,
                                         bin_size=bin_size, smooth=smooth,
                                         zscore=zscore).items() if v is not None}
    if nwb_options and recording.suffix.lower() != ".nwb":
        flags = ", ".join("--" + k.replace("_", "-") for k in nwb_options)
        raise BadInput(f"{flags} bin an NWB file's spikes; {recording.name} is not .nwb (its "
                       "array is fitted as stored)")
    rec = rr.fitting.load_recording(recording, **nwb_options)
    _warn_about_layout(rec, as_json)
    opts = rr.fitting.FitOptions(max_iter=max_iter)
    kw = dict(n_rec=n_rec, loss=loss, alpha=alpha, options=opts)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if not cv:
        from rnnrank.fitting.agreement import seed_agreement
        from rnnrank.report.fit_figures import fit_figure

        fits, histories = [], []
        for s in range(seeds):  # as fit_ltr(n_seeds=seeds) does, keeping every seed's fit
            history_s: list[tuple[int, float]] = []
            histories.append(history_s)
            fits.append(rr.fitting.fit_ltr(rec, rank, seed=s, progress=lambda it, loss,
                                           h=history_s: h.append((it, loss)), **kw))
        order = sorted(range(seeds), key=lambda i: fits[i].val_loss)
        result, history = fits[order[0]], histories[order[0]]
        agreement = seed_agreement([fits[i] for i in order]) if seeds > 1 else None
        result.save(out)
        fit_figure(result, history, others=agreement and agreement["matched"]).savefig(
            out / "fit.png", dpi=110)
        summary = {"recording": str(recording), "shape": list(rec.shape), "rank": rank,
                   "loss": loss, "train_error": result.train_error,
                   "iterations": result.iterations, "max_iter": max_iter,
                   "fit": str(out / "fit.pt"), "figure": str(out / "fit.png"), "seeds": seeds,
                   "seed_agreement": None if agreement is None else {
                       "mean_abs_corr": agreement["mean"],
                       "per_component": agreement["per_component"]}}
        if agreement is not None and agreement["mean"] < SEED_AGREEMENT:
            _warn(f"the trial factors c(k) differ between seeds (mean |correlation| "
                  f"{agreement['mean']:.2f} < {SEED_AGREEMENT}): their drift is not reproducible "
                  "and may be noise")
        if result.iterations >= max_iter:
            _warn(f"the fit stopped at --max-iter {max_iter} before its validation loss levelled "
                  "off; raise --max-iter")
    else:
        result = _cross_validate_with_progress(rr, rec, rank_list, scheme, seeds, kw,
                                               show=not as_json)
        fig = result.plot().figure
        fig.tight_layout()
        fig.savefig(out / "cv.png", dpi=120)
        summary = {"recording": str(recording), "scheme": scheme,
                   "scores": {str(r): v for r, v in result.scores.items()},
                   "baselines": result.baselines, "best_rank": result.best_rank,
                   "best_rank_reason": result.reason, "notes": result.notes,
                   "summary": result.summary(), "figure": str(out / "cv.png")}
        for note in result.notes:  # e.g. "no rank explains held-out data better than its mean"
            _warn(note)
        if result.best_rank == max(rank_list) and len(rank_list) > 1:
            _warn(f"cross-validation chose the largest rank tried ({result.best_rank}); the best "
                  "rank may be larger: extend --ranks")
        (out / "cv.json").write_text(json.dumps(summary, indent=2))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    if not cv:
        (out / "fit.json").write_text(json.dumps(summary, indent=2))
    _emit(summary, as_json)


def _updates_done(out: Path) -> float:
    """Network-updates already in a sweep directory (0 for a new one), for the throughput: the
    last step each run's status.json records (no trajectory is read)."""
    if not (out / "plan.json").exists():
        return 0.0
    from rnnrank.store.run_dir import RunDir

    plan = json.loads((out / "plan.json").read_text())
    return float(sum(RunDir(out / r["dir"]).read_status().get("step") or 0
                     for r in plan["runs"] if r["kind"] == "train"))


SEED_AGREEMENT = 0.5  # below this mean |corr| of c(k) across seeds, the drift is not shown to
# be structure: measured 0.995 on a planted rank-1 teacher and 0.07 on N(0, 1) noise of its shape


def _warn(message: str) -> None:
    """One warning line on stderr (kept out of stdout so --json output stays parseable)."""
    print(f"rnnrank: warning: {message}", file=sys.stderr)


def _warn_about_layout(rec, as_json: bool) -> None:
    """Say what is fitted ([time, trial, neuron]) and warn when the axes look swapped (by
    content, not sizes: rnnrank.fitting.recording.suspect_layout)."""
    from rnnrank.fitting.recording import suspect_layout

    T, K, n = rec.shape
    if not as_json:
        print(f"fitting {T} time bins × {K} trials × {n} neurons "
              f"({'spike counts' if rec.is_counts else 'rates'})", file=sys.stderr)
    warning = suspect_layout(rec)
    if warning is not None:
        _warn(warning)


def _cross_validate_with_progress(rr, rec, ranks, scheme, seeds, kw, *, show: bool):
    """cross_validate with a rich progress bar per rank and seed."""
    if not show:
        return rr.fitting.cross_validate(rec, ranks, scheme=scheme, seeds=range(seeds), **kw)
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task("fits (rank × seed)", total=len(ranks) * seeds)

        def advance(r, s, score):
            bar.update(task, advance=1, description=f"rank {r} seed {s}: test {score:.3f}")

        return rr.fitting.cross_validate(rec, ranks, scheme=scheme, seeds=range(seeds),
                                         progress=advance, **kw)


def _parse_ranks(text: str) -> list[int]:
    """'1-10', '1..10' or '1,2,4' → a list of positive ranks."""
    try:
        for sep in ("..", "-"):
            if sep in text:
                lo, hi = (int(v) for v in text.split(sep))
                if hi < lo:
                    raise BadInput(f"--ranks {text!r} runs backwards; write the smaller rank "
                                   f"first, e.g. {hi}-{lo}")
                ranks = list(range(lo, hi + 1))
                break
        else:
            ranks = [int(v) for v in text.split(",")]
    except ValueError:
        raise BadInput(f"--ranks expects 1-10, 1..10 or 1,2,4; got {text!r}") from None
    if not ranks or min(ranks) < 1:
        raise BadInput(f"--ranks must name positive ranks, got {text!r}")
    return ranks


# --- sweeps (rnnrank.sweep) ---------------------------------------------------------------------
@app.command(epilog="Example: rnnrank sweep sweep.yaml --out runs/sweep  (add --backend slurm "
             "--partition gpu --time 60, or --backend ray --address auto)")
def sweep(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Sweep spec (YAML): train:/fit:/analyze:, grid:, "
                                         "runs:.")],
    out: Annotated[Path, typer.Option(help="Sweep directory (re-running resumes it).")],
    backend: Annotated[str, typer.Option(help="local, slurm (submitit) or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(help="Local processes (default: cores).")]
    = None,
    partition: Annotated[str | None, typer.Option(help="Slurm partition.")] = None,
    time_min: Annotated[int, typer.Option("--time", help="Slurm time limit per job, minutes.")]
    = 60,
    cpus_per_job: Annotated[int, typer.Option(help="CPUs per Slurm/Ray job.")] = 1,
    gpus_per_job: Annotated[int, typer.Option(help="GPUs per Slurm job.")] = 0,
    address: Annotated[str | None, typer.Option(help="Ray cluster address, e.g. auto.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Run a sweep of trainings, fits or analyses; collect one table (OUT/table.csv)."""
    from rnnrank.sweep import run_sweep
    from rnnrank.sweep.backends import BACKENDS

    if backend not in BACKENDS:
        raise BadInput(f"--backend must be one of {list(BACKENDS)}, got {backend!r}")
    options: dict = {}
    if backend == "slurm":
        options = dict(partition=partition, time=time_min, cpus_per_job=cpus_per_job,
                       gpus_per_job=gpus_per_job)
    elif backend == "ray":
        options = dict(address=address, cpus_per_job=cpus_per_job)
    before = _updates_done(out)
    t0 = time.perf_counter()
    try:
        table = run_sweep(spec, out, backend=backend, workers=workers, progress=not as_json,
                          **options)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_sweep(out, _command_line(ctx))) from None
    seconds = time.perf_counter() - t0
    table.to_csv(out / "table.csv", index=False)
    counts = table["status"].value_counts().to_dict()
    summary = {"sweep": str(out), "runs": len(table), **{k: int(v) for k, v in counts.items()},
               "already_complete": table.attrs["already_complete"],
               "run_now": table.attrs["run_now"],
               "table": str(out / "table.csv"), "seconds": round(seconds, 2)}
    if "layout" in table.attrs and table.attrs["run_now"]:
        n_workers, n_threads = table.attrs["layout"]
        summary["workers"] = f"{n_workers} process(es) × {n_threads} torch thread(s)"
    trained = (float(table["steps_done"].fillna(0).sum()) - before
               if "steps_done" in table else 0.0)
    if trained > 0:  # a re-run of a finished sweep trains nothing: no throughput to report
        summary["network_updates_per_second"] = round(trained / max(seconds, 1e-9), 1)
    failed = table[table["status"] == "failed"]
    if len(failed):
        summary["first_failure"] = f"{failed.iloc[0]['name']}: {failed.iloc[0]['message']}"
    _emit(summary, as_json)
    if len(failed):
        print(f"rnnrank: {len(failed)} of {len(table)} runs failed; see "
              f"{out / 'table.csv'} and each run's status.json", file=sys.stderr)
        raise typer.Exit(1)


@app.command("sweep-report", epilog="Example: rnnrank sweep-report runs/sweep")
def sweep_report(
    path: Annotated[Path, typer.Argument(help="A sweep directory written by rnnrank sweep.")],
    out: Annotated[Path | None, typer.Option(help="Report directory (default PATH/report).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Final loss/score, ‖ΔW‖ and effective rank against the swept variables (seeds as bars)."""
    from rnnrank.sweep import sweep_report as report_fn

    if not (path / "plan.json").exists():
        raise BadInput(f"{path} is not a sweep directory (no plan.json); pass the --out of "
                       "'rnnrank sweep'")
    _emit(report_fn(path, out), as_json)


def _interrupted_sweep(out: Path, resume: str) -> str:
    """The line of a Ctrl-C'd sweep: how many runs are finished (kept), and how to resume."""
    from rnnrank.sweep.runner import finished_runs

    done, total = finished_runs(out)
    if not total:
        return f"interrupted before any run started; start again with: {resume}"
    return (f"interrupted; {done} of {total} runs finished in {out} (kept; the others resume "
            f"from their last checkpoint); resume with: {resume}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    from rnnrank.learning.trainer import TrainingDiverged

    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(args=argv, standalone_mode=False, prog_name="rnnrank")
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("rnnrank: aborted", file=sys.stderr)
        return 130
    except Interrupted as exc:
        print(f"rnnrank: {exc}", file=sys.stderr)
        return 130
    except (BadInput, ValueError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"rnnrank: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"rnnrank: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Usage errors of typer's click (vendored in recent typer) carry exit_code 2 and
        # format_message(); matched by duck type so either click works.
        if getattr(exc, "exit_code", None) != 2 or not hasattr(exc, "format_message"):
            raise
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"rnnrank: error: {exc.format_message()}{hint}", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
