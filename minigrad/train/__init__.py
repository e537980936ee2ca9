"""Training: fit / evaluate / predict, callbacks, History and the progress display."""
from .callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                        ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)
from ..nn.keras import register_trainer
from .cv import CrossValidation, cross_validate
from .history import History
from .keras_driver import KerasDriver
from .loop import Trainer, evaluate, fit, predict

register_trainer(KerasDriver())  # model.compile/fit/... (nn sits below train)

__all__ = ["CSVLogger", "Callback", "CrossValidation", "EarlyStopping", "History",
           "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN",
           "Trainer", "cross_validate", "evaluate", "fit", "predict"]
