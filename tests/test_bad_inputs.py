"""Bad inputs across the public API: each raises the right kind of error with a message
that names the op or layer and what was wrong; no input from Python crashes the
process (kernels of every backend get degenerate, strided and odd-dtype arrays)."""
import gzip
import os
import struct

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.errors import BackendError, DTypeError, ShapeError, add_layer_context
from minigrad.nn import functional as F
from minigrad.optim import schedules

BACKENDS = mg.backend.available()


def _t(*shape, dtype=np.float32, grad=False):
    return mg.tensor(np.ones(shape, dtype=dtype), requires_grad=grad)


def _nonpersistent_twice():
    x = _t(3, grad=True)
    with mg.GradientTape() as tape:
        y = (x * x).sum()
    tape.gradient(y, x)
    tape.gradient(y, x)


def _watch_int():
    with mg.GradientTape() as tape:
        tape.watch(mg.tensor([1, 2, 3]))


def _backward_twice():
    x = _t(3, grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _idx_file(tmp_path, content: bytes, name="bad-idx"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _truncated_checkpoint(tmp_path):
    path = tmp_path / "model.ckpt"
    mg.save(nn.Linear(4, 3).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return mg.load(path)


def _fit(x, y, **kw):
    model = nn.Sequential(nn.Linear(4, 3))
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    return mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, verbose=0, **kw)


def _seq_error():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(5, 2))
    model(np.ones((2, 4), np.float32))


def _nested_seq_error():
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 3)))
    model(np.ones((2, 3, 5), np.float32))


P = pytest.param
x32, x64 = np.ones((2, 3), np.float32), np.ones((2, 3), np.float64)

