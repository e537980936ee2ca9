"""The two example ports (examples/ports/) run end to end on a small budget and learn:
pytorch/examples' MNIST convnet and Keras's simple MNIST convnet, on Fashion-MNIST
(the shared data holds its training split)."""
import os
import re
import runpy
import sys
from pathlib import Path

import pytest

import minigrad as mg

PORTS = Path(__file__).resolve().parent.parent / "examples" / "ports"
DATA = os.environ.get("MINIGRAD_DATA")


def _budget(monkeypatch, samples):
    if not DATA or not (Path(DATA) / "fashion-mnist").is_dir():
        pytest.skip("needs $MINIGRAD_DATA/fashion-mnist (the shared data copy)")
    monkeypatch.setenv("MINIGRAD_DATA", DATA)
    monkeypatch.setenv("PORT_DATASET", "fashion-mnist")
    monkeypatch.setenv("PORT_SAMPLES", str(samples))


@pytest.mark.slow
def test_ports_pytorch_mnist_trains(monkeypatch, capsys):
    _budget(monkeypatch, 640)
    if not hasattr(mg.optim, "Adadelta"):
        # Adadelta comes with the lectures' optimizers; until then the port runs on Adam
        monkeypatch.setattr(mg.optim, "Adadelta",
                            lambda params, lr: mg.optim.Adam(params, lr=1e-3), raising=False)
    monkeypatch.setattr(sys, "argv", ["pytorch_mnist.py", "--epochs", "2",
                                      "--log-interval", "5", "--test-batch-size", "320"])
    runpy.run_path(str(PORTS / "pytorch_mnist.py"), run_name="__main__")
    out = capsys.readouterr().out
    accs = [int(a) / int(n) for a, n in re.findall(r"Accuracy: (\d+)/(\d+)", out)]
    assert len(accs) == 2 and accs[-1] > 0.5, out[-800:]
    assert "Train Epoch: 2" in out


@pytest.mark.slow
def test_ports_keras_mnist_convnet_trains(monkeypatch, capsys):
    _budget(monkeypatch, 640)
    monkeypatch.setenv("PORT_EPOCHS", "3")
    runpy.run_path(str(PORTS / "keras_mnist_convnet.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Total params: 34,826" in out or "Total params: 34826" in out, out[:2000]
    acc = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert acc > 0.5, out[-800:]
