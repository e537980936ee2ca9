"""The Numba backend's old module name, kept so existing imports keep working; the
kernels live in the package ``minigrad.backend.numba``."""
from .numba import *  # noqa: F401,F403
from .numba import __all__  # noqa: F401
