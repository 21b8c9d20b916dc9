"""Tasks: registered trial generators returning ``Batch(inputs, targets, mask)``, time first.

``make(name, **options)`` builds one; ``available_tasks()`` lists them.
"""

from .base import Batch as Batch
from .base import Task as Task
from .base import available_tasks as available_tasks
from .base import expand_middle as expand_middle
from .base import make as make
from .base import masked_mean as masked_mean
from .base import normalised_error as normalised_error
from .base import register_task as register_task

# Importing each task module registers its task.
from .delayed_xor import DelayedXOR as DelayedXOR
from .flipflop import FlipFlop as FlipFlop
from .mante import Mante as Mante
from .neurogym_adapter import NeurogymTask as NeurogymTask
from .reach import Reach as Reach
from .romo import Romo as Romo
from .sentiment import Sentiment as Sentiment
from .sentiment_memory import SentimentMemory as SentimentMemory
from .sine import Sine as Sine
