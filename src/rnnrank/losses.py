"""Losses of network outputs against task targets, one value per ensemble member.

The default loss belongs to the task (``Task.loss``, masked MSE of its effector's output); this
module names it for analyses that evaluate networks outside training.
"""

from __future__ import annotations

from .tasks.base import masked_mse as masked_mse
