"""Analysis of weight trajectories: tensor (CP) rank and its selection."""

from .rank_selection import RankSelection as RankSelection
from .rank_selection import cp_similarity as cp_similarity
from .rank_selection import select_cp_rank as select_cp_rank
from .tensor_rank import CPDecomposition as CPDecomposition
from .tensor_rank import cp_decompose as cp_decompose
