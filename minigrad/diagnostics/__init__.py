"""Study tools: gradient and activation statistics, graph export, a step-through of
backward, the lr range test, random search, sanity checks, MACs per layer and the
install doctor (``python -m minigrad doctor``)."""
from ..gradcheck import GradcheckError, gradcheck
from ..nn.flops import FlopsReport, flops
from .activations import ActivationMonitor, ActivationMonitorCallback
from .explain import explain_backward
from .filters import plot_filters
from .graph import GraphReleasedError, build_graph, to_dot
from .svg import render, to_svg
from .lr_finder import LRFinderResult, lr_finder
from .sanity import check_init, mc_dropout_predict, overfit_check
from .selu import SelfNormalizingWarning, check_self_normalizing
from .search import (Choice, IntUniform, LogUniform, OneMinusLogUniform, SearchResults,
                     Uniform, choice, integer, log_uniform, one_minus_log_uniform,
                     random_search, refine, uniform)
from .stats import after_step, gradient_stats, snapshot

__all__ = ["ActivationMonitor", "ActivationMonitorCallback", "Choice", "FlopsReport",
           "GradcheckError", "GraphReleasedError", "IntUniform", "LRFinderResult",
           "LogUniform", "OneMinusLogUniform", "SearchResults", "SelfNormalizingWarning",
           "Uniform", "after_step", "build_graph", "check_init", "check_self_normalizing",
           "choice", "explain_backward", "flops", "gradcheck", "gradient_stats", "integer",
           "log_uniform", "lr_finder", "mc_dropout_predict", "one_minus_log_uniform",
           "overfit_check", "plot_filters", "random_search", "refine", "render", "snapshot",
           "to_dot", "to_svg", "uniform"]
