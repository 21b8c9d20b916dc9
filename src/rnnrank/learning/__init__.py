"""Learning: rules that produce gradient estimates, and the rule-agnostic trainer."""

from . import bptt as _bptt  # noqa: F401  (registers "bptt")
from .best import BestSnapshot as BestSnapshot
from .best import load_best as load_best
from .config import TrainConfig as TrainConfig
from .losses import masked_mse as masked_mse
from .rate_bptt import rate_bptt as rate_bptt
from .rules import LearningRule as LearningRule
from .rules import RuleResult as RuleResult
from .rules import available_rules as available_rules
from .rules import make_rule as make_rule
from .rules import register_rule as register_rule
from .schedule import lr_factor as lr_factor
from .trainer import Run as Run
from .trainer import TrainingDiverged as TrainingDiverged
from .trainer import train as train
