"""Figures without pyplot: nothing is imported, and no backend chosen, until a figure is made.

``matplotlib.figure.Figure`` objects built directly are not registered with pyplot: they hold
no global state (no ``plt.close`` needed), never switch the user's backend, and save to PNG
through matplotlib's Agg renderer whatever the backend (headless machines included). In a
notebook, ``display(fig)`` or ``fig.savefig(...)`` shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **subplot_kw):
    """A constrained-layout ``Figure`` of ``figsize`` inches and its axes.

    Returns:
        (fig, axes): ``axes`` is one ``Axes`` for 1×1, else a NumPy array of them
        (``squeeze=False`` in ``subplot_kw`` keeps the 2-d array).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (Agg renderer; no display needed)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
