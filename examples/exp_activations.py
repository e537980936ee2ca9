"""Experiment 2: nine activations on the same MLP.

ReLU, LeakyReLU, PReLU, RReLU, ELU, SELU, GELU, Swish and Mish in one MLP on
Fashion-MNIST, each with its matching initializer (He, LeCun for SELU) and the same
optimizer, seed and data: test accuracy, epoch time, and the fraction of dead units
(zero for every training sample of an epoch, from diagnostics.ActivationMonitor).
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_activations.py                      # full run (Fashion-MNIST)
    python examples/exp_activations.py --quick --out /tmp/x  # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import base_parser, data_line, load_data, pyplot, write_page  # noqa: E402
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402

ACTIVATIONS = {  # name -> (module factory, initializer)
    "ReLU": (nn.ReLU, "he_normal"),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.01), "he_normal"),
    "PReLU": (nn.PReLU, "he_normal"),
    "RReLU": (nn.RReLU, "he_normal"),
    "ELU": (nn.ELU, "he_normal"),
    "SELU": (nn.SELU, "lecun_normal"),
    "GELU": (nn.GELU, "he_normal"),
    "Swish": (nn.Swish, "he_normal"),
    "Mish": (nn.Mish, "he_normal"),
}


def build(act, init: str, widths: list[int], n_in: int, n_out: int) -> nn.Sequential:
    layers, fan_in = [], n_in
    for w in widths:
        layers += [nn.Linear(fan_in, w, weight_init=init), act()]
        fan_in = w
    return nn.Sequential(*layers, nn.Linear(fan_in, n_out, weight_init=init))


def run_one(name: str, data: tuple, args: argparse.Namespace) -> dict:
    act, init = ACTIVATIONS[name]
    xtr, ytr, xte, yte = data
    mg.manual_seed(args.seed)
    model = build(act, init, args.widths, xtr.shape[1], 10)
    monitor = D.ActivationMonitor(model, layers=[n for n, m in model.named_children()
                                                 if not isinstance(m, nn.Linear)])
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=mg.optim.Adam(model.parameters(), lr=args.lr),
                        epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(xte, yte), callbacks=[monitor.callback()],
                        seed=args.seed, verbose=0)
    epoch_time = (time.perf_counter() - t0) / args.epochs
    monitor.remove()
    return {"name": name, "val_accuracy": hist.history["val_accuracy"],
            "loss": hist.history["loss"], "dead": hist.history["dead_units"],
            "dead_max": hist.history["dead_units_max"], "epoch_time": epoch_time}


def plot(results: list[dict], out: Path) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        epochs = range(1, len(r["val_accuracy"]) + 1)
        axes[0].plot(epochs, r["val_accuracy"], marker="o", ms=3, label=r["name"])
        axes[1].plot(epochs, r["loss"], marker="o", ms=3, label=r["name"])
    axes[0].set_title("test accuracy per epoch")
    axes[1].set_title("training loss per epoch")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "activations_curves.png", dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    names = [r["name"] for r in results]
    axes[0].bar(names, [r["epoch_time"] for r in results], color="#1f77b4")
    axes[0].set_title("seconds per epoch")
    axes[1].bar(names, [100 * r["dead"][-1] for r in results], color="#d62728")
    axes[1].set_title("dead units after the last epoch (% of hidden units)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(out / "activations_time_dead.png", dpi=110)
    plt.close(fig)
    return ["activations_curves.png", "activations_time_dead.png"]


def table(results: list[dict]) -> str:
    lines = ["| activation | test accuracy | best test accuracy | train loss | s / epoch | "
             "dead units (mean / worst layer) |", "|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: -r["val_accuracy"][-1]):
        lines.append(f"| {r['name']} | {r['val_accuracy'][-1]:.4f} | "
                     f"{max(r['val_accuracy']):.4f} | {r['loss'][-1]:.4f} | "
                     f"{r['epoch_time']:.1f} | {r['dead'][-1]:.1%} / {r['dead_max'][-1]:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 128, 64])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--only", nargs="+", choices=sorted(ACTIVATIONS),
                    help="run only these activations")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.widths, args.epochs, args.batch_size = [32, 16], 3, 32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.quick, args.data, args.train_samples, args.seed)
    results = []
    for name in args.only or ACTIVATIONS:
        r = run_one(name, data, args)
        results.append(r)
        print(f"{name:<10} test accuracy {r['val_accuracy'][-1]:.4f}, {r['epoch_time']:.1f} "
              f"s/epoch, dead units {r['dead'][-1]:.1%}", flush=True)
    lines = [f"Data: {data_line(args.quick, args.train_samples)}. MLP with hidden widths "
             f"{args.widths}, each activation with its matching initializer (He; LeCun for "
             f"SELU), Adam lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, "
             f"seed {args.seed}. Produced by `python examples/exp_activations.py"
             f"{' --quick' if args.quick else ''}`.", "",
             "Dead units: hidden units that output exactly 0 for every training sample "
             "of the last epoch (ActivationMonitor); only the ReLU family can produce "
             "them.", "", table(results), ""]
    images = plot(results, out)
    lines += [f"![{img}]({img})" for img in images]
    path = write_page(out, "activations", args.quick, "Experiment 2: activation functions",
                      lines, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
