"""run_backward's observer hook and the Function.rule default."""
import numpy as np

import minigrad as mg
from minigrad import autograd
from minigrad.autograd import reachable, run_backward


def _walk(loss, observer=None):
    seed = np.ones(loss.shape, dtype=loss.dtype)
    run_backward(reachable(loss), loss, seed, retain_graph=True, observer=observer)


def test_observer_sees_every_entry_newest_first_with_unbroadcast_grads():
    rng = np.random.default_rng(0)
    a = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(4), requires_grad=True)
    loss = (a * b).sum()
    seen = []
    _walk(loss, lambda fn, dy, grads: seen.append((fn, dy, grads)))

    assert [type(fn).__name__ for fn, _, _ in seen] == ["Sum", "Mul"]
    (_, dy_sum, g_sum), (mul, dy_mul, (ga, gb)) = seen
    assert dy_sum.shape == () and g_sum[0].shape == (3, 4)
    np.testing.assert_array_equal(dy_mul, np.ones((3, 4), np.float32))
    np.testing.assert_allclose(ga, np.broadcast_to(b.data, (3, 4)))
    assert gb.shape == (4,)  # unbroadcast to b's shape, as delivered
    np.testing.assert_allclose(gb, a.data.sum(axis=0), rtol=1e-6)
    assert mul.inputs[0] is a and mul.inputs[1] is b
    # the walk itself is unchanged by observing it
    np.testing.assert_allclose(a.grad.data, ga)
    np.testing.assert_allclose(b.grad.data, gb)


def test_observer_reports_none_where_no_gradient_is_sent():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])  # needs no gradient
    seen = []
    _walk((x * c).sum(), lambda fn, dy, grads: seen.append(grads))
    gx, gc = seen[-1]
    np.testing.assert_allclose(gx, [3.0, 4.0])
    assert gc is None


def test_observer_none_gives_the_same_gradients():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((2, 5))
    grads = []
    for observer in (None, lambda *args: None):
        x = mg.tensor(data, requires_grad=True)
        _walk((x.tanh() * x).mean(), observer)
        grads.append(x.grad.data)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_function_rule_defaults_to_a_pointer_at_custom_backward():
    class Cube(mg.Function):
        def forward(self, ctx, x):
            ctx.save(x)
            return x ** 3

        def backward(self, ctx, dy):
            (x,) = ctx.saved
            return 3 * x * x * dy

    class Described(Cube):
        rule = "dx = 3 x^2 dy"

    class Inherits(Described):
        pass

    assert Cube.rule == "custom backward: see Cube.backward"
    assert Described.rule == "dx = 3 x^2 dy"
    assert Inherits.rule == "dx = 3 x^2 dy"  # same backward, same words
    assert isinstance(autograd.Function.rule, str)
    x = mg.tensor([2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [12.0])
