# %% [markdown]
# # Pellegrino et al. 2023: reading low-tensor-rank learning out of activity
#
# *Low tensor rank learning of neural dynamics* (NeurIPS 2023) claims that the weights of a
# network over learning form a **low-tensor-rank** trajectory, W(k) = Σ_r c_r(k) a_r b_rᵀ, and
# that fitting such a network to recordings over many trials recovers it, where a network with
# fixed weights cannot explain the learning.
#
# `rnnrank reproduce pellegrino2023 --quick` tests this on a teacher with known weights: a
# centre-out reaching network calibrated to the paper's hand-error curve (baseline ≈ 0.01,
# ≈ 0.065 at curl onset, recovery within tens of trials) that learns trial by trial through a
# curl field and washout, recorded as Poisson spike counts, smoothed and z-scored. Its **null
# control** is the same teacher with learning switched off. Four claims get a verdict each.

# %%
import tempfile
from pathlib import Path

import pandas as pd
import torch
from IPython.display import Image, Markdown, display

from rnnrank.experiments import pellegrino2023 as p23

out = Path(tempfile.mkdtemp(prefix="pellegrino_"))
results = p23.reproduce(out, quick_run=True)
print(f"done in {results['seconds']:.0f} s")

# %% [markdown]
# ## The teacher, the fits and the learning score
#
# The learning score asks what no total error can: on held-out entries, how much of what differs
# from a trial's condition mean does the fit predict? A fixed (trial-invariant) network scores
# exactly 0; the frozen teacher must score ≤ 0 within its error. The *learning budget* is how
# much better an oracle that tracks learning does than the condition mean: when it is below the
# fits' spread over splits, the verdict is *inconclusive*, not a rank.

# %%
for png in sorted(out.glob("*.png")):
    display(Markdown(f"**{png.stem}**"))
    display(Image(filename=str(png)))

# %% [markdown]
# ## The verdicts

# %%
rows = [{"claim": name, **{k: v for k, v in claim.items() if not isinstance(v, (dict, list))}}
        for name, claim in results["verdicts"].items()]
pd.DataFrame(rows)

# %% [markdown]
# ## What the quick size leaves out
#
# `rnnrank reproduce pellegrino2023` (no `--quick`) runs the paper's sizes. The quick run:

# %%
for line in p23.QUICK_LEAVES_OUT:
    print("-", line)
