"""Shared test helpers. Every test seeds its own generators; nothing global is touched."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Test tensors are tiny: thread start-up costs more than it saves on a shared 2-core box.
    # RNNRANK_TEST_THREADS=2 runs the suite with two threads (another rounding of every sum):
    # no test may depend on which.
    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("RNNRANK_TEST_THREADS", "1")))
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
