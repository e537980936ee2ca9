"""DistributedDataParallel: a Module whose gradients are averaged over the ranks at
the end of every backward pass through it."""
from __future__ import annotations

from typing import Any

from ..autograd import Function, is_grad_enabled, queue_callback
from ..nn.module import Module
from . import comm


class SyncGradients(Function):
    """Identity on the model's output. Its backward runs first in the reverse walk
    (the output is the newest tensor of the model), so it cannot average the
    parameters' gradients itself: it queues the all-reduce to run once the whole
    backward pass has finished, as PyTorch's DDP does with its engine callback."""

    rule = "dx = dy; queues the all-reduce of the parameters' gradients for the end of backward"

    def forward(self, ctx, y, ddp=None):
        ctx.ddp = ddp
        return y

    def backward(self, ctx, dy):
        ddp = ctx.ddp
        if not ddp._queued:  # several outputs, one all-reduce
            ddp._queued = True
            queue_callback(ddp._all_reduce)
        return dy


class DistributedDataParallel(Module):
    """Wraps ``module``: rank 0's parameters and buffers are broadcast at wrap time, and
    after each backward through the wrapper every trainable parameter's ``.grad`` is
    the average over the ranks. BatchNorm keeps per-rank running statistics (PyTorch
    DDP's default): they are not synchronised. The state dict is the module's own
    (no "module." prefix), so a checkpoint loads into the bare model."""

    def __init__(self, module: Module):
        super().__init__()
        self.module = module
        self._queued = False
        comm.broadcast_parameters(module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.module(*args, **kwargs)
        if is_grad_enabled() and getattr(out, "requires_grad", False):
            out = SyncGradients.apply(out, ddp=self)
        return out

    def _all_reduce(self) -> None:
        self._queued = False
        comm.all_reduce_gradients(self.module)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict, *args: Any, **kwargs: Any) -> Any:
        return self.module.load_state_dict(state, *args, **kwargs)

    def __repr__(self) -> str:
        return f"DistributedDataParallel(\n  {self.module!r}\n)"
