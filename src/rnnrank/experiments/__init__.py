"""Paper reproductions, one subpackage each over one framework (``framework``):
``schuessler2020``, ``pellegrino2023``, ``liu2024``.

``reproduce(name, out, quick=..., full=...)`` runs one and returns a ``ReproductionResult``
(its report, wall time and a ``Claim`` with a verdict per claim); ``REPRODUCTIONS`` is the
registry of names that ``rnnrank reproduce NAME`` takes.
"""

from . import liu2024 as liu2024
from . import pellegrino2023 as pellegrino2023
from . import schuessler2020 as schuessler2020
from .framework import REPRODUCTIONS as REPRODUCTIONS
from .framework import Claim as Claim
from .framework import ReproductionResult as ReproductionResult
from .framework import Verdict as Verdict
from .framework import reproduce as reproduce
