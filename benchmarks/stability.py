"""How often does Adam throw a solved network back out of its solution? (issue 13, part 2)

Trains, at quickstart size (RateRNN N = 128, batch 32, record every 10 updates), one ensemble of
``len(gains) × n_seeds`` members per (learning rate, variant) and counts, per (g, lr, variant)
cell, how many members

* **solved**: the accuracy recorded on the training batch (every 10 updates, 32 trials) reached
  ≥ 0.99 at some recorded step;
* **fell out**: solved, and afterwards either
  (a) a recorded accuracy dropped below 0.9, or
  (b) the mean loss of the last 100 updates is ≥ 10 × the best loss, where the best loss is the
      minimum over the run of the 20-update running mean of the per-update loss;
* **solved at end**: the mean of the last 5 recorded accuracies is ≥ 0.99.

Variants: ``none`` (plain Adam), ``clip`` (per-member gradient-norm clipping at ``--clip``),
``warmup`` (linear learning-rate warm-up over ``--warmup`` updates), ``warmup_cosine`` (warm-up,
then cosine decay to 0 at the last update), ``clip_warmup_cosine`` (all three).

    python benchmarks/stability.py run --lr 1e-3 --variant none --out /tmp/stab
    python benchmarks/stability.py table /tmp/stab          # the table of every run in /tmp/stab

Each ``run`` writes ``<out>/<task>_<variant>_lr<lr>.json`` (per-member verdicts) and prints its
seconds; the baseline for a ratio is the ``none`` variant at the same lr, measured in the same
grid. Runs are single-threaded (``torch.set_num_threads(1)``).

Measured (issue 13; 600 updates, 3 gains × 4 seeds, clip 1.0, warm-up 100; cell = solved / fell
out / solved at end, of 4):

| variant, lr | g = 0.5 | g = 0.9 | g = 1.5 |
|---|---|---|---|
| none 1e-3 | 4/0/4 | 4/0/4 | 3/1/1 |
| none 2e-3 | 4/1/3 | 4/1/3 | 2/1/1 |
| none 3e-3 | 4/3/2 | 0/0/0 | 2/1/2 |
| clip 1e-3 | 4/0/4 | 4/0/4 | 4/0/4 |
| clip 2e-3 | 4/0/4 | 4/0/4 | 3/0/3 |
| clip 3e-3 | 4/0/4 | 4/1/4 | 2/1/2 |
| warmup 2e-3 | 3/3/1 | 4/2/2 | 1/1/0 |
| warmup_cosine 2e-3 | 3/3/1 | 4/3/4 | 2/0/1 |
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

import rnnrank as rr
from rnnrank.store.run_dir import RunDir

VARIANTS = ("none", "clip", "warmup", "warmup_cosine", "clip_warmup_cosine")


def verdicts(loss: np.ndarray, acc: np.ndarray, *, window: int = 20, tail: int = 100,
             acc_steps: np.ndarray) -> dict:
    """Per-member verdicts from per-update losses ``[steps+1]`` and recorded accuracies ``[K]``."""
    solved_idx = np.flatnonzero(acc >= 0.99)
    solved = solved_idx.size > 0
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    best = float(smooth.min())
    final = float(loss[-tail:].mean())
    dropped = bool(solved and np.any(acc[solved_idx[0]:] < 0.9))
    blew_up = bool(solved and final >= 10 * best)
    return {"solved": bool(solved), "fell_out": dropped or blew_up, "acc_drop": dropped,
            "loss_up": blew_up, "solved_step": int(acc_steps[solved_idx[0]]) if solved else None,
            "best_loss": best, "final_loss": final,
            "final_acc": float(acc[-5:].mean()), "solved_at_end": bool(acc[-5:].mean() >= 0.99)}


def options(variant: str, *, clip: float, warmup: int) -> dict:
    opts = {}
    if "clip" in variant:
        opts["grad_clip"] = clip
    if "warmup" in variant:
        opts["lr_warmup"] = warmup
    if "cosine" in variant:
        opts["lr_schedule"] = "cosine"
    return opts


def run(args) -> None:
    torch.set_num_threads(1)
    gains = [g for g in args.gains for _ in range(args.n_seeds)]
    seeds = [s for _ in args.gains for s in range(args.n_seeds)]
    if args.task == "flipflop":
        task = rr.tasks.make("flipflop", n_bits=3, dt=0.2)
    else:
        task = rr.tasks.make("mante", dt=0.2)
    model = rr.RateRNN(task.n_in, args.n_rec, task.n_out, gain=gains, seed=seeds, dt=0.2)
    name = f"{args.task}_{args.variant}_lr{args.lr:g}"
    run_dir = Path(args.out) / "runs" / name
    t0 = time.perf_counter()
    rr.train(model, task, steps=args.steps, lr=args.lr, batch_size=32, record_every=10,
             out=run_dir, overwrite=True, seed=0, checkpoint_every=args.steps,
             **options(args.variant, clip=args.clip, warmup=args.warmup))
    seconds = time.perf_counter() - t0
    rows = RunDir(run_dir).read_metrics()
    E = len(gains)
    loss = np.array([r[2] for r in rows]).reshape(-1, E)
    score = np.array([r[3] for r in rows]).reshape(-1, E)
    steps = np.array([r[0] for r in rows]).reshape(-1, E)[:, 0]
    rec = ~np.isnan(score[:, 0])
    members = [{"gain": gains[e], "seed": seeds[e],
                **verdicts(loss[:, e], score[rec, e], acc_steps=steps[rec])} for e in range(E)]
    result = {"task": args.task, "variant": args.variant, "lr": args.lr, "steps": args.steps,
              "n_rec": args.n_rec, "clip": args.clip, "warmup": args.warmup,
              "seconds": seconds, "members": members}
    out = Path(args.out) / f"{name}.json"
    out.write_text(json.dumps(result, indent=1))
    shutil.rmtree(run_dir)
    print(f"{name}: {seconds:.0f} s, solved {sum(m['solved'] for m in members)}/{E}, "
          f"fell out {sum(m['fell_out'] for m in members)}/{E}")


def table(args) -> None:
    results = [json.loads(p.read_text()) for p in sorted(Path(args.dir).glob("*.json"))]
    cells: dict = {}
    for r in results:
        for m in r["members"]:
            cells.setdefault((r["task"], r["variant"], m["gain"], r["lr"]), []).append(m)
    lrs = sorted({r["lr"] for r in results})
    print("cell = solved / fell out / solved at end (members of n seeds)\n")
    for task in sorted({k[0] for k in cells}):
        for variant in [v for v in VARIANTS if any(k[1] == v for k in cells)]:
            head = f"| {task} {variant} | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |"
            print(head)
            print("|" + "---|" * (len(lrs) + 1))
            for g in sorted({k[2] for k in cells}):
                row = []
                for lr in lrs:
                    ms = cells.get((task, variant, g, lr))
                    row.append("–" if not ms else
                               f"{sum(m['solved'] for m in ms)}/{sum(m['fell_out'] for m in ms)}"
                               f"/{sum(m['solved_at_end'] for m in ms)} of {len(ms)}")
                print(f"| g = {g:g} | " + " | ".join(row) + " |")
            print()
    for r in results:
        print(f"{r['task']} {r['variant']} lr {r['lr']:g}: {r['seconds']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--task", choices=("flipflop", "mante"), default="flipflop")
    p.add_argument("--variant", choices=VARIANTS, default="none")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--n-rec", type=int, default=128)
    p.add_argument("--gains", type=float, nargs="+", default=[0.5, 0.9, 1.5])
    p.add_argument("--n-seeds", type=int, default=4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--out", default="/tmp/stability")
    t = sub.add_parser("table")
    t.add_argument("dir", nargs="?", default="/tmp/stability")
    args = parser.parse_args()
    (run if args.cmd == "run" else table)(args)


if __name__ == "__main__":
    main()
