"""The setup of the Schuessler et al. (2020) reproduction: every value named once, with its
source (``paper()``), and the smaller ``quick()`` that keeps the method."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from ...tasks import make

TASKS = ("flipflop", "mante", "romo")


@dataclass(frozen=True)
class Setup:
    """Every value of a reproduction, named once (``paper()`` or ``quick()``).

    Sources: the paper (arXiv 2006.11036, §3 and appendix) and the authors' notebooks
    ``generate_nonlinear.ipynb`` / ``generate_linear.ipynb`` / ``figures_nonlinear.ipynb``
    (frschu/neurips_2020_interplay_randomness_structure), as listed in shared/REFERENCES.md §1.
    Rows a–g refer to the table of issue 22.
    """

    n_rec: int = 256  # (f) dim_rec = 256
    dt: float = 0.5  # (f) dt = 0.5, τ = 1
    lr_times_n: float = 0.05  # (f) Adam, lr = 0.05 / N
    batch_size: int = 32  # (f) batch_size = 32
    test_batch: int = 512  # (f) batch_size_test = 512
    steps: dict = field(default_factory=lambda: {  # (c) n_epochs (one update per epoch)
        "flipflop": 1000, "mante": 2000, "romo": 6000})
    g_max: dict = field(default_factory=lambda: {  # (f) gs = arange(0, g_max + 0.3, 0.3)
        "flipflop": 2.1, "mante": 2.7, "romo": 3.0})
    g_step: float = 0.3  # (f) step of the g grid
    g_grid: tuple | None = None  # overrides the arange grid (quick mode only)
    seeds: tuple = (0, 1, 2, 3, 4)  # (f) n_samples = 5
    task_options: dict = field(default_factory=lambda: {
        "flipflop": {"n_bits": 2, "memory": "last"},  # 2 channels, output holds the last pulse
        "mante": {"fixate": True},  # (a) Mante generated with fixate=True
        "romo": {"fixate": True}})  # Romo: target 0 (mask 1) before f2 ends
    trainable: tuple = ("W", "U", "V")  # (b) W_in, W, W_out trained; train_brec=False
    ranks: tuple = tuple(range(26))  # (e) n_ranks = 26: every R = 0 … 25
    rel_loss_c: float = 0.05  # (d) fig_specs.rel_loss_c: convergence and functional rank
    independent_batches: bool = True  # every network its own trials, as separate runs
    record_every: int = 50  # snapshots of W (recording only; not a paper value)
    n_shuffles: int = 1  # the authors shuffle W0 once per network
    # (g) the linear model (generate_linear.ipynb, scenario 'fig_3_4')
    linear_n: int = 1024  # dim_rec = 1024
    linear_gains: tuple = tuple(round(0.1 * i, 1) for i in range(10))  # arange(0, 1, 0.1)
    linear_z_hats: tuple = (0.5, 1.0, 2.0)  # target_amps
    linear_lr0: tuple = (0.015, 0.009, 0.003)  # lr0s per ẑ; SGD lr = lr0·(1 − g²)²
    linear_epochs: int = 200  # n_epochs, batch_size = 1 (one update per epoch)
    linear_draws: int = 5  # n_samples
    tasks: tuple = TASKS
    label: str = "paper"

    def gains(self, task: str) -> list[float]:
        """The g grid of ``task``: arange(0, g_max + step, step), or ``g_grid``."""
        if self.g_grid is not None:
            return [float(g) for g in self.g_grid]
        n = int(round(self.g_max[task] / self.g_step)) + 1
        return [round(i * self.g_step, 10) for i in range(n)]

    @property
    def lr(self) -> float:
        return self.lr_times_n / self.n_rec


def paper() -> Setup:
    """The authors' setup (rows a–g of issue 22). Hours on 2 CPU cores."""
    return Setup()


def quick() -> Setup:
    """A smaller run that keeps the method: Mante with fixation, b untrained, the convergence
    gate, every rank 0 … 25, 2 seeds. What it changes is listed by ``differences``."""
    return replace(Setup(), n_rec=128, steps={"flipflop": 600, "mante": 800, "romo": 1200},
                   g_grid=(0.0, 0.9, 1.5), seeds=(0, 1), test_batch=256, record_every=50,
                   linear_n=256, linear_gains=(0.0, 0.3, 0.6, 0.9), linear_z_hats=(0.5, 2.0),
                   linear_lr0=(0.015, 0.003), linear_draws=2, label="quick")


def differences(setup: Setup) -> list[str]:
    """Every field in which ``setup`` differs from ``paper()``, as "name: ours (paper: …)"."""
    ref = paper()
    out = []
    for f in fields(Setup):
        if f.name == "label":
            continue
        mine, theirs = getattr(setup, f.name), getattr(ref, f.name)
        if mine != theirs:
            if f.name == "g_grid":
                theirs = {t: ref.gains(t) for t in setup.tasks}
            out.append(f"{f.name}: {mine} (paper: {theirs})")
    return out


def make_task(name: str, setup: Setup):
    return make(name, dt=setup.dt, **setup.task_options[name])
