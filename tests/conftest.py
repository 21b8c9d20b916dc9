"""Shared test helpers. Every test seeds its own generators; nothing global is touched."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
