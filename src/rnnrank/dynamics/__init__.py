"""Dynamics of rate networks: Lyapunov spectra (QR method) and fixed points."""

from .fixed_points import FixedPoints as FixedPoints
from .fixed_points import fixed_points as fixed_points
from .lyapunov import LyapunovSpectrum as LyapunovSpectrum
from .lyapunov import benettin as benettin
from .lyapunov import lyapunov_max as lyapunov_max
from .lyapunov import lyapunov_spectrum as lyapunov_spectrum
from .system import System as System
from .system import as_system as as_system
