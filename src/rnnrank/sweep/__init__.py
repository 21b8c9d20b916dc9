"""Sweeps: grids of runs as batched ensembles, on local processes, Slurm (submitit) or Ray —
resumable, collected into one table (``collect``) and plotted (``sweep_report``)."""

from .collect import collect as collect
from .ensemble_train import train_ensemble as train_ensemble
from .planner import plan as plan
from .report import sweep_report as sweep_report
from .runner import run_sweep as run_sweep
from .spec import RunSpec as RunSpec
from .spec import SweepSpec as SweepSpec
from .spec import load_spec as load_spec