# (callable, exception type, words that must all appear in the message)
API_CASES = [
    # tensor creation and dtypes
    P(lambda: mg.tensor(["a", "b"]), DTypeError, ["tensor", "dtype"], id="tensor-strings"),
    P(lambda: mg.tensor([1.0], dtype="complex64"), DTypeError, ["unsupported dtype"],
      id="tensor-complex-dtype"),
    P(lambda: mg.tensor([1, 2], requires_grad=True), DTypeError, ["float", "grad"],
      id="tensor-int-requires-grad"),
    P(lambda: mg.tensor([object()]), DTypeError, ["dtype object"], id="tensor-object"),
    P(lambda: mg.tensor(x32) + mg.tensor(x64, dtype=np.float64), TypeError,
      ["add", "float32", "float64"], id="mix-f32-f64-add"),
    P(lambda: mg.tensor(x32) @ mg.tensor(x64.T, dtype=np.float64), TypeError,
      ["matmul", "float32", "float64"], id="mix-f32-f64-matmul"),
    P(lambda: mg.tensor([1.0, 2.0]).item(), ValueError, ["item", "one-element"],
      id="item-not-scalar"),
    P(lambda: len(mg.tensor(1.0)), TypeError, ["0-d"], id="len-0d"),
    # shapes of ops
    P(lambda: _t(3, 4) @ _t(5, 2), ShapeError, ["matmul", "(3, 4)", "(5, 2)"],
      id="matmul-inner"),
    P(lambda: _t(3, 4) + _t(5, 4), ValueError, ["broadcast"], id="add-broadcast"),
    P(lambda: _t(2, 3).reshape(4, 2), ShapeError, ["reshape", "(2, 3)"], id="reshape-size"),
    P(lambda: _t(2, 3).permute(0, 0), ShapeError, ["permute", "permutation"],
      id="permute-repeat"),
    P(lambda: _t(2, 3).sum(axis=2), ShapeError, ["sum", "axis 2", "out of range"],
      id="sum-axis-range"),
    P(lambda: _t(2, 3).mean(axis=(0, 0)), ShapeError, ["mean", "repeated axis"],
      id="mean-repeated-axis"),
    P(lambda: _t(0, 3).max(), ShapeError, ["max", "empty"], id="max-empty"),
    P(lambda: _t(2, 3).broadcast_to(4, 4), ShapeError, ["broadcast_to", "(2, 3)"],
      id="broadcast-to"),
    P(lambda: mg.concat([_t(2, 3), _t(2, 4)], axis=0), ShapeError, ["concat", "axis"],
      id="concat-shapes"),
    P(lambda: mg.stack([_t(2, 3), _t(3, 2)]), ShapeError, ["stack"], id="stack-shapes"),
    P(lambda: mg.concat([]), ValueError, ["concat", "at least one"], id="concat-empty"),
    P(lambda: _t(2, 3)[5], IndexError, ["getitem", "(2, 3)"], id="getitem-range"),
    # backward misuse
    P(lambda: _t(3).backward(), RuntimeError, ["backward", "require"],
      id="backward-no-grad"),
    P(lambda: (_t(3, grad=True) * 2).backward(), RuntimeError, ["scalar", "backward(grad)"],
      id="backward-nonscalar"),
    P(lambda: (_t(3, grad=True) * 2).backward(np.ones(4)), ShapeError,
      ["backward", "(4,)", "(3,)"], id="backward-grad-shape"),
    P(_backward_twice, RuntimeError, ["backward"], id="backward-twice"),
    P(_nonpersistent_twice, RuntimeError, ["GradientTape", "persistent"],
      id="tape-second-call"),
    P(_watch_int, TypeError, ["watch", "float"], id="tape-watch-int"),
    # layers
    P(lambda: nn.Linear(4, 3)(np.ones((2, 5), np.float32)), ShapeError,
      ["Linear", "(N, 4)", "(2, 5)"], id="linear-in-features"),
    P(lambda: nn.Linear(0, 3), ValueError, ["Linear", "positive"], id="linear-zero"),
    P(lambda: nn.Conv2d(3, 8, 3)(np.ones((1, 4, 8, 8), np.float32)), ShapeError,
      ["Conv2d", "(1, 4, 8, 8)"], id="conv-channels"),
    P(lambda: nn.Conv2d(3, 8, 5)(np.ones((1, 3, 2, 2), np.float32)), ShapeError,
      ["Conv2d", "(1, 3, 2, 2)"], id="conv-kernel-larger"),
    P(lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), ValueError,
      ["same", "stride 1"], id="conv-same-stride2"),
    P(lambda: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=2, padding="same"), ValueError,
      ["conv2d", "same", "stride"], id="F-conv-same-stride2"),
    P(lambda: nn.Conv2d(3, 8, 3, padding="full"), ValueError, ["padding", "'full'"],
      id="conv-padding-name"),
    P(lambda: nn.MaxPool2d(4)(np.ones((1, 1, 2, 2), np.float32)), ShapeError,
      ["MaxPool2d", "(1, 1, 2, 2)"], id="maxpool-larger"),
    P(lambda: nn.MaxPool2d(0), ValueError, ["kernel_size", "positive"], id="maxpool-zero"),
    P(lambda: nn.BatchNorm2d(3)(np.ones((2, 3, 4), np.float32)), ShapeError,
      ["BatchNorm2d", "(2, 3, 4)"], id="bn2d-3d-input"),
    P(lambda: nn.BatchNorm1d(3, momentum=2.0), ValueError, ["momentum", "2.0"],
      id="bn-momentum"),
    P(lambda: nn.Dropout(1.5), ValueError, ["Dropout", "1.5"], id="dropout-p"),
    P(lambda: nn.GELU(approximate="fast"), ValueError, ["approximate", "fast"], id="gelu"),
    P(_seq_error, ShapeError, ["Sequential.2 (Linear)", "(N, 5)", "(2, 8)"],
      id="sequential-names-layer"),
    P(_nested_seq_error, ShapeError, ["Sequential.1.0 (Linear)", "(N, 12)", "(2, 15)"],
      id="nested-sequential-path"),
    P(lambda: nn.Linear(3, 2).load_state_dict({"weight": np.ones((3, 3))}), ValueError,
      ["load_state_dict"], id="load-state-dict-shape"),
    P(lambda: nn.Parameter(np.ones(2), dtype=np.int64), DTypeError, ["Parameter", "float"],
      id="parameter-int"),
    # init
    P(lambda: nn.init.get("glorot_gaussian"), ValueError, ["unknown initializer",
                                                           "glorot_gaussian"],
      id="init-unknown"),
    P(lambda: nn.Linear(3, 2, weight_init="nope"), ValueError, ["unknown initializer"],
      id="init-unknown-in-layer"),
    P(lambda: nn.init.VarianceScaling(scale=-1.0), ValueError, ["scale", "-1.0"],
      id="init-variance-scale"),
    P(lambda: nn.init.VarianceScaling(mode="fan_max"), ValueError, ["mode", "fan_max"],
      id="init-variance-mode"),
    P(lambda: nn.init.orthogonal((5,)), ValueError, ["Orthogonal", "2 or more"],
      id="init-orthogonal-1d"),
    # optimizers, schedules, clipping
    P(lambda: mg.optim.SGD(nn.Linear(2, 2).parameters(), lr=-0.1), ValueError,
      ["SGD", "lr", "-0.1"], id="sgd-negative-lr"),
    P(lambda: mg.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=-0.9), ValueError,
      ["SGD", "momentum", "-0.9"], id="sgd-negative-momentum"),
    P(lambda: mg.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, nesterov=True), ValueError,
      ["nesterov", "momentum"], id="sgd-nesterov-no-momentum"),
    P(lambda: mg.optim.Adam(nn.Linear(2, 2).parameters(), betas=(0.9, 1.5)), ValueError,
      ["Adam", "1.5"], id="adam-beta2"),
    P(lambda: mg.optim.Adam(nn.Linear(2, 2).parameters(), eps=-1.0), ValueError,
      ["Adam", "eps"], id="adam-eps"),
    P(lambda: mg.optim.RMSprop(nn.Linear(2, 2).parameters(), alpha=-0.5), ValueError,
      ["RMSprop", "alpha"], id="rmsprop-alpha"),
    P(lambda: mg.optim.Adagrad(nn.Linear(2, 2).parameters(), lr=float("nan")), ValueError,
      ["Adagrad", "lr"], id="adagrad-nan-lr"),
    P(lambda: mg.optim.SGD([], lr=0.1), ValueError, ["SGD", "empty"], id="sgd-no-params"),
    P(lambda: mg.optim.SGD([np.ones(3)], lr=0.1), TypeError, ["SGD", "ndarray"],
      id="sgd-array-param"),
    P(lambda: mg.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, clipnorm=1.0,
                           clipvalue=1.0), ValueError, ["clipvalue", "clipnorm"],
      id="sgd-both-clips"),
    P(lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), ValueError,
      ["ExponentialDecay", "decay_steps"], id="sched-exp-steps"),
    P(lambda: schedules.StepDecay(0.1, step_size=0), ValueError,
      ["StepDecay", "step_size"], id="sched-step-size"),
    P(lambda: schedules.PiecewiseConstant([10, 5], [1.0, 0.5, 0.1]), ValueError,
      ["increasing"], id="sched-piecewise-order"),
    P(lambda: schedules.PiecewiseConstant([10], [1.0]), ValueError, ["one more value"],
      id="sched-piecewise-count"),
    P(lambda: schedules.LambdaSchedule(3), ValueError, ["callable"], id="sched-lambda"),
    P(lambda: schedules.CosineDecay(0.1, 100)(-1), ValueError, ["step", "-1"],
      id="sched-negative-step"),
    P(lambda: mg.optim.clip_grad_norm_(nn.Linear(2, 2).parameters(), -1.0), ValueError,
      ["max_norm", "-1.0"], id="clip-norm-negative"),
    P(lambda: mg.optim.clip_grad_value_(nn.Linear(2, 2).parameters(), "big"), ValueError,
      ["clip_value", "big"], id="clip-value-str"),
    P(lambda: mg.optim.clip_grad_norm_(42, 1.0), TypeError, ["params"], id="clip-not-params"),
    # losses
    P(lambda: F.cross_entropy(_t(4, 3), np.array([0, 1, 2, 3])), ValueError,
      ["cross_entropy", "[0, 3)", "3"], id="ce-label-range"),
    P(lambda: F.cross_entropy(_t(4, 3), np.array([0, -1, 2, 1])), ValueError,
      ["cross_entropy", "-1"], id="ce-negative-label"),
    P(lambda: F.cross_entropy(_t(4, 3), np.array([0.0, 1.0, 2.0, 1.0])), DTypeError,
      ["cross_entropy", "integer"], id="ce-float-targets"),
    P(lambda: F.cross_entropy(_t(4, 3), np.array([0, 1])), ShapeError,
      ["cross_entropy", "(4,)", "(2,)"], id="ce-target-count"),
    P(lambda: F.cross_entropy(_t(4, 3), np.zeros(4, int), reduction="avg"), ValueError,
      ["reduction", "avg"], id="ce-reduction"),
    P(lambda: F.cross_entropy(_t(4, 3), np.zeros(4, int), label_smoothing=2.0), ValueError,
      ["label_smoothing", "2.0"], id="ce-smoothing"),
    P(lambda: F.cross_entropy(_t(4, 3), np.zeros(4, int), weight=np.ones(2)), ShapeError,
      ["weight", "(3,)"], id="ce-weight-shape"),
    P(lambda: F.mse_loss(_t(4, 3), np.ones((4, 2))), ShapeError, ["mse", "(4, 3)", "(4, 2)"],
      id="mse-shape"),
    P(lambda: F.l1_loss(mg.tensor([1, 2]), np.ones(2)), DTypeError, ["l1", "floating"],
      id="l1-int-input"),
    P(lambda: F.binary_cross_entropy_with_logits(_t(4, 1), np.ones((3, 1))), ShapeError,
      ["binary_cross_entropy_with_logits"], id="bce-shape"),
    P(lambda: F.huber_loss(_t(3), np.ones(3), delta=0.0), ValueError, ["delta", "0.0"],
      id="huber-delta"),
    # data
    P(lambda: mg.data.TensorDataset(np.ones((5, 2)), np.ones(4)), ShapeError,
      ["TensorDataset", "(5, 2)", "(4,)"], id="tensordataset-lengths"),
    P(lambda: mg.data.DataLoader((np.ones((5, 2)), np.ones(4)), batch_size=2), ShapeError,
      ["TensorDataset", "same first dimension"], id="dataloader-lengths"),
    P(lambda: mg.data.DataLoader((np.ones((5, 2)),), batch_size=0), ValueError,
      ["DataLoader", "batch_size", "0"], id="dataloader-batch-size"),
    P(lambda: mg.data.DataLoader(np.ones((3, 2)), batch_size=2), TypeError,
      ["DataLoader", "dataset", "ndarray"], id="dataloader-bare-array"),
    # fit
    P(lambda: _fit(np.ones((10, 4), np.float32), np.zeros(8, int)), ValueError,
      ["fit", "same number of samples"], id="fit-xy-length"),
    P(lambda: _fit(np.ones((10, 4), np.float32), np.zeros(10, int), epochs=-1), ValueError,
      ["fit", "epochs", "-1"], id="fit-epochs"),
    P(lambda: _fit(np.ones((10, 4), np.float32), np.zeros(10, int), batch_size=0),
      ValueError, ["fit", "batch_size"], id="fit-batch-size"),
    P(lambda: _fit(np.ones((10, 4), np.float32), np.zeros(10, int), validation_split=1.0),
      ValueError, ["validation_split"], id="fit-validation-split"),
    P(lambda: _fit(np.ones((10, 4), np.float32), None), ValueError, ["fit", "y is required"],
      id="fit-no-y"),
    # backend registry
    P(lambda: mg.backend.set_backend("cuda"), ValueError, ["unknown backend", "cuda"],
      id="set-backend-unknown"),
    P(lambda: mg.set_num_threads(0), ValueError, ["set_num_threads", "0"],
      id="set-num-threads-zero"),
    # gradcheck
    P(lambda: mg.gradcheck(lambda x: x.data, [_t(2, dtype=np.float64, grad=True)]),
      TypeError, ["gradcheck", "Tensor"], id="gradcheck-non-tensor"),
]


