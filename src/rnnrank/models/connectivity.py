"""Initial connectivity W0 = g·J/√N and the input/readout vectors of rate networks.

Conventions (docs/concepts.md; Schuessler et al. 2020, NeurIPS, §2):

* ``"gaussian"``: J_ij ~ N(0, 1), W0 = g J / √N — spectral radius ≈ g for large N.
* ``"orthogonal"``: W0 = g Q with Q Haar-orthogonal (every eigenvalue has modulus g).
* ``"sparse"``: each J_ij is nonzero with probability p, W0 = g J / √(pN) (same radius ≈ g).

Input and readout scaling (``io_scale``):

* ``"field"`` (default, Schuessler et al. 2020): input vectors are random unit vectors times √N
  (‖m‖ = √N, entries O(1)), readout vectors are random unit vectors divided by √N (‖w‖ = 1/√N,
  entries O(1/N)). The small readout forces learning into the recurrent weights.
* ``"pytorch"``: ``nn.Linear``'s default, entries uniform in ±1/√fan_in.
* ``"fan_in"``: the Liu lab's CTRNN (LearningRuleSimilarities, main_train_model.py, after
  Sussillo et al. 2015): input entries N(0, 1/I), readout as ``nn.Linear`` (uniform ±1/√N).

Gain conventions: rnnrank's g is the scale of W0 = g·N(0, 1)/√N (radius ≈ g). The Liu lab draws
W_hh = 1.5·N(0, 1)/√N and multiplies it by ``ini_gain`` (LearningRuleSimilarities,
main_train_model.py: ``Wahh = 1.5 * randn / sqrt(N)``, ``gain_Wh2h=ini_gain``; REFERENCES §3):
``gain_of_ini_gain(ini_gain) = 1.5·ini_gain`` is the g to build that network with.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

INITS = ("gaussian", "orthogonal", "sparse")
IO_SCALES = ("field", "pytorch", "fan_in")
LIU_W_SCALE = 1.5  # W_hh = 1.5·N(0,1)/√N × ini_gain (Liu lab, LearningRuleSimilarities)


def gain_of_ini_gain(ini_gain: float) -> float:
    """rnnrank's g of the Liu lab's ``ini_gain``: W0 = 1.5·ini_gain·N(0, 1)/√N."""
    if not ini_gain >= 0:
        raise ValueError(f"ini_gain must be >= 0, got {ini_gain}")
    return LIU_W_SCALE * float(ini_gain)


def ini_gain_of_gain(gain: float) -> float:
    """The Liu lab's ``ini_gain`` of rnnrank's g (inverse of ``gain_of_ini_gain``)."""
    return float(gain) / LIU_W_SCALE


def initial_recurrent(
    n: int, gain: float, *, init: str, generator: torch.Generator, sparsity: float = 0.1
) -> Tensor:
    """W0 [N, N] in float64, drawn from ``generator``."""
    if init == "gaussian":
        return gain * torch.randn(n, n, generator=generator, dtype=torch.float64) / math.sqrt(n)
    if init == "orthogonal":
        z = torch.randn(n, n, generator=generator, dtype=torch.float64)
        q, r = torch.linalg.qr(z)
        # Sign fix of Mezzadri (2007) makes Q Haar distributed.
        return gain * q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if init == "sparse":
        if not 0.0 < sparsity <= 1.0:
            raise ValueError(f"sparsity must be in (0, 1], got {sparsity}")
        j = torch.randn(n, n, generator=generator, dtype=torch.float64)
        keep = torch.rand(n, n, generator=generator, dtype=torch.float64) < sparsity
        return gain * j * keep / math.sqrt(sparsity * n)
    raise ValueError(f"unknown init {init!r}; choose one of {INITS}")


def _unit_columns(rows: int, cols: int, generator: torch.Generator) -> Tensor:
    z = torch.randn(rows, cols, generator=generator, dtype=torch.float64)
    return z / z.norm(dim=0, keepdim=True)


def input_weights(n: int, n_in: int, *, io_scale: str, generator: torch.Generator) -> Tensor:
    """U [N, I] in float64: columns of norm √N (``"field"``), nn.Linear-style, or N(0, 1/I)."""
    if io_scale == "field":
        return _unit_columns(n, n_in, generator) * math.sqrt(n)
    if io_scale == "pytorch":
        bound = 1.0 / math.sqrt(max(n_in, 1))
        return (2 * torch.rand(n, n_in, generator=generator, dtype=torch.float64) - 1) * bound
    if io_scale == "fan_in":
        return torch.randn(n, n_in, generator=generator, dtype=torch.float64) / math.sqrt(
            max(n_in, 1))
    raise ValueError(f"unknown io_scale {io_scale!r}; choose one of {IO_SCALES}")


def readout_weights(n: int, n_out: int, *, io_scale: str, generator: torch.Generator) -> Tensor:
    """V [O, N] in float64: rows of norm 1/√N (``"field"``) or nn.Linear-style."""
    if io_scale == "field":
        return _unit_columns(n, n_out, generator).T / math.sqrt(n)
    if io_scale in ("pytorch", "fan_in"):
        bound = 1.0 / math.sqrt(n)
        return (2 * torch.rand(n_out, n, generator=generator, dtype=torch.float64) - 1) * bound
    raise ValueError(f"unknown io_scale {io_scale!r}; choose one of {IO_SCALES}")
