"""Memory of the online rules does not grow with the trial length T (BPTT's does).

Measured in a fresh process by its peak resident memory (VmHWM, Linux; it only grows): after a
warm-up on a short trial, a trial 50× longer may raise the peak of e-prop and RFLO by little,
while BPTT's states, rates and adjoints (3·T·B·N floats) raise it by ≈ 3·4000·16·128·4 B = 98 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, torch
import rnnrank as rr
torch.set_num_threads(1)
def peak_mb():  # VmHWM: peak resident set of this process (ru_maxrss survives exec from pytest)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
model = rr.RateRNN(1, 128, 1, gain=1.0, seed=0, dt=0.2)
def batch(T):
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(T, 16, 1, generator=gen)
    return rr.tasks.Batch(u, torch.zeros(T, 16, 1), torch.ones(T, 16, 1))
out = {}
for rule in ("eprop", "rflo", "bptt"):
    rr.learning.estimate_gradients(model, batch(80), rule=rule)  # warm-up: chunk buffers
    before = peak_mb()
    rr.learning.estimate_gradients(model, batch(4000), rule=rule)
    out[rule] = peak_mb() - before
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_online_rules_memory_is_flat_in_trial_length():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, check=True, timeout=300)
    growth = json.loads(done.stdout.strip().splitlines()[-1])
    # e-prop and RFLO keep one chunk of states and their traces; what grows with T is only the
    # outputs and the output error ([T, B, O]: 4000·16·4 B = 0.26 MB each). Measured 2–5 MB
    # (allocator noise); allow 20 MB, a fifth of BPTT's growth.
    assert growth["eprop"] < 20 and growth["rflo"] < 20, growth
    # the control: BPTT's memory does grow (3 buffers of [T+1, B, N] float32 ≈ 98 MB)
    assert growth["bptt"] > 60, growth
