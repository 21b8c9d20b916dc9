"""Learning: rules that produce gradient estimates, and the rule-agnostic trainer."""

from ..losses import masked_mse as masked_mse
from . import bptt as _bptt  # noqa: F401  (registers "bptt")
from .adjoints import register_adjoint as register_adjoint
from .config import TrainConfig as TrainConfig
from .flossing import Flossing as Flossing
from .hooks import TrainingHook as TrainingHook
from .hooks import register_hook as register_hook
from .rate_bptt import rate_bptt as rate_bptt
from .rules import LearningRule as LearningRule
from .rules import RuleResult as RuleResult
from .rules import available_rules as available_rules
from .rules import make_rule as make_rule
from .rules import register_rule as register_rule
from .trainer import Run as Run
from .trainer import TrainingDiverged as TrainingDiverged
from .trainer import train as train