@pytest.mark.parametrize("fn, exc, words", API_CASES)
def test_api_bad_input_raises_clear_error(fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    missing = [w for w in words if w not in message]
    assert not missing, f"message lacks {missing}: {message!r}"


# ----- files -------------------------------------------------------------------------
def _idx_header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape)


FILE_CASES = [
    P(lambda d: mg.data.read_idx(_idx_file(d, b"\x00\x00")), ["read_idx", "too short"],
      id="idx-too-short"),
    P(lambda d: mg.data.read_idx(_idx_file(d, b"PK\x03\x04" + bytes(20))),
      ["read_idx", "magic"], id="idx-bad-magic"),
    P(lambda d: mg.data.read_idx(_idx_file(d, _idx_header(0x08, (10, 28, 28)) + bytes(100))),
      ["read_idx", "(10, 28, 28)"], id="idx-truncated-payload"),
    P(lambda d: mg.data.read_idx(_idx_file(d, _idx_header(0x07, (4,)) + bytes(4))),
      ["read_idx", "unknown IDX data type"], id="idx-bad-type"),
    P(lambda d: mg.data.read_idx(_idx_file(d, gzip.compress(
        _idx_header(0x08, (4,)) + bytes(4))[:-6], "x.gz")), ["read_idx", "gzip"],
      id="idx-truncated-gzip"),
    P(lambda d: _truncated_checkpoint(d), ["mg.load", "truncated or corrupted"],
      id="load-truncated-checkpoint"),
    P(lambda d: mg.load(_idx_file(d, b"not a checkpoint at all" * 4)),
      ["mg.load", "not a minigrad state file"], id="load-foreign-file"),
]


