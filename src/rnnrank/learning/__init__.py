"""Learning: rules that produce gradient estimates, and the rule-agnostic trainer."""

from ..losses import masked_mse as masked_mse
from . import bptt as _bptt  # noqa: F401  (registers "bptt")
from . import eprop as _eprop  # noqa: F401  (registers "eprop")
from . import feedback_alignment as _fa  # noqa: F401  (registers "fa")
from . import rflo as _rflo  # noqa: F401  (registers "rflo")
from .adjoints import register_adjoint as register_adjoint
from .alignment import cosine_alignment as cosine_alignment
from .best import BestSnapshot as BestSnapshot
from .best import load_best as load_best
from .config import TrainConfig as TrainConfig
from .eprop import eprop as eprop
from .estimate import estimate_gradients as estimate_gradients
from .flossing import Flossing as Flossing
from .hooks import TrainingHook as TrainingHook
from .hooks import register_hook as register_hook
from .rate_bptt import rate_bptt as rate_bptt
from .rflo import rflo as rflo
from .rules import LearningRule as LearningRule
from .rules import RuleResult as RuleResult
from .rules import available_rules as available_rules
from .rules import make_rule as make_rule
from .rules import register_rule as register_rule
from .schedule import lr_factor as lr_factor
from .schema import RUN_OPTIONS as RUN_OPTIONS
from .schema import build_run as build_run
from .schema import canonical as canonical
from .schema import options_of_run as options_of_run
from .trainer import Run as Run
from .trainer import TrainingDiverged as TrainingDiverged
from .trainer import train as train
