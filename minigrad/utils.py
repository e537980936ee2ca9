"""PyTorch's ``torch.utils.data`` and Keras's ``keras.utils.to_categorical`` spellings:
``mg.utils.data`` is ``mg.data``, so a ported script's ``torch.utils.data.DataLoader(...)``
and ``keras.utils.to_categorical(...)`` lines run unchanged."""
from . import data
from .data import to_categorical

__all__ = ["data", "to_categorical"]