@pytest.mark.parametrize("fn, words", FILE_CASES)
def test_bad_file_raises_value_error(tmp_path, fn, words):
    with pytest.raises(ValueError) as info:
        fn(tmp_path)
    missing = [w for w in words if w not in str(info.value)]
    assert not missing, f"message lacks {missing}: {info.value!r}"


# ----- kernels of every backend: bad arguments ----------------------------------------
def _kernel_cases():
    f32, f64 = np.float32, np.float64
    x = np.ones((2, 3, 6, 6), f32)
    w = np.ones((4, 3, 3, 3), f32)
    dy = np.ones((2, 4, 4, 4), f32)
    g = np.ones(3, f32)
    pooled = np.ones((2, 3, 3, 3), f32)
    arg = np.zeros((2, 3, 3, 3), np.int64)
    return [
        P("matmul", (np.ones((3, 4), f32), np.ones((5, 2), f32)), {}, ValueError,
          ["matmul", "inner"], id="matmul-inner"),
        P("matmul", (np.ones((3, 4), f32), np.ones((4, 2), f64)), {}, TypeError,
          ["matmul", "float32", "float64"], id="matmul-mixed"),
        P("matmul", (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64)), {}, TypeError,
          ["matmul", "int64"], id="matmul-int"),
        P("matmul", ([[1.0, 2.0]], np.ones((2, 2), f32)), {}, TypeError,
          ["matmul", "numpy array", "list"], id="matmul-list"),
        P("matmul", (np.ones(4, f32), np.ones(4, f32)), {}, ValueError,
          ["matmul", "2-d or 3-d"], id="matmul-1d"),
        P("matmul", (np.ones((2, 3, 4), f32), np.ones((3, 4, 5), f32)), {}, ValueError,
          ["matmul", "batch"], id="matmul-batch"),
        P("matmul", (np.ones((3, 4), f32), np.ones((2, 4), f32)), {"trans_a": True},
          ValueError, ["matmul", ".T"], id="matmul-trans-flag"),
        P("conv2d_forward", (x, np.ones((4, 2, 3, 3), f32), None, (1, 1), (0, 0)), {},
          ValueError, ["conv2d", "channels"], id="conv-channels"),
        P("conv2d_forward", (x, w, np.ones(5, f32), (1, 1), (0, 0)), {}, ValueError,
          ["conv2d", "bias", "(4,)"], id="conv-bias"),
        P("conv2d_forward", (x, w, None, (0, 1), (0, 0)), {}, ValueError,
          ["conv2d", "stride"], id="conv-stride-zero"),
        P("conv2d_forward", (x, w, None, (1, 1), (-1, 0)), {}, ValueError,
          ["conv2d", "padding"], id="conv-negative-padding"),
        P("conv2d_forward", (x, np.ones((4, 3, 9, 9), f32), None, (1, 1), (0, 0)), {},
          ValueError, ["conv2d", "larger"], id="conv-kernel-larger"),
        P("conv2d_forward", (x, w, None, (1, 1, 1), (0, 0)), {}, ValueError,
          ["conv2d", "pair"], id="conv-stride-triple"),
        P("conv2d_forward", (x.astype(np.int32), w, None, (1, 1), (0, 0)), {}, TypeError,
          ["conv2d", "int32"], id="conv-int"),
        P("conv2d_forward", (x[0], w, None, (1, 1), (0, 0)), {}, ValueError,
          ["conv2d", "(N, C, H, W)"], id="conv-3d"),
        P("conv2d_backward", (x, w, np.ones((2, 4, 5, 5), f32), (1, 1), (0, 0)), {},
          ValueError, ["conv2d_backward", "dy"], id="conv-bwd-dy-shape"),
        P("conv2d_backward", (x, w, dy.astype(f64), (1, 1), (0, 0)), {}, TypeError,
          ["float64"], id="conv-bwd-dy-dtype"),
        P("maxpool2d_forward", (x, (7, 7), (1, 1)), {}, ValueError, ["maxpool2d", "larger"],
          id="maxpool-larger"),
        P("maxpool2d_forward", (x, (2, 2), (0, 1)), {}, ValueError, ["maxpool2d", "stride"],
          id="maxpool-stride-zero"),
        P("maxpool2d_forward", (x.astype(np.int64), (2, 2), (2, 2)), {}, TypeError,
          ["maxpool2d", "int64"], id="maxpool-int"),
        P("maxpool2d_backward", (pooled, arg.astype(np.int32), x.shape), {}, TypeError,
          ["maxpool2d_backward", "argmax"], id="maxpool-bwd-argmax-int32"),
        P("maxpool2d_backward", (pooled, arg[:, :2], x.shape), {}, ValueError,
          ["maxpool2d_backward", "argmax"], id="maxpool-bwd-argmax-shape"),
        P("maxpool2d_backward", (pooled, arg + 36, x.shape), {}, ValueError,
          ["maxpool2d_backward"], id="maxpool-bwd-argmax-range"),
        P("avgpool2d_forward", (x, (2, 2), (2, 2, 2)), {}, ValueError, ["avgpool2d", "pair"],
          id="avgpool-stride-triple"),
        P("avgpool2d_forward", ("x", (2, 2), (2, 2)), {}, TypeError, ["avgpool2d", "str"],
          id="avgpool-str"),
        P("avgpool2d_backward", (np.ones((2, 3, 4, 4), f32), x.shape, (2, 2), (2, 2)), {},
          ValueError, ["avgpool2d_backward", "dy"], id="avgpool-bwd-dy-shape"),
        P("avgpool2d_backward", (pooled.astype(np.int64), x.shape, (2, 2), (2, 2)), {},
          TypeError, ["avgpool2d_backward", "int64"], id="avgpool-bwd-int"),
        P("batchnorm_forward", (x, np.ones(4, f32), g, g.copy(), g.copy(), True, 0.1, 1e-5),
          {}, ValueError, ["batchnorm", "gamma", "(3,)"], id="bn-gamma-shape"),
        P("batchnorm_forward", (x[:, :, 0], g, g, g.copy(), g.copy(), True, 0.1, 1e-5), {},
          ValueError, ["batchnorm", "(N, C)"], id="bn-3d"),
        P("batchnorm_forward", (np.ones((1, 3), f32), g, g, g.copy(), g.copy(), True, 0.1,
                                1e-5), {}, ValueError, ["batchnorm", "more than one"],
          id="bn-one-sample"),
        P("batchnorm_forward", (x, g.astype(f64), g, g.copy(), g.copy(), True, 0.1, 1e-5),
          {}, TypeError, ["batchnorm", "float64"], id="bn-mixed"),
        P("batchnorm_backward", (x[:1], x, g, g, g, True), {}, ValueError,
          ["batchnorm_backward"], id="bn-bwd-dy-shape"),
        P("batchnorm_backward", (x, x, np.ones(5, f32), g, g, True), {}, ValueError,
          ["batchnorm_backward", "gamma"], id="bn-bwd-gamma-shape"),
        P("batchnorm_backward", (x.astype(np.int64), x, g, g, g, True), {}, TypeError,
          ["batchnorm_backward", "int64"], id="bn-bwd-int"),
        P("bias_relu_forward", (x.copy(), np.ones(4, f32)), {}, ValueError,
          ["bias_relu_forward", "bias", "(3,)"], id="bias-relu-bias-shape"),
        P("bias_relu_forward", (np.ones(5, f32), None), {}, ValueError,
          ["bias_relu_forward", "(N, F)"], id="bias-relu-1d"),
        P("bias_relu_forward", (x.copy(), g.astype(f64)), {}, TypeError,
          ["bias_relu_forward", "float64"], id="bias-relu-mixed"),
        P("bias_relu_forward", (x.transpose(0, 1, 3, 2), None), {}, ValueError,
          ["bias_relu_forward", "C-contiguous"], id="bias-relu-strided"),
        P("bias_relu_forward", (np.ones((2, 3), np.int32), None), {}, TypeError,
          ["bias_relu_forward", "int32"], id="bias-relu-int"),
        P("bias_relu_backward", (x, x[:1]), {}, ValueError,
          ["bias_relu_backward", "differ"], id="bias-relu-bwd-shape"),
        P("bias_relu_backward", (x, x.astype(f64)), {}, TypeError,
          ["bias_relu_backward", "float64"], id="bias-relu-bwd-mixed"),
    ]


