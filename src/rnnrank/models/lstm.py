"""``LSTMNet``: a multi-layer ``torch.nn.LSTM`` with a linear readout, trainable by ``rr.train``.

Schuessler et al. (2020, NeurIPS, §5) train a 2-layer LSTM (hidden 256, dropout 0.5) and find that
the change of layer 2's recurrent weights is low rank. This wrapper gives ``rr.train`` what it needs
(``run``, ``recorded_parameters``, ``draw_noise``, ``config``) so the LSTM is trained and recorded
like any other model (autograd BPTT). ``W`` in its trajectory is the last layer's recurrent matrix
``weight_hh_l{L-1}`` [4H, H] (gates i, f, g, o stacked, as in PyTorch).

Dropout is the only randomness: its seed is drawn by ``draw_noise`` from the trainer's noise
generator and applied inside ``run``, so runs are reproducible and resume exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class LSTMConfig:
    n_in: int
    n_hidden: int
    n_out: int
    n_layers: int = 2
    dropout: float = 0.5
    seed: int = 0
    forget_bias: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class LSTMNet(nn.Module):
    """LSTM(n_in → n_hidden × n_layers) followed by y = V h + c at every time step.

    Args:
        n_in, n_hidden, n_out: sizes; n_layers: stacked LSTM layers; dropout: between layers
            (active only during training, i.e. ``run(grad=True)``); seed: of the initial weights;
            forget_bias: added to every layer's forget-gate bias at initialisation (PyTorch's
            default init has none; 1.0 lets gradients reach far back, Jozefowicz et al. 2015).
        dtype, device: of the parameters.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, *, n_layers: int = 2,
                 dropout: float = 0.5, seed: int = 0, forget_bias: float = 0.0,
                 dtype=torch.float32, device=None) -> None:
        super().__init__()
        for name, value in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out),
                            ("n_layers", n_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.config = LSTMConfig(n_in, n_hidden, n_out, n_layers, float(dropout), int(seed),
                                 float(forget_bias))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.lstm = nn.LSTM(n_in, n_hidden, num_layers=n_layers,
                                dropout=dropout if n_layers > 1 else 0.0)
            self.readout = nn.Linear(n_hidden, n_out)
        with torch.no_grad():  # gates are stacked (i, f, g, o): f is the second quarter
            for layer in range(n_layers):
                getattr(self.lstm, f"bias_ih_l{layer}")[n_hidden:2 * n_hidden] += forget_bias
        self.to(dtype=dtype, device=device)

    ensemble_size = 1
    is_ensemble = False

    @property
    def recurrent_name(self) -> str:
        return f"lstm.weight_hh_l{self.config.n_layers - 1}"

    def recorded_parameters(self) -> dict[str, Tensor]:
        """``W`` (last layer's recurrent matrix) first, then every other weight matrix."""
        params = dict(self.named_parameters())
        out = {"W": params[self.recurrent_name]}
        out.update({name.replace(".", "_"): p for name, p in params.items()
                    if p.dim() == 2 and name != self.recurrent_name})
        return out

    def draw_noise(self, steps: int, batch_size: int, generator: torch.Generator | None):
        """A dropout seed for one trial batch (int64 [1]), or None without dropout."""
        if self.config.dropout == 0.0 or self.config.n_layers == 1:
            return None
        return torch.randint(0, 2**62, (1,), generator=generator)

    def run(self, inputs: Tensor, *, noise: Tensor | None = None, generator=None,
            grad: bool = True) -> tuple[Tensor, Tensor]:
        """inputs [T, B, I] → (outputs [T, 1, B, O], hidden states of the last layer [T, 1, B, H]).

        ``grad=True`` trains (dropout on, seeded by ``noise``); ``grad=False`` evaluates.
        """
        if inputs.dim() != 3:
            raise ValueError(f"LSTMNet takes inputs [T, B, I], got {tuple(inputs.shape)}")
        p = next(self.parameters())
        inputs = inputs.to(dtype=p.dtype, device=p.device)
        self.train(grad)
        with torch.set_grad_enabled(grad), torch.random.fork_rng(devices=[]):
            if grad and noise is not None:
                torch.manual_seed(int(noise.reshape(-1)[0]))
            hidden, _ = self.lstm(inputs)
            outputs = self.readout(hidden)
        return outputs.unsqueeze(1), hidden.unsqueeze(1)

    @property
    def state_size(self) -> int:
        """D = 2·L·H: the hidden and cell states of every layer, the state ``step`` advances."""
        return 2 * self.config.n_layers * self.config.n_hidden

    def system(self, *, dtype: torch.dtype | None = None):
        """The network as a dynamical system on [h, c] (derivatives by forward-mode autograd)."""
        from .system import autograd_system

        return autograd_system(self, dtype=dtype)

    def step(self, x: Tensor, u: Tensor) -> Tensor:
        """One time step of the stacked LSTM (evaluation mode, no dropout) on a flat state.

        The same weights as ``self.lstm``, applied cell by cell (PyTorch's gate order i, f, g, o)::

            (i, f, g, o) = W_ih z + b_ih + W_hh h + b_hh,   z = u (layer 0) or h' of the layer below
            c' = σ(f) c + σ(i) tanh(g),   h' = σ(o) tanh(c')

        Args: x [1, B, D] = per layer [h_l, c_l] concatenated (D = ``state_size``); u [B, I].
        Returns: the next state [1, B, D]. This is what ``rnnrank.dynamics`` differentiates.
        """
        H, L = self.config.n_hidden, self.config.n_layers
        parts, z = [], u
        for layer in range(L):
            h = x[..., 2 * layer * H:(2 * layer + 1) * H]
            c = x[..., (2 * layer + 1) * H:(2 * layer + 2) * H]
            w = {name: getattr(self.lstm, f"{name}_l{layer}")
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            gates = z @ w["weight_ih"].T + h @ w["weight_hh"].T + w["bias_ih"] + w["bias_hh"]
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            parts += [h, c]
            z = h
        return torch.cat(parts, dim=-1)

    def forward(self, inputs: Tensor) -> Tensor:
        """Outputs [T, B, O] (evaluation mode when gradients are disabled)."""
        return self.run(inputs, grad=torch.is_grad_enabled())[0][:, 0]
