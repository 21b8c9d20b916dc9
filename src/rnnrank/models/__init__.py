"""Models: the leaky rate RNN (single or ensemble), its step and Jacobian, the LSTM wrapper."""

from . import rate_dynamics as rate_dynamics
from . import recurrence as recurrence
from .connectivity import gain_of_ini_gain as gain_of_ini_gain
from .connectivity import ini_gain_of_gain as ini_gain_of_gain
from .lstm import LSTMNet as LSTMNet
from .rate_dynamics import RateParams as RateParams
from .rate_dynamics import jacobian as jacobian
from .rate_dynamics import jvp as jvp
from .rate_dynamics import step as step
from .rate_dynamics import vjp as vjp
from .rate_rnn import RateRNN as RateRNN
from .rate_rnn import RateRNNConfig as RateRNNConfig
from .recurrence import Factorised as Factorised
