"""Atomic file writes: write to a temporary file in the same directory, fsync, then rename.

A reader (or a run resumed after ``kill -9``) sees either the old file or the new one, never a
half-written one (POSIX ``rename`` is atomic within a file system).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch
import yaml


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fileobj)`` on a temporary file, then move it onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode()))


def write_json_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_yaml_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, yaml.safe_dump(obj, sort_keys=False))


def save_torch_atomic(path: str | Path, obj) -> None:
    """``torch.save`` atomically; keep ``obj`` to tensors and plain types (weights_only loads)."""
    write_atomic(path, lambda f: torch.save(obj, f))


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def read_yaml(path: str | Path):
    return yaml.safe_load(Path(path).read_text())
