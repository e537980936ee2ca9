"""A small convolutional autoencoder on Fashion-MNIST: Conv2d down, ConvTranspose2d up.

    28x28x1 -> Conv2d(s2) -> 14x14x16 -> Conv2d(s2) -> 7x7x32          (encoder)
            -> ConvTranspose2d(s2) -> 14x14x16 -> ConvTranspose2d(s2) -> 28x28x1 (decoder)

Trained with Adam on the mean squared reconstruction error of pixels in [0, 1]; prints
the test reconstruction loss before training and after each epoch.

    MINIGRAD_DATA=/work/shared/data python examples/conv_autoencoder.py --epochs 2
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
import minigrad as mg  # noqa: E402
from minigrad import nn  # noqa: E402


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())


def reconstruction_loss(model: nn.Module, x: np.ndarray, batch_size: int = 500) -> float:
    """Mean squared error over x (N, 1, 28, 28), without recording a graph."""
    total = 0.0
    with mg.no_grad():
        for i in range(0, len(x), batch_size):
            xb = mg.tensor(x[i:i + batch_size])
            total += float(((model(xb) - xb) ** 2).sum().item())
    return total / x.size


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    mg.manual_seed(args.seed)
    (x_train, _), (x_test, _) = mg.data.load_fashion_mnist()
    x_train = (x_train[:args.train_size, None] / 255.0).astype(np.float32)
    x_test = (x_test[:args.test_size, None] / 255.0).astype(np.float32)
    model = build()
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    history = [reconstruction_loss(model, x_test)]
    print(f"test reconstruction MSE before training: {history[0]:.4f}")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), args.batch_size):
            xb = mg.tensor(x_train[order[i:i + args.batch_size]])
            loss = ((model(xb) - xb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append(reconstruction_loss(model, x_test))
        print(f"epoch {epoch}: test reconstruction MSE {history[-1]:.4f}")
    return {"test_mse": history}


if __name__ == "__main__":
    main()
