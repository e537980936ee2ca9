"""The PyTorch device API on the CPU: mg.device, Tensor.to / cpu, Module.to / cpu /
double, mg.accelerator; other devices raise clearly."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_device_cpu_spellings_are_one_device():
    assert mg.device("cpu") == mg.device("cpu:0") == mg.device("cpu", 0)
    assert mg.device(mg.device("cpu")) == mg.device("cpu")
    assert str(mg.device("cpu")) == "cpu" and repr(mg.device("cpu")) == "device(type='cpu')"
    assert mg.tensor([1.0]).device == mg.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "mps", "xpu"])
def test_device_other_than_cpu_raises_clearly(spec):
    with pytest.raises(RuntimeError, match=f"minigrad runs on the CPU only, got device "
                                           f"'{spec}'"):
        mg.device(spec)
    with pytest.raises(RuntimeError, match="CPU only"):
        mg.tensor([1.0]).to(spec)
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 2).to(spec)


def test_device_typos_and_bad_indices_are_value_errors():
    with pytest.raises(ValueError, match="unknown device type 'gpu'"):
        mg.device("gpu")
    with pytest.raises(ValueError, match="the CPU is device 0, got index 1"):
        mg.device("cpu:1")


def test_accelerator_reports_none_available():
    for acc in (mg.accelerator, mg.cuda, mg.mps):
        assert acc.is_available() is False and acc.device_count() == 0
    assert mg.accelerator.current_accelerator() is None


def test_tensor_to_device_and_dtype():
    t = mg.tensor([1.0, 2.0])
    assert t.to("cpu") is t and t.cpu() is t and t.to(mg.device("cpu")) is t
    d = t.to(mg.device("cpu"), np.float64)
    assert d.dtype == np.float64 and np.array_equal(d.data, t.data)
    assert t.to(dtype="float64").dtype == np.float64
    assert t.to(mg.tensor(np.zeros(1), dtype=np.float64)).dtype == np.float64
    assert t.to(device="cpu", non_blocking=True) is t
    with pytest.raises(TypeError, match="unexpected keyword"):
        t.to(memory_format=None)


def test_tensor_to_dtype_keeps_the_graph_for_floats_only():
    x = mg.tensor(np.array([1.5, -2.0], np.float32), requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and np.allclose(x.grad.numpy(), [3.0, -4.0])
    assert x.to(np.float32) is x
    i = x.to(np.int64)  # as PyTorch: an integer copy has no gradient
    assert i.dtype == np.int64 and not i.requires_grad


def test_module_to_casts_parameters_and_buffers_in_place():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    assert model.to("cpu") is model and model.cpu() is model
    assert model.to(mg.device("cpu"), dtype=np.float64) is model
    assert model[0].weight is weight and weight.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    out = model(mg.tensor(np.ones((4, 3)), dtype=np.float64))
    out.sum().backward()
    opt.step()  # the optimizer still holds the same (now float64) parameters
    assert model.float()[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match="modules take float dtypes only"):
        model.to(np.int64)
