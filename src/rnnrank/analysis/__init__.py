"""Analyses of weight trajectories: matrix rank of ΔW, truncation, shuffle controls, alignment
with W0, and the linear theory of Schuessler et al. (2020) (``rnnrank.analysis.linear_theory``)."""

from . import linear_theory as linear_theory
from .alignment import alignment as alignment
from .alignment import alignment_over_training as alignment_over_training
from .matrix_rank import delta_norms as delta_norms
from .matrix_rank import effective_rank as effective_rank
from .matrix_rank import low_rank as low_rank
from .matrix_rank import participation_ratio as participation_ratio
from .matrix_rank import ranks_over_training as ranks_over_training
from .matrix_rank import singular_values as singular_values
from .matrix_rank import spectra_over_training as spectra_over_training
from .matrix_rank import truncate as truncate
from .shuffle import ShuffleResult as ShuffleResult
from .shuffle import shuffle_test as shuffle_test
from .truncation import NetworkSnapshot as NetworkSnapshot
from .truncation import TruncationResult as TruncationResult
from .truncation import convergence_time as convergence_time
from .truncation import evaluate_networks as evaluate_networks
from .truncation import functional_rank as functional_rank
from .truncation import performance_vs_rank as performance_vs_rank
from .truncation import snapshot as snapshot
from .truncation import truncation_over_training as truncation_over_training
