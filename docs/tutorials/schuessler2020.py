# %% [markdown]
# # Schuessler et al. 2020: learning changes the connectivity along a few directions
#
# *The interplay between randomness and structure during learning in RNNs* (NeurIPS 2020)
# trains rate networks from random connectivity W0 = g·J/√N and finds that the learned change
# ΔW = W − W0 is **low rank**: replacing ΔW by its best rank-R approximation keeps the trained
# network's performance for a small R (the *functional rank*), at every initial gain g, and
# shuffling W0 under the trained ΔW breaks the network once g is large. A linear theory
# predicts how fast learning goes, ∝ (1 − g²)⁻², and the shuffle loss, g⁴(2 − g²)².
#
# This page runs the reproduction at **tutorial size**: the method of `rnnrank reproduce
# schuessler2020` (the authors' setup: Adam 0.05/N, b untrained, every rank 0–25, the
# convergence gate, ≥ 2 seeds), but only on flip-flop, at N = 64, and without the LSTM. The
# verdicts at the end are this run's; the list of what it leaves out follows them.

# %%
import dataclasses
import tempfile
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Image, Markdown, display

from rnnrank.experiments import Claim
from rnnrank.experiments import schuessler2020 as s20
from rnnrank.experiments.framework import verdict_markdown

torch.set_num_threads(2)
setup = dataclasses.replace(
    s20.quick(), tasks=("flipflop",), n_rec=64, steps={"flipflop": 400, "mante": 0, "romo": 0},
    g_grid=(0.0, 0.9, 1.5), seeds=(0, 1), linear_n=128, linear_gains=(0.0, 0.3, 0.6, 0.9),
    linear_z_hats=(0.5,), linear_lr0=(0.015,), linear_draws=2, label="tutorial")
out = Path(tempfile.mkdtemp(prefix="schuessler_"))
results = s20.reproduce(out, setup=setup, lstm=False)
print(f"{len(results['networks'])} networks trained and analysed in {results['seconds']:.0f} s")

# %% [markdown]
# ## ΔW is low rank: performance against rank-R truncation
#
# Each trained network is run with W0 + [ΔW]_R (the trained input and readout kept) on fresh
# test trials; the functional rank is the smallest R whose loss is below 5 % of the loss at
# R = 0. Only networks that converged enter the means (the authors' gate).

# %%
captions = {
    "spectra": "Singular values of ΔW against those of W0, per g",
    "truncation": "Loss of W0 + [ΔW]_R against the rank R (relative to R = 0), per g",
    "vs_gain": "Convergence time, ‖ΔW‖, functional rank and the shuffle test against g",
    "linear": "The linear model against its theory and the authors' simulated points",
    "ranks_over_training": "Effective rank of ΔW(k) over training"}
for png in sorted(out.glob("*.png")):
    display(Markdown(f"**{captions.get(png.stem, png.stem)}**"))
    display(Image(filename=str(png)))

# %%
table = pd.DataFrame(results["summary"])
table

# %% [markdown]
# ## The verdicts
#
# Each claim beside the paper's value: our mean ± standard error over the converged seeds, and
# *reproduced* (within the tolerance the report states), *not reproduced*, or *inconclusive*
# (too few converged networks, or a grid that cannot show the effect).

# %%
claims = [Claim.from_dict(c) for c in results["claim_verdicts"]]
display(Markdown("\n".join(verdict_markdown(claims))))

# %% [markdown]
# ## What this size leaves out
#
# The full method runs with `rnnrank reproduce schuessler2020` (`--quick`: N = 128, all three
# tasks, the LSTM; `--full`: the paper's 145 networks as a resumable sweep). Against the
# authors' setup this tutorial differs in:

# %%
for line in results["differences_from_paper"]:
    print("-", line)
