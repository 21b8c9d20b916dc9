# %% [markdown]
# # Pellegrino et al. 2023: reading low-tensor-rank learning out of activity
#
# *Low tensor rank learning of neural dynamics* (NeurIPS 2023) claims that the weights of a
# network over learning form a **low-tensor-rank** trajectory, W(k) = Σ_r c_r(k) a_r b_rᵀ, and
# that fitting such a network to recordings over many trials recovers it, where a network with
# fixed weights cannot explain the learning.
#
# `rnnrank reproduce pellegrino2023 --quick` tests this on a teacher with known weights: a
# centre-out reaching network, pretrained to convergence on reaches with a random preparatory
# period and calibrated to the paper's hand-error curve (≈ 0.065 at curl onset, recovery within
# tens of trials), that learns trial by trial through a curl field and washout. As in the
# authors' example, the *paper arm* fits the float rates of every unit from the go cue on; a
# *detection-limit arm* asks how much of the learning survives spike-count noise. Its **null
# control** is the same teacher on the same trials with learning switched off. Before any fit,
# the learning share of the clean rates' variance is compared with the splits' spread: a teacher
# whose learning is below it "cannot test the claim". Four claims get a verdict each.

# %%
import tempfile
from pathlib import Path

from IPython.display import Image, Markdown, display

from rnnrank.experiments import Claim
from rnnrank.experiments import pellegrino2023 as p23
from rnnrank.experiments.framework import verdict_markdown

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
captions = {"error": "Hand error per trial (teacher and null) against the paper's landmarks",
            "cv": "Held-out error and learning score against rank (mean ± s.e., 3 splits)",
            "weights": "The teacher's weight tensor: CP error against rank",
            "factors": "Fitted c(k) against the teacher's CP trial factors",
            "detection": "Detection limit: learning score against the counting-noise share"}
for png in sorted(out.glob("*.png")):
    display(Markdown(f"**{captions.get(png.stem, png.stem)}**"))
    display(Image(filename=str(png)))

# %% [markdown]
# ## The verdicts

# %%
claims = [Claim.from_dict(c) for c in results["claim_verdicts"]]
display(Markdown("\n".join(verdict_markdown(claims))))

# %% [markdown]
# ## What the quick size leaves out
#
# `rnnrank reproduce pellegrino2023` (no `--quick`) runs the paper's sizes. The quick run:

# %%
for line in p23.QUICK_LEAVES_OUT:
    print("-", line)
