"""Experiment 1: vanishing and exploding gradients in a 20-layer MLP.

Five versions of the same deep MLP on Fashion-MNIST: sigmoid with N(0, 1) weights,
sigmoid with Glorot, ReLU with He, SELU with LeCun, and sigmoid with N(0, 1) plus
batch norm after every hidden Linear. For each: the gradient norm of every layer at
initialisation (one batch, before any step), the loss over the first epochs, the
test accuracy and the epoch time. Writes PNGs and a markdown page into
docs/experiments/ (or --out).

    python examples/exp_vanishing.py                   # full run (Fashion-MNIST)
    python examples/exp_vanishing.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (base_parser, BatchLosses, data_line, load_data, pyplot, smooth,  # noqa: E402
                        write_page)
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402

N01 = nn.init.Normal(0.0, 1.0)
CONFIGS = {  # name -> (activation, weight initializer, batch norm)
    "sigmoid + N(0,1)": (nn.Sigmoid, N01, False),
    "sigmoid + Glorot": (nn.Sigmoid, "glorot_uniform", False),
    "ReLU + He": (nn.ReLU, "he_normal", False),
    "SELU + LeCun": (nn.SELU, "lecun_normal", False),
    "sigmoid + N(0,1) + BatchNorm": (nn.Sigmoid, N01, True),
}


def build(act: type, init, batch_norm: bool, depth: int, width: int, n_in: int,
          n_out: int) -> nn.Sequential:
    """depth Linear layers: depth - 1 hidden ones (each followed by BN if asked and by
    the activation), then the output layer."""
    layers, fan_in = [], n_in
    for _ in range(depth - 1):
        layers.append(nn.Linear(fan_in, width, weight_init=init))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
        fan_in = width
    layers.append(nn.Linear(fan_in, n_out, weight_init=init))
    return nn.Sequential(*layers)


def linear_grad_norms(model: nn.Sequential) -> list[float]:
    """Gradient L2 norm of each Linear layer's weight, input side first."""
    stats = {r["name"]: r["norm"] for r in D.gradient_stats(model)}
    return [stats[f"{name}.weight"] for name, m in model.named_children()
            if isinstance(m, nn.Linear)]


def run_config(name: str, data: tuple, args: argparse.Namespace) -> dict:
    act, init, bn = CONFIGS[name]
    xtr, ytr, xte, yte = data
    mg.manual_seed(args.seed)
    model = build(act, init, bn, args.depth, args.width, xtr.shape[1], 10)
    model(xtr[:args.batch_size])  # BN: one forward in training mode, like the first step
    model.zero_grad()
    nn.functional.cross_entropy(model(xtr[:args.batch_size]), ytr[:args.batch_size]).backward()
    norms = linear_grad_norms(model)
    model.zero_grad()
    batches = BatchLosses()
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=mg.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9),
                        epochs=args.epochs, batch_size=args.batch_size, callbacks=[batches],
                        seed=args.seed, verbose=0)
    epoch_time = (time.perf_counter() - t0) / args.epochs
    test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    return {"name": name, "grad_norms": norms, "batch_losses": batches.losses,
            "epoch_loss": hist.history["loss"], "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "epoch_time": epoch_time}


def plot(results: list[dict], out: Path) -> list[str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ax.semilogy(range(1, len(r["grad_norms"]) + 1),
                    np.maximum(r["grad_norms"], 1e-30), marker="o", ms=3, label=r["name"])
    ax.set_xlabel("Linear layer (1 = next to the input)")
    ax.set_ylabel("weight gradient L2 norm at init")
    ax.set_title("Per-layer gradient norms before training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "vanishing_grad_norms.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ax.plot(*smooth(r["batch_losses"]), label=r["name"])
    ax.set_xlabel("mini-batch")
    ax.set_ylabel("training loss (moving average)")
    ax.set_title("Training loss over the first epochs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "vanishing_loss.png", dpi=110)
    plt.close(fig)
    return ["vanishing_grad_norms.png", "vanishing_loss.png"]


def table(results: list[dict]) -> str:
    lines = ["| configuration | grad norm, layer 1 | grad norm, last layer | first / last | "
             "train loss, last epoch | test accuracy | s / epoch |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        g = r["grad_norms"]
        ratio = g[0] / g[-1] if g[-1] > 0 else float("inf")
        lines.append(f"| {r['name']} | {g[0]:.2e} | {g[-1]:.2e} | {ratio:.1e} | "
                     f"{r['epoch_loss'][-1]:.3f} | {r['test_accuracy']:.3f} | "
                     f"{r['epoch_time']:.1f} |")
    return "\n".join(lines)


def reading(results: list[dict]) -> list[str]:
    """One sentence per configuration, from its numbers: does the gradient reach the
    first layer (first / last norm ratio), and did the loss move (last epoch vs ln 10,
    the loss of a uniform guess over 10 classes)?"""
    out = []
    for r in results:
        g = r["grad_norms"]
        ratio = g[0] / g[-1] if g[-1] > 0 else float("inf")
        flow = ("vanishes on the way to the input" if ratio < 1e-3 else
                "explodes on the way to the input" if ratio > 1e3 else
                "reaches the first layer at a similar scale")
        learned = r["epoch_loss"][-1] < 0.9 * np.log(10)
        out.append(f"- **{r['name']}**: the gradient {flow} (first / last layer "
                   f"{ratio:.1e}); after {len(r['epoch_loss'])} epochs the training loss is "
                   f"{r['epoch_loss'][-1]:.3f} "
                   + ("and the test accuracy " + f"{r['test_accuracy']:.3f}." if learned else
                      f"(chance level is ln 10 = {np.log(10):.3f}): it has not learned."))
    return out


def page(results: list[dict], images: list[str], args: argparse.Namespace) -> list[str]:
    return [f"Data: {data_line(args.quick, args.train_samples)}. {args.depth} Linear "
            f"layers of width {args.width}, SGD lr {args.lr} momentum 0.9, batch "
            f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}. Produced by "
            f"`python examples/exp_vanishing.py{' --quick' if args.quick else ''}`.", "",
            "Gradient norms are those of each Linear weight on one batch before any "
            "step; first / last compares the layer next to the input with the output "
            "layer. Times are wall-clock seconds on the machine of the run (a 2-core "
            "machine shared with other jobs: compare them loosely).", "", table(results), "", "Reading (generated from the numbers):", "",
            *reading(results), "", f"![per-layer gradient norms]({images[0]})",
            "", f"![training loss]({images[1]})"]


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replot", action="store_true", help="rewrite the page and pictures "
                    "from the JSON of an earlier run with the same arguments (no training)")
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs = min(args.width, 32), 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        stem = "vanishing_quick" if args.quick else "vanishing"
        results = json.loads((out / f"{stem}.json").read_text())
    else:
        results = train_all(args)
    path = write_page(out, "vanishing", args.quick,
                      f"Experiment 1: vanishing and exploding gradients ({args.depth}-layer "
                      "MLP)", page(results, plot(results, out), args), results)
    print(f"wrote {path}")
    return 0


def train_all(args: argparse.Namespace) -> list[dict]:
    data = load_data(args.quick, args.data, args.train_samples, args.seed)
    results = []
    for name in CONFIGS:
        results.append(run_config(name, data, args))
        r = results[-1]
        print(f"{name:<30} grad norm first/last layer {r['grad_norms'][0]:.1e} / "
              f"{r['grad_norms'][-1]:.1e}, test accuracy {r['test_accuracy']:.3f}, "
              f"{r['epoch_time']:.1f} s/epoch", flush=True)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
