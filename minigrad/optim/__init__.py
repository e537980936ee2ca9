"""Optimizers, gradient clipping and learning-rate schedules (PyTorch update rules
and defaults, Keras-style clipnorm/clipvalue and schedules)."""
from . import by_name, lr_scheduler, schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .clip import clip_grad_norm_, clip_grad_value_
from .nadam import Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedules import (CosineDecay, ExponentialDecay, LambdaSchedule, LearningRateSchedule,
                        OneCycle,
                        PiecewiseConstant, PowerDecay, StepDecay)
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Nadam", "Adamax",
           "Adadelta", "clip_grad_norm_", "clip_grad_value_", "by_name", "lr_scheduler",
           "schedules", "LearningRateSchedule", "ExponentialDecay", "PowerDecay", "StepDecay",
           "PiecewiseConstant", "CosineDecay", "LambdaSchedule", "OneCycle"]