KERNEL_CASES = _kernel_cases()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel, args, kwargs, exc, words", KERNEL_CASES)
def test_kernel_bad_arguments_raise(backend, kernel, args, kwargs, exc, words):
    # every backend runs the same checks (backend/_check.py), backward kernels included
    with mg.backend.use(backend):
        fn = getattr(mg.backend.current(), kernel)
        with pytest.raises(exc) as info:
            fn(*args, **kwargs)
    missing = [w for w in words if w not in str(info.value)]
    assert not missing, f"{backend}.{kernel}: message lacks {missing}: {info.value!r}"


# ----- kernels of every backend: nothing crashes --------------------------------------
def _ref(kernel, *args):
    with mg.backend.use("numpy"):
        return getattr(mg.backend.current(), kernel)(*args)


def _odd_layouts(a: np.ndarray):
    """The same values as a Fortran-ordered, a strided (non-contiguous) and a read-only
    array."""
    f = np.asfortranarray(a)
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    ro = a.copy()
    ro.flags.writeable = False
    return {"fortran": f, "strided": big[..., ::2], "readonly": ro}


def _run_or_clear_error(fn, *args):
    """Either a result or one of the documented exception kinds; anything else (or a
    crash of the process) fails the test."""
    try:
        return fn(*args)
    except (ValueError, TypeError, OverflowError) as exc:
        assert str(exc), "empty error message"
        return exc


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernels_survive_degenerate_and_odd_inputs(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    a = rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 3)).astype(np.float32)
    g = rng.standard_normal(3).astype(np.float32)
    with mg.backend.use(backend):
        k = mg.backend.current()
        # odd layouts give the reference's result
        for name, xv in _odd_layouts(x).items():
            np.testing.assert_allclose(k.conv2d_forward(xv, w, None, (1, 2), (1, 0)),
                                       _ref("conv2d_forward", x, w, None, (1, 2), (1, 0)),
                                       rtol=1e-4, atol=1e-4, err_msg=name)
            y, arg = k.maxpool2d_forward(xv, (2, 3), (2, 2))
            np.testing.assert_array_equal(y, _ref("maxpool2d_forward", x, (2, 3), (2, 2))[0])
            np.testing.assert_allclose(k.avgpool2d_forward(xv, (3, 2), (1, 3)),
                                       _ref("avgpool2d_forward", x, (3, 2), (1, 3)),
                                       rtol=1e-5, atol=1e-6)
            rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
            y = k.batchnorm_forward(xv, g, g, rm, rv, True, 0.1, 1e-5)[0]
            rm2, rv2 = np.zeros(3, np.float32), np.ones(3, np.float32)
            np.testing.assert_allclose(y, _ref("batchnorm_forward", x, g, g, rm2, rv2, True,
                                               0.1, 1e-5)[0], rtol=1e-4, atol=1e-4)
        for name, av in _odd_layouts(a).items():
            for bv in _odd_layouts(b).values():
                np.testing.assert_allclose(k.matmul(av, bv), a @ b, rtol=1e-4, atol=1e-5,
                                           err_msg=name)
        # read-only running statistics cannot be updated in place: an error, or the
        # update lands somewhere visible; never a write into read-only memory
        rm = np.zeros(3, np.float32)
        rm.flags.writeable = False
        _run_or_clear_error(k.batchnorm_forward, x, g, g, rm, np.ones(3, np.float32), True,
                            0.1, 1e-5)
        # zero-size dimensions
        np.testing.assert_array_equal(k.matmul(np.ones((0, 4), np.float32),
                                               np.ones((4, 3), np.float32)),
                                      np.zeros((0, 3)))
        np.testing.assert_array_equal(k.matmul(np.ones((3, 0), np.float32),
                                               np.ones((0, 2), np.float32)),
                                      np.zeros((3, 2)))
        np.testing.assert_array_equal(k.matmul(np.ones((0, 3, 0), np.float32),
                                               np.ones((0, 0, 2), np.float32)),
                                      np.zeros((0, 3, 2)))
        for shape in ((0, 3, 5, 7), (2, 3, 5, 0)):
            xe = np.ones(shape, np.float32)
            _run_or_clear_error(k.conv2d_forward, xe, w, None, (1, 1), (1, 1))
            _run_or_clear_error(k.maxpool2d_forward, xe, (1, 1), (1, 1))
            _run_or_clear_error(k.avgpool2d_forward, xe, (1, 1), (1, 1))
        y = k.conv2d_forward(np.ones((0, 3, 5, 7), np.float32), w, None, (1, 1), (0, 0))
        assert y.shape == (0, 4, 3, 6)
        dx, dw, db = k.conv2d_backward(np.ones((0, 3, 5, 7), np.float32), w,
                                       np.ones((0, 4, 3, 6), np.float32), (1, 1), (0, 0))
        assert dx.shape == (0, 3, 5, 7) and not dw.any() and not db.any()
        _run_or_clear_error(k.conv2d_forward, x, np.ones((0, 3, 3, 2), np.float32), None,
                            (1, 1), (0, 0))
        # huge strides and kernels larger than the input
        y = k.conv2d_forward(x, w, None, (10**6, 10**6), (0, 0))
        np.testing.assert_allclose(y, _ref("conv2d_forward", x, w, None, (10**6, 10**6),
                                           (0, 0)), rtol=1e-4, atol=1e-4)
        assert k.maxpool2d_forward(x, (5, 7), (2**31, 2**31))[0].shape == (2, 3, 1, 1)
        # a stride past int64: the right (1-row) result or an overflow error, no crash
        out = _run_or_clear_error(k.conv2d_forward, x, w, None, (2**63, 1), (0, 0))
        if not isinstance(out, Exception):
            np.testing.assert_allclose(out, _ref("conv2d_forward", x, w, None, (10**6, 1),
                                                 (0, 0)), rtol=1e-4, atol=1e-4)
        for bad in (lambda: k.conv2d_forward(x, np.ones((4, 3, 8, 8), np.float32), None,
                                             (1, 1), (0, 0)),
                    lambda: k.conv2d_forward(x, w, None, (1, 1), (-3, -3)),
                    lambda: k.maxpool2d_forward(x, (6, 8), (1, 1)),
                    lambda: k.avgpool2d_forward(x, (2, 2), (-1, 1)),
                    lambda: k.maxpool2d_backward(np.ones((2, 3, 2, 2), np.float32),
                                                 np.full((2, 3, 2, 2), -1, np.int64),
                                                 x.shape)):
            result = _run_or_clear_error(bad)
            if backend != "numpy":
                assert isinstance(result, Exception), "a bad argument gave a result"


