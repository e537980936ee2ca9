"""Every primitive added with the PyTorch op set states its backward as a rule string
(shown by explain tools), next to its forward and backward."""
import inspect

import pytest

from minigrad.autograd import Function
from minigrad.nn import activations_extra
from minigrad.ops import binary, conv_transpose, index, reduce_extra, unary

MODULES = [activations_extra, binary, conv_transpose, index, reduce_extra, unary]
PRIMITIVES = [c for m in MODULES for c in vars(m).values()
              if inspect.isclass(c) and issubclass(c, Function) and c is not Function]


@pytest.mark.parametrize("op", PRIMITIVES, ids=lambda c: c.__name__)
def test_ops_rules_every_new_primitive_states_its_backward(op):
    assert isinstance(op.rule, str) and op.rule.startswith(("dx", "da", "dx_i", "y ="))
    assert op.forward is not Function.forward and op.backward is not Function.backward


def test_ops_rules_cover_all_new_primitive_modules():
    assert len(PRIMITIVES) >= 30
