"""Analyses of weight trajectories: matrix rank of ΔW, CP (tensor) rank, theory."""

from .matrix_rank import delta_norms as delta_norms
from .matrix_rank import participation_ratio as participation_ratio
from .matrix_rank import singular_values as singular_values
