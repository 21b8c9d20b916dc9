"""``RateRNN``: the leaky rate network of docs/concepts.md as a ``torch.nn.Module``, single or
ensemble.

The class holds parameters and hyperparameters; the computation lives in ``rate_dynamics``
(``step``, ``unroll``, ``unroll_states``, ``readout``), which every rule and analysis reuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ..ensemble import with_members, without_members
from ..nonlinearities import get_nonlinearity
from . import rate_dynamics as rd
from .connectivity import INITS, IO_SCALES, initial_recurrent, input_weights, readout_weights
from .system import System, rate_system

PARAMETER_NAMES = ("W", "U", "V", "b", "x0")


@dataclass(frozen=True)
class RateRNNConfig:
    """Everything needed to rebuild a ``RateRNN`` (saved with every run).

    ``gains`` and ``seeds`` hold one entry per ensemble member; ``ensemble`` says whether the
    parameters carry a leading member axis E (False only for a single network).
    """

    n_in: int
    n_rec: int
    n_out: int
    gains: tuple[float, ...]
    seeds: tuple[int, ...]
    ensemble: bool
    nonlinearity: str = "tanh"
    tau: float = 1.0
    dt: float = 0.2
    noise: float = 0.0
    init: str = "gaussian"
    sparsity: float = 0.1
    io_scale: str = "field"
    trainable: tuple[str, ...] = ("W", "U", "V", "b")

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("gains", "seeds", "trainable"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RateRNNConfig:
        d = dict(d)
        for key in ("gains", "seeds", "trainable"):
            d[key] = tuple(d[key])
        return cls(**d)


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:
            raise ValueError(f"{name} must not be an empty sequence")
        return tuple(value)
    return (value,)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class RateRNN(nn.Module):
    """Leaky rate RNN ``x ← (1−α)x + α(Wφ(x) + Uu + b) + σ√α ξ``, ``y = Vφ(x)``, α = dt/τ.

    Args:
        n_in, n_rec, n_out: input, recurrent (N) and output sizes.
        gain: g of the initial connectivity W0 = g·J/√N; a sequence makes an ensemble. The Liu
            lab's ``ini_gain`` is g = 1.5·ini_gain (``connectivity.gain_of_ini_gain``).
        seed: seed of the initial parameters; a sequence makes an ensemble. A scalar
            broadcasts against a sequence. Member e equals ``RateRNN(gain=gains[e],
            seed=seeds[e])`` exactly.
        nonlinearity: ``"tanh"`` (default), ``"relu"``, ``"softplus"``, ``"identity"``,
            ``"retanh"`` (max(tanh x, 0), the Liu lab's units).
        tau, dt: time constant and Euler step, in the same units as task timings.
        noise: σ, the standard deviation of the private noise per √(unit time).
        init: ``"gaussian"``, ``"orthogonal"`` or ``"sparse"`` (see ``connectivity``).
        sparsity: connection probability for ``init="sparse"``.
        io_scale: ``"field"`` (‖U columns‖ = √N, ‖V rows‖ = 1/√N; Schuessler et al. 2020),
            ``"pytorch"`` or ``"fan_in"`` (U ~ N(0, 1/I), the Liu lab's; see ``connectivity``).
        trainable: which of ``W, U, V, b, x0`` learn (b and x0 start at zero); add ``"x0"`` for
            a learned initial state (the Liu lab's ``LEARN_ah0=True``).
        dtype, device: of the parameters (float32 for training, float64 for theory tests).

    Attributes ``W [N,N]``, ``U [N,I]``, ``V [O,N]``, ``b [N]``, ``x0 [N]`` are parameters; an
    ensemble of E members carries a leading axis (``W [E,N,N]``). ``params()`` always returns the
    ensemble layout, which is what the dynamics functions take.
    """

    def __init__(
        self,
        n_in: int,
        n_rec: int,
        n_out: int,
        *,
        gain: float | Sequence[float] = 1.0,
        seed: int | Sequence[int] = 0,
        nonlinearity: str = "tanh",
        tau: float = 1.0,
        dt: float = 0.2,
        noise: float = 0.0,
        init: str = "gaussian",
        sparsity: float = 0.1,
        io_scale: str = "field",
        trainable: Sequence[str] = ("W", "U", "V", "b"),
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        gains, seeds = _as_tuple(gain, "gain"), _as_tuple(seed, "seed")
        ensemble = len(gains) > 1 or len(seeds) > 1 or not (
            isinstance(gain, (int, float)) and isinstance(seed, int)
        )
        if len(gains) == 1:
            gains = gains * len(seeds)
        if len(seeds) == 1:
            seeds = seeds * len(gains)
        if len(gains) != len(seeds):
            raise ValueError(
                f"gain and seed sequences must have the same length, got {len(gains)} and "
                f"{len(seeds)}; pass one scalar to broadcast it"
            )
        config = RateRNNConfig(
            n_in=_positive_int(n_in, "n_in") if n_in != 0 else 0,
            n_rec=_positive_int(n_rec, "n_rec"),
            n_out=_positive_int(n_out, "n_out"),
            gains=tuple(float(g) for g in gains),
            seeds=tuple(int(s) for s in seeds),
            ensemble=ensemble,
            nonlinearity=nonlinearity,
            tau=float(tau),
            dt=float(dt),
            noise=float(noise),
            init=init,
            sparsity=float(sparsity),
            io_scale=io_scale,
            trainable=tuple(trainable),
        )
        _validate(config)
        self._build(config, dtype=dtype, device=device)

    @classmethod
    def from_config(
        cls, config: RateRNNConfig | dict, *, dtype=torch.float32, device=None
    ) -> RateRNN:
        """Rebuild a model (with its initial parameters) from a saved configuration."""
        if isinstance(config, dict):
            config = RateRNNConfig.from_dict(config)
        _validate(config)
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model._build(config, dtype=dtype, device=device)
        return model

    def _build(self, config: RateRNNConfig, *, dtype, device) -> None:
        self.config = config
        self.phi = get_nonlinearity(config.nonlinearity)
        n, n_in, n_out = config.n_rec, config.n_in, config.n_out
        members = []
        for gain, seed in zip(config.gains, config.seeds, strict=True):
            gen = torch.Generator().manual_seed(seed)
            W = initial_recurrent(n, gain, init=config.init, generator=gen,
                                  sparsity=config.sparsity)
            U = input_weights(n, n_in, io_scale=config.io_scale, generator=gen)
            V = readout_weights(n, n_out, io_scale=config.io_scale, generator=gen)
            members.append((W, U, V))
        stacked = {
            "W": torch.stack([m[0] for m in members]),
            "U": torch.stack([m[1] for m in members]),
            "V": torch.stack([m[2] for m in members]),
            "b": torch.zeros(len(members), n, dtype=torch.float64),
            "x0": torch.zeros(len(members), n, dtype=torch.float64),
        }
        for name, value in stacked.items():
            value = without_members(value, config.ensemble)
            param = nn.Parameter(value.to(dtype=dtype, device=device),
                                 requires_grad=name in config.trainable)
            self.register_parameter(name, param)

    # --- hyperparameters ------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """α = dt/τ, the fraction of the way to the fixed point covered per step."""
        return self.config.dt / self.config.tau

    @property
    def n_rec(self) -> int:
        return self.config.n_rec

    @property
    def ensemble_size(self) -> int:
        return len(self.config.gains)

    @property
    def is_ensemble(self) -> bool:
        return self.config.ensemble

    def params(self) -> rd.RateParams:
        """Parameters in ensemble layout (views, so autograd flows to the parameters)."""
        return rd.RateParams(*(with_members(getattr(self, name), self.is_ensemble)
                               for name in PARAMETER_NAMES))

    def recorded_parameters(self) -> dict[str, Tensor]:
        """What a trajectory records at every snapshot (W first: it is the primary array)."""
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    def system(self, *, dtype: torch.dtype | None = None) -> System:
        """The network as a dynamical system (analytic Jacobian; ``models.system``)."""
        return rate_system(self.params(), alpha=self.alpha, phi=self.phi, dt=self.config.dt,
                           dtype=dtype, detach=True, is_ensemble=self.is_ensemble)

    # --- running --------------------------------------------------------------------------
    def draw_noise(self, steps: int, batch_size: int, generator: torch.Generator | None):
        """Standard normal ξ [T, E, B, N] for a trial, or None for a noiseless network."""
        if self.config.noise <= 0.0:
            return None
        shape = (steps, self.ensemble_size, batch_size, self.n_rec)
        xi = torch.randn(shape, generator=generator, dtype=self.W.dtype)
        return xi.to(self.W.device)

    def run(
        self,
        inputs: Tensor,
        *,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        grad: bool = True,
        detach_every: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Unroll on inputs [T, B, I] or [T, E, B, I] → (outputs [T,E,B,O], states [T+1,E,B,N]).

        ``noise`` (standard normal, [T, E, B, N]) is drawn from ``generator`` when not given.
        ``grad=False`` takes the graph-free fast path; ``detach_every=k`` cuts the gradient
        through the state every k steps (truncated BPTT).
        """
        params = self.params()
        inputs = inputs.to(dtype=params.W.dtype, device=params.W.device)
        if noise is None:
            noise = self.draw_noise(inputs.shape[0], inputs.shape[-2], generator)
        kw = dict(alpha=self.alpha, phi=self.phi, noise=noise, noise_std=self.config.noise)
        if grad:
            states = rd.unroll(params, inputs, detach_every=detach_every, **kw)
            rates = self.phi.f(states)
        else:
            states, rates = rd.unroll_states(params, inputs, **kw)
        with torch.set_grad_enabled(grad):
            outputs = rd.readout(params, rates[1:])
        return outputs, states

    def forward(self, inputs: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Outputs [T, B, O] of a single network, [T, E, B, O] of an ensemble."""
        outputs, _ = self.run(inputs, generator=generator, grad=torch.is_grad_enabled())
        return without_members(outputs, self.is_ensemble, axis=1)

    def extra_repr(self) -> str:
        c = self.config
        gains = c.gains[0] if not c.ensemble else list(c.gains)
        return (f"n_in={c.n_in}, n_rec={c.n_rec}, n_out={c.n_out}, gain={gains}, "
                f"nonlinearity={c.nonlinearity!r}, alpha={self.alpha:g}, E={self.ensemble_size}")


def _validate(c: RateRNNConfig) -> None:
    if c.init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {c.init!r}")
    if c.io_scale not in IO_SCALES:
        raise ValueError(f"io_scale must be one of {IO_SCALES}, got {c.io_scale!r}")
    if not (c.tau > 0 and c.dt > 0 and c.dt <= c.tau):
        raise ValueError(f"need 0 < dt <= tau, got dt={c.dt}, tau={c.tau}")
    if c.noise < 0:
        raise ValueError(f"noise must be >= 0, got {c.noise}")
    if any(g < 0 for g in c.gains):
        raise ValueError(f"gain must be >= 0, got {list(c.gains)}")
    unknown = set(c.trainable) - set(PARAMETER_NAMES)
    if unknown:
        raise ValueError(f"trainable must name parameters among {PARAMETER_NAMES}, "
                         f"got unknown {sorted(unknown)}")
    get_nonlinearity(c.nonlinearity)
