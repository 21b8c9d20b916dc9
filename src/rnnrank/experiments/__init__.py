"""Paper reproductions, one module each: ``schuessler2020``, ``pellegrino2023``, ``liu2024``.

``REPRODUCTIONS`` maps the name used by ``rnnrank reproduce NAME`` to its ``reproduce`` function.
"""

from . import liu2024 as liu2024
from . import pellegrino2023 as pellegrino2023
from . import schuessler2020 as schuessler2020

REPRODUCTIONS = {"schuessler2020": schuessler2020.reproduce,
                 "pellegrino2023": pellegrino2023.reproduce, "liu2024": liu2024.reproduce}
