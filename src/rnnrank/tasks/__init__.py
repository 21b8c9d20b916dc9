"""Tasks: registered trial generators returning ``Batch(inputs, targets, mask)``, time first.

``make(name, **options)`` builds one; ``available_tasks()`` lists them.
"""

from . import flipflop as _flipflop  # noqa: F401  (registers the task)
from .base import Batch as Batch
from .base import Task as Task
from .base import available_tasks as available_tasks
from .base import make as make
from .base import masked_mean as masked_mean
from .base import register_task as register_task
