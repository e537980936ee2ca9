"""Module: discovery of parameters/buffers/children, modes, state dicts, freezing,
hooks, containers, cloning, transfer learning and regularization losses."""
import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.heads = [nn.Linear(3, 2), nn.Linear(3, 1)]
        self.scale = nn.Parameter(np.ones(1))
        self.cache = mg.Tensor(np.zeros(2))  # a plain Tensor attribute is not state

    def forward(self, x):
        h = self.bn(self.fc(x)).relu() * self.scale
        return self.heads[0](h), self.heads[1](h)


def test_module_discovers_parameters_with_dotted_names():
    names = [n for n, _ in Block().named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]


def test_module_buffers_children_and_modules():
    b = Block()
    assert [n for n, _ in b.named_buffers()] == ["bn.running_mean", "bn.running_var"]
    assert all(not t.requires_grad for t in b.buffers())
    assert [type(c).__name__ for c in b.children()] == ["Linear", "BatchNorm1d", "Linear",
                                                        "Linear"]
    assert len(list(b.modules())) == 5


def test_parameter_is_a_float_tensor_that_requires_grad():
    p = nn.Parameter([1, 2])
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(np.array([1, 2]), dtype=np.int64)


def test_module_train_eval_recurse():
    b = Block()
    assert b.training and b.fc.training
    b.eval()
    assert not any(m.training for m in b.modules())
    b.train()
    assert all(m.training for m in b.modules())


def test_module_zero_grad_clears_every_grad():
    b = Block()
    y0, y1 = b(np.random.rand(5, 4))
    (y0.sum() + y1.sum()).backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())


def test_module_freeze_stops_gradients_and_updates():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    m[0].freeze()
    assert len(list(m.parameters())) == 4  # frozen parameters are still listed
    before = m[0].weight.data.copy()
    opt = mg.optim.SGD(m.parameters(), lr=0.1)
    F.mse_loss(m(np.random.rand(6, 4)), np.zeros((6, 2))).backward()
    assert m[0].weight.grad is None and m[2].weight.grad is not None
    opt.step()
    np.testing.assert_array_equal(m[0].weight.data, before)
    m.unfreeze()
    assert all(p.requires_grad for p in m.parameters())


def test_module_state_dict_round_trip_copies():
    a, b = Block(), Block()
    sd = a.state_dict()
    assert list(sd) == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias",
                        "bn.running_mean", "bn.running_var", "heads.0.weight",
                        "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    sd["fc.weight"][...] = 7  # a copy: the model is untouched
    assert not np.any(a.fc.weight.data == 7)
    w_id = id(b.fc.weight.data)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.fc.weight.data, a.fc.weight.data)
    assert id(b.fc.weight.data) == w_id  # loaded in place: optimizers keep working


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    sd = m.state_dict()
    del sd["1.running_var"]
    sd["2.weight"] = np.zeros(3)
    sd["0.weight"] = np.zeros((3, 5))
    with pytest.raises(ValueError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys ['1.running_var']" in msg
    assert "unexpected keys ['2.weight']" in msg
    assert "0.weight: expected (3, 4), got (3, 5)" in msg
    with pytest.raises(ValueError, match="mis-shaped"):
        m.load_state_dict(sd, strict=False)
    del sd["0.weight"]
    result = m.load_state_dict(sd, strict=False)
    assert result == {"missing": ["0.weight", "1.running_var"], "unexpected": ["2.weight"]}


def test_load_state_dict_ignores_num_batches_tracked_and_accepts_tensors():
    m = nn.BatchNorm1d(3)
    sd = {"weight": mg.Tensor([1.0, 2, 3]), "bias": np.zeros(3), "running_mean": np.ones(3),
          "running_var": np.ones(3), "num_batches_tracked": np.array(5)}
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m.weight.data, [1, 2, 3])
    assert m.weight.dtype == np.float32


def test_forward_hook_sees_output_and_can_be_removed():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    seen = []
    handle = m[1].register_forward_hook(lambda mod, inp, out: seen.append(out.shape))
    m(np.ones((2, 4)))
    handle.remove()
    m(np.ones((2, 4)))
    assert seen == [(2, 3)]
    m[0].register_forward_hook(lambda mod, inp, out: out * 0)
    assert np.all(m(np.ones((2, 4))).data == 0)  # a returned value replaces the output


