"""Analyses of weight trajectories.

* matrix rank of ΔW, truncation, shuffle controls, alignment with W0 (Schuessler et al. 2020),
  and its linear theory (``rnnrank.analysis.linear_theory``);
* CP (tensor) rank of the [K, N, N] weight tensor and its selection (Pellegrino et al. 2023),
  and the rank bounds of gradient descent (``rnnrank.analysis.rank_bounds``);
* whether learning has finished: a plateau test on loss curves and the fraction of final
  improvement (``rnnrank.analysis.plateau``, Liu et al. 2024's rules compared at the end of
  learning).
"""

from . import linear_theory as linear_theory
from . import plateau as plateau
from . import rank_bounds as rank_bounds
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
from .plateau import PlateauTest as PlateauTest
from .plateau import improvement_fraction as improvement_fraction
from .plateau import plateau_test as plateau_test
from .plateau import updates_to_fraction as updates_to_fraction
from .rank_selection import RankSelection as RankSelection
from .rank_selection import cp_similarity as cp_similarity
from .rank_selection import select_cp_rank as select_cp_rank
from .shuffle import ShuffleResult as ShuffleResult
from .shuffle import shuffle_test as shuffle_test
from .tensor_rank import CPDecomposition as CPDecomposition
from .tensor_rank import cp_decompose as cp_decompose
from .truncation import NetworkSnapshot as NetworkSnapshot
from .truncation import TruncationResult as TruncationResult
from .truncation import convergence_time as convergence_time
from .truncation import evaluate_networks as evaluate_networks
from .truncation import functional_rank as functional_rank
from .truncation import performance_vs_rank as performance_vs_rank
from .truncation import snapshot as snapshot
from .truncation import truncation_over_training as truncation_over_training
