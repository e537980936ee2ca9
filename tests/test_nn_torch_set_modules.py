"""The issue-17 nn modules against their PyTorch twins with copied weights:
Conv2d(groups, dilation), ConvTranspose2d, pooling with padding/ceil_mode,
AdaptiveAvgPool2d, Upsample, the activation modules, MultiheadAttention."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch

R = np.random.default_rng(9)


def _copy(ours, theirs):
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)


def _compare(ours, theirs, x, tol=1e-4, **kw):
    t = torch()
    xm = mg.tensor(x, requires_grad=True)
    xt = t.tensor(x, dtype=t.float32, requires_grad=True)
    y, ty = ours(xm, **kw), theirs(xt, **kw)
    assert_close(y, ty, rtol=tol, atol=tol)
    seed = R.standard_normal(ty.shape).astype(np.float32)
    y.backward(seed)
    ty.backward(t.tensor(seed))
    assert_close(xm.grad, xt.grad, rtol=tol, atol=tol)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, grads[name].grad, rtol=tol, atol=tol, what=name)


MODULES = {
    "conv_groups_dilation": (lambda nn: nn.Conv2d(4, 6, 3, stride=1, padding=2, dilation=2,
                                                  groups=2), (2, 4, 8, 7)),
    "conv_depthwise": (lambda nn: nn.Conv2d(3, 6, 3, padding=1, groups=3), (2, 3, 5, 6)),
    "conv_plain_still": (lambda nn: nn.Conv2d(3, 2, 3, padding=1), (1, 3, 5, 5)),
    "convT": (lambda nn: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
              (2, 4, 5, 6)),
    "convT_nobias_groups": (lambda nn: nn.ConvTranspose2d(4, 2, 2, stride=2, groups=2,
                                                          bias=False), (1, 4, 3, 3)),
    "maxpool_pad_ceil": (lambda nn: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
                         (2, 2, 8, 9)),
    "avgpool_pad": (lambda nn: nn.AvgPool2d(2, padding=1, count_include_pad=False),
                    (1, 2, 5, 4)),
    "adaptive": (lambda nn: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8)),
    "upsample_nearest": (lambda nn: nn.Upsample(scale_factor=2), (1, 2, 3, 3)),
    "upsample_bilinear": (lambda nn: nn.Upsample(size=(5, 4), mode="bilinear",
                                                 align_corners=True), (1, 2, 3, 3)),
    "relu6": (lambda nn: nn.ReLU6(), (3, 4)),
    "hardtanh": (lambda nn: nn.Hardtanh(-0.5, 0.5), (3, 4)),
    "hardsigmoid": (lambda nn: nn.Hardsigmoid(), (3, 4)),
    "hardswish": (lambda nn: nn.Hardswish(), (3, 4)),
    "softsign": (lambda nn: nn.Softsign(), (3, 4)),
    "logsigmoid": (lambda nn: nn.LogSigmoid(), (3, 4)),
    "celu": (lambda nn: nn.CELU(0.5), (3, 4)),
    "softmin": (lambda nn: nn.Softmin(dim=1), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nn_module_matches_torch(name, backend_name):
    build, shape = MODULES[name]
    ours, theirs = build(mg.nn), build(torch().nn)
    _copy(ours, theirs)
    _compare(ours, theirs, R.standard_normal(shape).astype(np.float32) * 3)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "seq_first"])
@pytest.mark.parametrize("masks", ["none", "padding", "attn_bool", "attn_float", "causal"])
def test_multihead_attention_matches_torch(batch_first, masks):
    t = torch()
    ours = mg.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    theirs = t.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    _copy(ours, theirs)
    n, lq, ls = 2, 3, 4
    q = R.standard_normal((n, lq, 8) if batch_first else (lq, n, 8)).astype(np.float32)
    kv = R.standard_normal((n, ls, 8) if batch_first else (ls, n, 8)).astype(np.float32)
    kw = {}
    if masks == "padding":
        kw["key_padding_mask"] = np.array([[False, False, True, False],
                                           [False, True, True, False]])
    elif masks == "attn_bool":
        kw["attn_mask"] = np.triu(np.ones((lq, ls), dtype=bool), 2)
    elif masks == "attn_float":
        kw["attn_mask"] = R.standard_normal((lq, ls)).astype(np.float32)
    elif masks == "causal":
        kw["attn_mask"] = np.triu(np.ones((lq, ls), dtype=bool), 1)
        kw["is_causal"] = True
    qm, km = mg.tensor(q, requires_grad=True), mg.tensor(kv, requires_grad=True)
    qt, kt = t.tensor(q, requires_grad=True), t.tensor(kv, requires_grad=True)
    out, w = ours(qm, km, km, **kw)
    tout, tw = theirs(qt, kt, kt, **{k: t.tensor(v) for k, v in kw.items()
                                     if k != "is_causal"}, is_causal=kw.get("is_causal", False))
    assert_close(out, tout, rtol=1e-5, atol=1e-5)
    assert_close(w, tw, rtol=1e-5, atol=1e-5)
    seed = R.standard_normal(tout.shape).astype(np.float32)
    (out * mg.tensor(seed)).sum().backward()
    (tout * t.tensor(seed)).sum().backward()
    assert_close(qm.grad, qt.grad, rtol=1e-4, atol=1e-5)
    assert_close(km.grad, kt.grad, rtol=1e-4, atol=1e-5)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, grads[name].grad, rtol=1e-4, atol=1e-5, what=name)


def test_multihead_attention_unbatched_and_no_weights():
    t = torch()
    ours, theirs = mg.nn.MultiheadAttention(4, 1), t.nn.MultiheadAttention(4, 1)
    _copy(ours, theirs)
    x = R.standard_normal((3, 4)).astype(np.float32)
    out, w = ours(x, x, x, need_weights=False)
    tout, _ = theirs(*(t.tensor(x),) * 3, need_weights=False)
    assert w is None and out.shape == (3, 4)
    assert_close(out, tout, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda: mg.nn.Conv2d(4, 6, 3, groups=4), "must divide by groups=4"),
    (lambda: mg.nn.ConvTranspose2d(3, 2, 3, groups=2), "must divide by groups=2"),
    (lambda: mg.nn.functional.conv_transpose2d(mg.zeros(1, 2, 3, 3), mg.zeros(2, 1, 3, 3),
                                               stride=2, output_padding=2),
     "output_padding"),
    (lambda: mg.nn.functional.conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(2, 1, 3, 3), groups=2),
     "groups=2"),
    (lambda: mg.nn.functional.max_pool2d(mg.zeros(1, 1, 4, 4), 2, padding=2),
     "at most half the kernel"),
    (lambda: mg.nn.functional.interpolate(mg.zeros(1, 1, 2, 2)), "exactly one of size"),
    (lambda: mg.nn.functional.interpolate(mg.zeros(1, 1, 2, 2), size=3, mode="cubic"),
     "mode must be one of"),
    (lambda: mg.nn.MultiheadAttention(6, 4), "must divide by num_heads"),
])
def test_nn_torch_set_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