def test_sequential_indexing_len_append_slice():
    s = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    s.append(nn.Linear(3, 2))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear)
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    head = s[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is s[0]
    assert s(np.ones((5, 4))).shape == (5, 2)
    with pytest.raises(TypeError, match="expected a Module"):
        s.append(3)


def test_module_repr_is_readable():
    text = repr(nn.Sequential(nn.Linear(4, 3), nn.LeakyReLU(0.2)))
    assert text == ("Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)"
                    "\n  (1): LeakyReLU(alpha=0.2)\n)")


def test_clone_and_deepcopy_are_independent():
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    m(np.random.rand(5, 4)).sum().backward()
    for twin in (nn.clone(m), copy.deepcopy(m)):
        assert twin[0].weight is not m[0].weight
        np.testing.assert_array_equal(twin[0].weight.data, m[0].weight.data)
        twin[0].weight.data += 1
        assert not np.allclose(twin[0].weight.data, m[0].weight.data)
    assert nn.clone(m)[0].weight.grad is None


def test_transfer_learning_reuse_freeze_train_unfreeze():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    base = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = mg.optim.Adam(base.parameters(), lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(base(x), y).backward()
        opt.step()
    features = nn.clone(base[:2]).freeze()
    frozen = features[0].weight.data.copy()
    model = nn.Sequential(features, nn.Linear(16, 3))  # new head, 3 classes
    y3 = np.where(x[:, 1] > 0.5, 2, y)
    opt = mg.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y3)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first
    np.testing.assert_array_equal(model[0][0].weight.data, frozen)
    model.unfreeze()
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    F.cross_entropy(model(x), y3).backward()
    opt.step()
    assert not np.array_equal(model[0][0].weight.data, frozen)
    # the original model was not changed by training the clone
    assert not np.array_equal(base[0].weight.data, model[0][0].weight.data)


def test_regularization_loss_kernel_bias_activity():
    lin = nn.Linear(3, 2, kernel_regularizer=nn.regularizers.L2(0.1),
                    bias_regularizer=nn.regularizers.L1(0.5),
                    activity_regularizer=nn.regularizers.L1L2(l1=0.2, l2=0.3))
    lin.bias.data[...] = [1.0, -2.0]
    x = np.random.rand(4, 3).astype(np.float32)
    y = lin(x)
    w = lin.weight.data
    expected = (0.1 * (w ** 2).sum() + 0.5 * 3.0
                + (0.2 * np.abs(y.data).sum() + 0.3 * (y.data ** 2).sum()) / 4)
    model = nn.Sequential(lin, nn.ReLU())
    reg = model.regularization_loss()
    np.testing.assert_allclose(reg.item(), expected, rtol=1e-5)
    reg.backward()
    assert lin.weight.grad is not None and lin.bias.grad is not None
    assert nn.Sequential(nn.ReLU()).regularization_loss().item() == 0.0


def test_regularizer_arguments_are_checked():
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        nn.regularizers.L2(-1)
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        nn.Linear(2, 2, kernel_regularizer="l3")
    assert isinstance(nn.regularizers.get("l2"), nn.regularizers.L2)


def test_register_buffer_validates_name_and_never_requires_grad():
    m = nn.Module()
    m.register_buffer("count", mg.Tensor([1.0], requires_grad=True))
    assert not m.count.requires_grad and [n for n, _ in m.named_buffers()] == ["count"]
    with pytest.raises(ValueError, match="got 'a.b'"):
        m.register_buffer("a.b", np.zeros(1))


def test_module_list_extend_and_plain_list_attributes_are_children():
    ml = nn.ModuleList([nn.Linear(2, 2)]).extend([nn.ReLU(), nn.Tanh()])
    assert len(ml) == 3 and [n for n, _ in ml.named_children()] == ["0", "1", "2"]
    with pytest.raises(NotImplementedError, match="ModuleList defines no forward"):
        ml(np.ones(2))
