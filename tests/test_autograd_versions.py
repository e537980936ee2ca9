"""Version counters: in-place writes through the Tensor API bump t._version, and
backward through an op whose saved input was written since raises (PyTorch)."""
import numpy as np
import pytest

import minigrad as mg

VERSION_ERROR = (r"backward of Mul was modified in place: Tensor\(2,\) is at version 1, "
                 r"expected version 0")


def test_versions_setitem_between_forward_and_backward_raises():
    # The example: gave x.grad = [10, 2] instead of [1, 2].
    x = mg.tensor([1.0, 1.0], requires_grad=True)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * w).sum()
    with mg.no_grad():
        w[0] = 10
    assert w._version == 1
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        loss.backward()


def test_versions_gradient_tape_checks_too():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.GradientTape() as tape:
        loss = (w * w).sum()
    with mg.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match=r"Mul .*version 1, expected version 0"):
        tape.gradient(loss, w)


def _optimizers():
    return [getattr(mg.optim, n) for n in mg.optim.__all__
            if isinstance(getattr(mg.optim, n), type)
            and issubclass(getattr(mg.optim, n), mg.optim.Optimizer)
            and getattr(mg.optim, n) is not mg.optim.Optimizer]


@pytest.mark.parametrize("fused", [False, None], ids=["numpy-rule", "default-path"])
@pytest.mark.parametrize("opt_cls", _optimizers(), ids=lambda c: c.__name__)
def test_versions_optimizer_step_between_forward_and_backward_raises(opt_cls, fused):
    w = mg.tensor([0.5, -1.5], requires_grad=True)
    x = mg.tensor([2.0, 3.0])
    opt = opt_cls([w], lr=0.1, fused=fused)
    (w * x).sum().backward()
    loss = (w * x).sum()  # recorded with w at version 0
    opt.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=r"backward of Mul .*version 1, expected version 0"):
        loss.backward()


def test_versions_training_loop_with_zero_grad_and_step_after_backward():
    rng = np.random.default_rng(0)
    model = mg.nn.Linear(3, 2)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    x = mg.tensor(rng.standard_normal((8, 3)))
    for step in range(3):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
    assert all(p._version == 3 for p in model.parameters())


def test_versions_inplace_on_an_input_backward_does_not_read():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    loss = ((a + b) * 2).sum()  # Add reads neither input; Mul reads (a + b), not b
    with mg.no_grad():
        b.add_(100)
    loss.backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0])


def test_versions_function_declares_which_inputs_backward_reads():
    class ScaleBy(mg.Function):
        def forward(self, ctx, x, s):
            ctx.save(s)
            return x * s

        def backward(self, ctx, dy):
            (s,) = ctx.saved
            return dy * s, None

    class ScaleByDeclared(ScaleBy):
        saved_inputs = (1,)  # reads s only

    for op, raises in ((ScaleBy, True), (ScaleByDeclared, False)):
        x, s = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0, 3.0])
        out = op.apply(x, s).sum()
        with mg.no_grad():
            x.fill_(0)  # x is not read by backward
        if raises:
            with pytest.raises(RuntimeError, match="ScaleBy was modified in place"):
                out.backward()
        else:
            out.backward()
            np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_versions_retained_graph_checks_each_backward():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with mg.no_grad():
        w[1] = 5.0
    with pytest.raises(RuntimeError, match="version 1, expected version 0"):
        loss.backward()


def test_versions_load_state_dict_bumps_and_data_writes_do_not():
    model = mg.nn.Linear(2, 2)
    state = {k: np.asarray(v) * 2 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert [p._version for p in model.parameters()] == [1, 1]
    np.testing.assert_array_equal(model.weight.data, state["weight"])
    model.weight.data[0, 0] = 7.0  # through .data: not tracked, as PyTorch's .data
    assert model.weight._version == 1


INPLACE = [
    ("add_", ([10.0, 20.0, 30.0],), {}),
    ("add_", (2.0,), {"alpha": 3}),
    ("sub_", ([1.0, 1.0, 1.0],), {"alpha": 0.5}),
    ("mul_", (-2.0,), {}),
    ("div_", ([4.0, 2.0, 1.0],), {}),
    ("zero_", (), {}),
    ("fill_", (7.5,), {}),
    ("copy_", ([9.0, 8.0, 7.0],), {}),
    ("clamp_", (), {"min": -1.0, "max": 1.5}),
    ("clamp_", (), {"max": 0.0}),
]


@pytest.mark.parametrize("name,args,kwargs", INPLACE,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(INPLACE)])
def test_versions_inplace_methods_match_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    start = np.array([-2.0, 0.5, 3.0], dtype=np.float32)
    t = mg.tensor(start.copy())
    result = getattr(t, name)(*(mg.tensor(a) if isinstance(a, list) else a for a in args),
                              **kwargs)
    ref = torch.tensor(start.copy())
    getattr(ref, name)(*(torch.tensor(a) if isinstance(a, list) else a for a in args),
                       **kwargs)
    assert result is t and t._version == 1 and t.dtype == np.float32
    np.testing.assert_allclose(t.data, ref.numpy(), rtol=1e-6)


def test_versions_setitem_bumps_once_per_write():
    t = mg.tensor(np.zeros((2, 3)))
    t[0] = 1.0
    t[1, mg.tensor([0, 2])] = mg.tensor([5.0, 6.0])
    assert t._version == 2
    np.testing.assert_array_equal(t.data, [[1, 1, 1], [5, 0, 6]])


@pytest.mark.parametrize("write", [lambda t: t.add_(1.0), lambda t: t.zero_(),
                                   lambda t: t.__setitem__(0, 1.0)],
                         ids=["add_", "zero_", "setitem"])
def test_versions_inplace_refused_on_tensor_requiring_grad_in_grad_mode(write):
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"requires grad .*mg.no_grad\(\)"):
        write(w)
    assert w._version == 0
    with mg.no_grad():
        write(w)
    assert w._version == 1


def test_versions_inplace_errors_name_op_shape_and_dtype():
    t = mg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"add_: cannot write into a tensor of shape \(2,\)"):
        t.add_(mg.tensor(np.ones((3, 2))))
    with pytest.raises(TypeError, match="mul_: cannot write into a int64 tensor"):
        mg.tensor([1, 2]).mul_(0.5)
    with pytest.raises(ValueError, match="clamp_: at least one of min and max"):
        t.clamp_()
    assert t._version == 0
