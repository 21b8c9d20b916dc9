"""Shared test helpers. Every test seeds its own generators; nothing global is touched."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Test tensors are tiny: thread start-up costs more than it saves on a shared 2-core box.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
