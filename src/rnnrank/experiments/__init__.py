"""Paper reproductions, one module each: ``schuessler2020`` (Pellegrino 2023, Liu 2024 to come).

``REPRODUCTIONS`` maps the name used by ``rnnrank reproduce NAME`` to its ``reproduce`` function.
"""

from . import schuessler2020 as schuessler2020

REPRODUCTIONS = {"schuessler2020": schuessler2020.reproduce}
