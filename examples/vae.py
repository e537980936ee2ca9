"""A variational autoencoder (Kingma & Welling, "Auto-encoding variational Bayes",
ICLR 2014) on Fashion-MNIST, written as an explicit training loop.

The encoder maps an image x to the mean mu and log-variance log s^2 of a Gaussian
q(z | x) over a --latent dimensional code; the decoder maps a code z to the logits
of 784 Bernoulli pixels p(x | z). The loss is the negative evidence lower bound,
per image:
    reconstruction  BCE(decoder(z), x) summed over pixels,  z ~ q(z | x)
  + KL(q(z | x) || N(0, I)) = -1/2 sum(1 + log s^2 - mu^2 - s^2)
Sampling z is not differentiable, so z is drawn with the reparameterization trick:
z = mu + s * eps with eps ~ N(0, I) drawn outside the graph; the gradient then flows
to mu and log s^2 through the ordinary ops (``reparameterize`` below).

    MINIGRAD_DATA=/path/to/data python examples/vae.py --epochs 5 --out /tmp/vae.png
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigrad as mg
from minigrad import nn

F = nn.functional


class VAE(nn.Module):
    """784 -> hidden -> (mu, logvar) in R^latent; latent -> hidden -> 784 logits."""

    def __init__(self, latent: int = 20, hidden: int = 400):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, hidden, weight_init="he_normal"), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden, weight_init="he_normal"),
                                     nn.ReLU(), nn.Linear(hidden, 784))
        self.latent = latent

    def encode(self, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x: mg.Tensor, eps: np.ndarray) -> tuple[mg.Tensor, ...]:
        mu, logvar = self.encode(x)
        return self.decoder(reparameterize(mu, logvar, eps)), mu, logvar


def reparameterize(mu: mg.Tensor, logvar: mg.Tensor, eps: np.ndarray) -> mg.Tensor:
    """z = mu + exp(logvar / 2) * eps: a sample of N(mu, exp(logvar)) that is a
    differentiable function of mu and logvar (eps ~ N(0, I) is a constant input)."""
    return mu + (logvar * 0.5).exp() * mg.tensor(eps, dtype=mu.dtype)


def negative_elbo(logits: mg.Tensor, x: mg.Tensor, mu: mg.Tensor, logvar: mg.Tensor
                  ) -> tuple[mg.Tensor, mg.Tensor]:
    """(reconstruction, KL), each summed over pixels / latents and averaged over the
    batch; their sum is the loss."""
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = ((mu * mu + logvar.exp() - logvar - 1.0) * 0.5).sum() / n
    return recon, kl


def evaluate(model: VAE, x: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Mean reconstruction and KL terms over x (one z sample per image)."""
    recon = kl = 0.0
    with mg.no_grad():
        for start in range(0, len(x), 1000):
            xb = mg.tensor(x[start:start + 1000])
            eps = rng.standard_normal((xb.shape[0], model.latent)).astype(np.float32)
            logits, mu, logvar = model(xb, eps)
            r, k = negative_elbo(logits, xb, mu, logvar)
            recon, kl = recon + r.item() * xb.shape[0], kl + k.item() * xb.shape[0]
    return recon / len(x), kl / len(x)


def train(model: VAE, x: np.ndarray, epochs: int, batch_size: int, lr: float,
          rng: np.random.Generator) -> list[float]:
    """Adam on the negative ELBO; returns the mean training loss of each epoch."""
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // batch_size)):
            xb = mg.tensor(x[idx])
            eps = rng.standard_normal((len(idx), model.latent)).astype(np.float32)
            logits, mu, logvar = model(xb, eps)
            recon, kl = negative_elbo(logits, xb, mu, logvar)
            loss = recon + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
        print(f"epoch {epoch + 1}/{epochs}: -ELBO {losses[-1]:.1f} "
              f"(last batch: reconstruction {recon.item():.1f}, KL {kl.item():.1f})")
    return losses


def save_pictures(model: VAE, x: np.ndarray, path: str, rng: np.random.Generator) -> None:
    """Row 1-2: test images and their reconstructions; rows 3-4: decoded N(0, I) draws."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    with mg.no_grad():
        mu, _ = model.encode(mg.tensor(x[:10]))
        recon = model.decoder(mu).sigmoid().numpy()
        z = rng.standard_normal((20, model.latent)).astype(np.float32)
        samples = model.decoder(mg.tensor(z)).sigmoid().numpy()
    fig = Figure(figsize=(10, 4.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(4, 10)
    for ax, img in zip(axes.flat, np.concatenate([x[:10], recon, samples])):
        ax.imshow(img.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
    fig.suptitle("test images / their reconstructions (from mu) / samples of the prior",
                 fontsize=9)
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=60000, help="training images")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--latent", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write a PNG of reconstructions and samples here")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    (xtr, _), (xte, _) = mg.data.load_fashion_mnist()
    rng = np.random.default_rng(args.seed)
    xtr = (xtr[rng.permutation(len(xtr))[:args.train]].reshape(-1, 784) / 255.0)
    xtr, xte = xtr.astype(np.float32), (xte.reshape(-1, 784) / 255.0).astype(np.float32)
    mg.manual_seed(args.seed)
    model = VAE(args.latent)
    before = evaluate(model, xte, rng)
    losses = train(model, xtr, args.epochs, args.batch_size, args.lr, rng)
    recon, kl = evaluate(model, xte, rng)
    print(f"test -ELBO per image: {sum(before):.1f} before training -> {recon + kl:.1f} "
          f"(reconstruction {recon:.1f} + KL {kl:.1f} nats); "
          f"{time.perf_counter() - start:.0f} s")
    if args.out:
        save_pictures(model, xte, args.out, rng)
        print(f"wrote {args.out}")
    return {"before": sum(before), "test": recon + kl, "recon": recon, "kl": kl,
            "train_first": losses[0], "train_last": losses[-1]}


if __name__ == "__main__":
    main()
