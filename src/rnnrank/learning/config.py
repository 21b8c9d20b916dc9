"""``TrainConfig``: the validated, frozen description of a training run (saved in config.yaml)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .schedule import SCHEDULES

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        rule: learning rule name (``"bptt"``; later ``"eprop"``, ``"rflo"``).
        rule_options: keyword options of the rule (e.g. ``{"truncation": 10}``).
        steps: number of parameter updates.
        lr: learning rate.
        optimizer: ``"adam"`` or ``"sgd"`` (plain gradient descent, no momentum).
        batch_size: trials per update.
        record_every: a snapshot of every parameter every this many updates (and at 0 and the end).
        seed: seed of the task batches and of the private noise.
        checkpoint_every: updates between checkpoints (and flushes of metrics.csv).
        grad_clip: clip each member's gradient norm to this value (None: no clipping).
        independent_batches: give every ensemble member its own batch of trials.
        track_alignment: at every recorded step, also compute the exact gradient and write the
            cosine of the rule's estimate with it into metrics.csv (``alignment.py``).
        lr_warmup: updates of linear learning-rate warm-up, lr·(k+1)/lr_warmup (0: none).
        lr_schedule: after the warm-up, ``"constant"`` or ``"cosine"`` decay to 0 at the last
            update (``schedule.py``).
        best_window: updates averaged when tracking each member's best parameters (``best.py``;
            written to ``best.pt`` with the checkpoints).
        restore_best: at the end, load each member's best parameters into the model (the
            recorded trajectory keeps the last ones).
        member_seeds: for an ensemble, one seed per member: member e's trials and noise come
            from generators seeded as the lone run with seed ``member_seeds[e]`` (``trials.py``),
            so each member is exactly that run (sweeps train their runs this way).
    """

    rule: str = "bptt"
    rule_options: dict = field(default_factory=dict)
    steps: int = 1000
    lr: float = 1e-3
    optimizer: str = "adam"
    batch_size: int = 32
    record_every: int = 10
    seed: int = 0
    checkpoint_every: int = 100
    grad_clip: float | None = None
    independent_batches: bool = False
    track_alignment: bool = False
    lr_warmup: int = 0
    lr_schedule: str = "constant"
    best_window: int = 20
    restore_best: bool = False
    member_seeds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "record_every", "checkpoint_every", "lr_warmup",
                     "best_window"):
            value = getattr(self, name)
            minimum = 0 if name in ("steps", "lr_warmup") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        if self.member_seeds is not None:
            seeds = tuple(self.member_seeds)
            if not seeds or any(isinstance(v, bool) or not isinstance(v, int) for v in seeds):
                raise ValueError(f"member_seeds must be integers, one per member, got "
                                 f"{self.member_seeds!r}")
            object.__setattr__(self, "member_seeds", seeds)
        if self.lr_warmup > self.steps:
            raise ValueError(f"lr_warmup must be <= steps ({self.steps}), got {self.lr_warmup}; "
                             "shorten the warm-up or train longer")

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["member_seeds"] is not None:
            d["member_seeds"] = list(d["member_seeds"])
        return d

    @property
    def n_snapshots(self) -> int:
        """Snapshots a complete run records: step 0, every ``record_every``, and the last."""
        return self.steps // self.record_every + 1 + (self.steps % self.record_every != 0)
