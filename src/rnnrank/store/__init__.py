"""Run directories: configuration, trajectory (zarr), metrics, resumable checkpoints."""

from .trajectory import IncompleteTrajectory as IncompleteTrajectory
from .trajectory import SnapshotArray as SnapshotArray
from .trajectory import Trajectory as Trajectory
from .trajectory import TrajectoryWriter as TrajectoryWriter
from .trajectory import load_trajectory as load_trajectory
