"""A run directory: everything one training run writes, each file written atomically.

::

    <run>/config.yaml        resolved configuration (model, task, training) — rebuilds the run
    <run>/status.json        running | completed | diverged | interrupted | failed, with the last
                             step; a running one names its process (host, pid, start) and is
                             refreshed at every checkpoint, so a reader tells a live run from a
                             killed one (``read_status`` reports the latter as ``killed``)
    <run>/trajectory.zarr/   the weight trajectory (see ``trajectory``)
    <run>/progress.json      count of complete snapshots (authoritative)
    <run>/metrics.csv        loss per update and member; score at recorded steps
    <run>/checkpoint.pt      model + optimiser + rule + random-generator state, for resuming
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import socket
import time
from pathlib import Path

import torch

from .atomic import (
    read_json,
    read_yaml,
    save_torch_atomic,
    write_json_atomic,
    write_text_atomic,
    write_yaml_atomic,
)

METRIC_FIELDS = ("step", "member", "loss", "score", "seconds")


class RunDir:
    """Paths and atomic readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    def is_run(self) -> bool:
        return self.config_path.exists()

    def prepare(self, *, overwrite: bool) -> None:
        """Create the directory; with ``overwrite`` first delete a previous run in it."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--out {self.path} is a file, not a directory; choose another path")
        if self.path.is_dir() and any(self.path.iterdir()):
            if not self.is_run():
                raise ValueError(f"{self.path} is not empty and holds no rnnrank run; choose an "
                                 "empty or new directory")
            if overwrite:
                shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def read_config(self) -> dict:
        return read_yaml(self.config_path)

    def write_config(self, config: dict) -> None:
        write_yaml_atomic(self.config_path, config)

    def read_status(self) -> dict:
        """The status as written, except that a ``running`` run whose process is gone from this
        host (killed, or its machine restarted) reads as ``killed``, with its last step."""
        status = read_json(self.status_path) if self.status_path.exists() else {}
        if status.get("status") == "running" and _owner_is_dead(status.get("owner")):
            owner = status["owner"]
            status = {**status, "status": "killed",
                      "message": f"process {owner['pid']} on {owner['host']} is gone (last "
                                 f"checkpoint at step {status.get('step', '?')}); re-run to "
                                 "resume"}
        return status

    def write_status(self, status: str, **info) -> None:
        """Write ``status`` with ``info``; a ``running`` status also records its owner process
        and the time (``updated``, seconds since the epoch)."""
        if status == "running":
            info = {**info, "owner": _this_process(), "updated": round(time.time(), 3)}
        write_json_atomic(self.status_path, {"status": status, **info})

    def write_metrics(self, rows: list[tuple], extra_fields: tuple[str, ...] = ()) -> None:
        """Rows (step, member, loss, score, seconds, *extra); ``extra_fields`` names the extra
        columns (e.g. the gradient alignment), written with NaN as an empty cell."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow((*METRIC_FIELDS, *extra_fields))
        for step, member, loss, score, seconds, *extra in rows:
            writer.writerow((step, member, f"{loss:.9g}", _optional(score, "6g"),
                             f"{seconds:.3f}", *(_optional(v, "9g") for v in extra)))
        write_text_atomic(self.metrics_path, buf.getvalue())

    def read_metrics(self) -> list[tuple]:
        """Rows (step, member, loss, score or nan, seconds, *extra columns or nan)."""
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as f:
            reader = csv.DictReader(f)
            extra = [k for k in reader.fieldnames or () if k not in METRIC_FIELDS]
            return [(int(r["step"]), int(r["member"]), float(r["loss"]),
                     float(r["score"]) if r["score"] else math.nan, float(r["seconds"]),
                     *(float(r[k]) if r[k] else math.nan for k in extra))
                    for r in reader]

    def metric_fields(self) -> tuple[str, ...]:
        """The column names of metrics.csv (the five standard ones, then any extra)."""
        if not self.metrics_path.exists():
            return METRIC_FIELDS
        with open(self.metrics_path, newline="") as f:
            return tuple(next(csv.reader(f), METRIC_FIELDS))

    def save_checkpoint(self, state: dict) -> None:
        save_torch_atomic(self.checkpoint_path, state)

    def load_checkpoint(self) -> dict | None:
        if not self.checkpoint_path.exists():
            return None
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)


def rebuild(run: str | Path):
    """(model, task) of a run from its config.yaml (model with its *initial* parameters)."""
    from ..models import RateRNN
    from ..tasks import make

    cfg = read_yaml(Path(run) / "config.yaml")
    mcfg = dict(cfg["model"])
    cls = mcfg.pop("class", "RateRNN")
    if cls != "RateRNN":
        raise ValueError(f"this analysis needs a RateRNN run; this run has a {cls}")
    tcfg = dict(cfg["task"])
    return RateRNN.from_config(mcfg), make(tcfg.pop("name"), **tcfg)


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 (starttime), counted after "(comm)"


def _this_process() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def _owner_is_dead(owner: dict | None) -> bool:
    """True only when the owner ran on this host and its process no longer exists (a run on
    another host, or written before owners were recorded, is taken as live)."""
    if not owner or owner.get("host") != socket.gethostname():
        return False
    pid = int(owner["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by another user
    start = _process_start(pid)
    return owner.get("start") is not None and start is not None and start != owner["start"]


def _optional(value, fmt: str) -> str:
    return "" if value is None or math.isnan(value) else format(value, fmt)
