"""Models: the leaky rate RNN (single or ensemble) and its step function."""

from . import rate_dynamics as rate_dynamics
from .lstm import LSTMNet as LSTMNet
from .rate_dynamics import RateParams as RateParams
from .rate_dynamics import step as step
from .rate_rnn import RateRNN as RateRNN
from .rate_rnn import RateRNNConfig as RateRNNConfig
