"""rnnrank: how the connectivity of a recurrent network changes while it learns.

Train rate RNNs on neuroscience tasks while recording the whole weight trajectory W(k), and
measure its structure (the public interface, docs/index.md)::

    import rnnrank as rr
    task = rr.tasks.make("flipflop", n_bits=3)
    model = rr.RateRNN(n_in=task.n_in, n_rec=256, n_out=task.n_out, gain=1.5, seed=0)
    run = rr.train(model, task, rule="bptt", steps=2000, lr=1e-3, record_every=10, out="runs/ff")
    traj = rr.load_trajectory("runs/ff")
"""

from . import analysis as analysis
from . import dynamics as dynamics
from . import fitting as fitting
from . import learning as learning
from . import models as models
from . import report as report
from . import sweep as sweep
from . import tasks as tasks
from ._version import __version__ as __version__
from .learning import Run as Run
from .learning import TrainConfig as TrainConfig
from .learning import TrainingDiverged as TrainingDiverged
from .learning import load_best as load_best
from .learning import train as train
from .models import RateRNN as RateRNN
from .store import Trajectory as Trajectory
from .store import load_trajectory as load_trajectory
