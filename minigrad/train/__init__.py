"""Training: fit / evaluate / predict, callbacks, History and the progress display."""
from .callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                        ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)
from .cv import CrossValidation, cross_validate
from .history import History
from .loop import Trainer, evaluate, fit, predict

__all__ = ["CSVLogger", "Callback", "CrossValidation", "EarlyStopping", "History",
           "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN",
           "Trainer", "cross_validate", "evaluate", "fit", "predict"]
