# %% [markdown]
# # Liu et al. 2024: initial connectivity, bio-plausible rules and gradient flossing
#
# *How initial connectivity shapes biologically plausible learning in RNNs* (arXiv 2410.11164)
# claims that (1) the initial gain changes how well e-prop and RFLO learn, as it does for BPTT;
# (2) the largest Lyapunov exponent λ_max before and after training shows what an
# initialisation demands of training; (3) gradient flossing, applied to the bio-plausible rules
# as a pre-training phase, improves their learning.
#
# The reproduction uses the lab's conventions (W0 = 1.5·ini_gain·N(0,1)/√N, retanh units, a
# learned initial state, dt/τ = 0.1, Adam 3e-4, N = 200), trains every (rule, ini_gain) over
# seeds, measures the **driven** λ_max before and after training, and flosses the driven network.
# This page runs it at **tutorial size**: `--quick`'s Mante setup with BPTT and e-prop only
# (e-prop also from pre-flossed networks), 3 seeds and 3 gains.

# %%
import dataclasses
import tempfile
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Image, Markdown, display

from rnnrank.experiments import Claim, liu2024
from rnnrank.experiments.framework import verdict_markdown

torch.set_num_threads(2)
setup = dataclasses.replace(
    liu2024.quick(), seeds=(0, 1, 2), ini_gains=(0.5, 1.0, 2.0), rules=("bptt", "eprop"),
    floss_rules=("eprop",), label="tutorial",
    leaves_out=liu2024.quick().leaves_out + ("RFLO", "seed 3 and ini_gain 1.5 of --quick"))
out = Path(tempfile.mkdtemp(prefix="liu_"))
results = liu2024.reproduce(out, setup=setup)
print(f"{len(results['networks'])} networks in {results['seconds']:.0f} s")

# %% [markdown]
# ## Loss and λ_max against the initial gain

# %%
captions = {
    "loss_vs_g": "Final held-out loss against the initial gain, per rule (dashed: pre-flossed)",
    "lyapunov_vs_g": "λ_max of the task-driven network before and after training",
    "alignment_vs_g": "Cosine of each rule's update with the exact gradient",
    "loss_curves": "Training loss per rule and gain: has learning finished?"}
for png in sorted(out.glob("*.png")):
    display(Markdown(f"**{captions.get(png.stem, png.stem)}**"))
    display(Image(filename=str(png)))

# %%
pd.DataFrame(results["summary"])

# %% [markdown]
# ## The verdicts
#
# Each claim's statistic with its standard error over seeds, and *reproduced*, *not reproduced*
# or *inconclusive* when the effect is within the spread.

# %%
claims = [Claim.from_dict(c) for c in results["claim_verdicts"]]
display(Markdown("\n".join(verdict_markdown(claims))))

# %% [markdown]
# ## What this size leaves out

# %%
for line in setup.leaves_out:
    print("-", line)
