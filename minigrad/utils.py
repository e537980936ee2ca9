"""PyTorch's ``torch.utils.data`` spelling: ``mg.utils.data`` is ``mg.data``, so a
ported script's ``torch.utils.data.DataLoader(...)`` line runs unchanged."""
from . import data

__all__ = ["data"]
