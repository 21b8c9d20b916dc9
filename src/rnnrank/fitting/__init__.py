"""Fit low-tensor-rank RNNs to recordings of learning (Pellegrino et al. 2023, NeurIPS).

    rec = load_recording("session.nwb")          # or .npz / .h5; data [T, K, n]
    fit = fit_ltr(rec, rank=3, n_rec=200, seed=0)
    cv  = cross_validate(rec, ranks=[1, 2, 3, 4, 5])   # nMSE and learning score per split
    learning_score(fit, rec, train_mask, test_mask)   # 0 for a network that does not learn
"""

from . import likelihoods as likelihoods
from .crossval import CVResult as CVResult
from .crossval import cross_validate as cross_validate
from .fit import Fit as Fit
from .gp import GPConfig as GPConfig
from .loaders import load_nwb as load_nwb
from .loaders import load_recording as load_recording
from .ltr_fit import FitOptions as FitOptions
from .ltr_fit import fit_ltr as fit_ltr
from .ltr_fit import transform as transform
from .masks import block_masks as block_masks
from .nested import NestedFit as NestedFit
from .nested import nested_fit as nested_fit
from .nested import split_masks as split_masks
from .network import fitted_network as fitted_network
from .recording import Recording as Recording
from .scores import learning_score as learning_score
from .scores import oracle_budget as oracle_budget
from .scores import running_condition_mean as running_condition_mean
from .synthetic import ltr_teacher as ltr_teacher
from .synthetic import record_network as record_network
