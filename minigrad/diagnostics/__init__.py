"""Study tools: gradient and activation statistics, graph export, a step-through of
backward, the lr range test, random search, sanity checks and the install doctor."""
from ..gradcheck import GradcheckError, gradcheck
from .activations import ActivationMonitor, ActivationMonitorCallback
from .explain import explain_backward
from .graph import GraphReleasedError, render, to_dot
from .stats import after_step, gradient_stats, snapshot

__all__ = ["ActivationMonitor", "ActivationMonitorCallback", "GradcheckError",
           "GraphReleasedError", "after_step", "explain_backward", "gradcheck",
           "gradient_stats", "render", "snapshot", "to_dot"]
