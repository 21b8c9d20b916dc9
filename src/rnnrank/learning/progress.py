"""A rich progress bar for long loops, or a no-op when disabled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(total: int, start: int = 0, *, enabled: bool, label: str
                 ) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(loss)``; draws ``label ━━━ 120/2000 loss 0.012 0:00:05 < 0:01:10``."""
    if not enabled:
        yield lambda loss: None
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.4g}"), TimeElapsedColumn(),
               TextColumn("<"), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(label, total=total, completed=min(start, total), loss=float("nan"))
        yield lambda loss: bar.update(task, advance=1, loss=loss)