@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_zero_channels_clear_error(backend):
    with mg.backend.use(backend):
        _run_or_clear_error(mg.backend.current().batchnorm_forward,
                            np.ones((4, 0), np.float32), np.ones(0, np.float32),
                            np.ones(0, np.float32), np.zeros(0, np.float32),
                            np.ones(0, np.float32), True, 0.1, 1e-5)


def test_taxonomy_subclasses_builtin_kinds():
    assert issubclass(ShapeError, ValueError) and issubclass(DTypeError, TypeError)
    assert issubclass(BackendError, RuntimeError)
    exc = KeyError("k")
    add_layer_context(exc, "Sequential", "0", nn.ReLU())
    assert exc.args == ("k",)  # non-input errors keep their args


def test_case_count_at_least_60():
    total = len(API_CASES) + len(FILE_CASES) + len(KERNEL_CASES)
    assert total >= 60, total
    if os.environ.get("MINIGRAD_PRINT_CASES"):
        print(f"bad-input cases: {total} ({len(KERNEL_CASES)} per backend x "
              f"{len(BACKENDS)} backends)")


def test_uint8_input_error_names_uint8():
    """Images arrive as uint8: the error names the dtype the user passed (the tensor
    no longer widens integer arrays to int64 before the check)."""
    x = np.zeros((3, 4), np.uint8)
    with pytest.raises(TypeError, match="got uint8"):
        mg.nn.Linear(4, 2)(x)
    with pytest.raises(TypeError, match="got uint8"):
        mg.nn.Conv2d(1, 2, 3)(mg.tensor(np.zeros((1, 1, 5, 5), np.uint8)))
