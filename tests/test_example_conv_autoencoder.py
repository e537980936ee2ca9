"""examples/conv_autoencoder.py trains on Fashion-MNIST: on a small budget the test
reconstruction error falls well below the untrained network's."""
import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "conv_autoencoder.py"


@pytest.mark.slow
def test_conv_autoencoder_reconstruction_loss_drops(monkeypatch):
    data = os.environ.get("MINIGRAD_DATA", "/work/shared/data")
    if not Path(data).exists():
        pytest.skip(f"Fashion-MNIST not found in MINIGRAD_DATA={data}")
    monkeypatch.setenv("MINIGRAD_DATA", data)
    spec = importlib.util.spec_from_file_location("conv_autoencoder", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    mse = example.main(["--epochs", "1", "--train-size", "3000", "--test-size", "500"])[
        "test_mse"]
    assert mse[-1] < 0.4 * mse[0], mse
