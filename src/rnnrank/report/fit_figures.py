"""What a low-tensor-rank fit did: data against prediction, trial factors c(k), loss curve."""

from __future__ import annotations

import numpy as np

from ._mpl import new_figure


def fit_figure(fit, history: list[tuple[int, float]] | None = None, *, n_units: int = 3,
               n_trials: int = 3, others: list | None = None):
    """A Figure of a ``rr.fitting.Fit``: three panels.

    Args:
        fit: the fit; its recording holds data [T, K, n].
        history: (iteration, validation loss) pairs as ``fit_ltr(progress=...)`` reports them.
        n_units, n_trials: the units with the largest variance and trials spread evenly over
            the recording, drawn as data (grey) against the fit's prediction (colour).
        others: trial factors [K, R] of fits from other seeds, matched to this fit's
            components (``rnnrank.fitting.agreement.seed_agreement``): drawn thin beside c(k),
            so drift that other seeds do not find shows as noise.
    """
    rec = fit.recording
    data = rec.data.double().numpy()
    pred = fit.predict().double().numpy()
    T, K, n = data.shape
    units = np.argsort(np.nanvar(data, axis=(0, 1)))[::-1][:n_units]
    trials = np.unique(np.linspace(0, K - 1, n_trials).round().astype(int))
    fig, (ax_d, ax_c, ax_l) = new_figure((12.5, 3.4), 1, 3)
    times = rec.times.numpy()
    span = float(np.nanmax(np.abs(data[:, trials][:, :, units]))) or 1.0
    for j, i in enumerate(units):
        for m, k in enumerate(trials):
            x = times + m * (times[-1] - times[0] + (times[1] - times[0] if T > 1 else 1)) * 1.1
            off = -2.2 * span * j
            ax_d.plot(x, data[:, k, i] + off, color="0.6", lw=1.2,
                      label="data" if (j, m) == (0, 0) else None)
            ax_d.plot(x, pred[:, k, i] + off, color=f"C{j}", lw=1.2,
                      label="fit" if (j, m) == (0, 0) else None)
    ax_d.set(title=f"units {units.tolist()} × trials {trials.tolist()}", xlabel="time (per trial)",
             yticks=[])
    ax_d.legend(frameon=False, fontsize=8)
    c, _, _ = fit.factors
    tid = rec.trial_id.numpy()
    for r in range(fit.rank):
        ax_c.plot(tid, c.double().numpy()[:, r], lw=1.6, color=f"C{r}",
                  label=f"c_{r + 1}(k), best seed" if r == 0 else None)
        for j, m in enumerate(others or []):
            ax_c.plot(tid, m[:, r], lw=0.8, ls="--", color=f"C{r}", alpha=0.7,
                      label="other seeds (matched)" if (r, j) == (0, 0) else None)
    title = f"trial factors c_r(k), R = {fit.rank}"
    if others:
        title += f", {len(others) + 1} seeds"
        ax_c.legend(frameon=False, fontsize=7)
    ax_c.set(title=title, xlabel="trial id", ylabel="c_r(k)")
    if history:
        it, loss = np.asarray(history, dtype=float).T
        ax_l.plot(it, loss, marker=".", lw=1)
        ax_l.set(yscale="log")
    ax_l.set(title="validation loss (normalised)", xlabel="iteration")
    return fig
