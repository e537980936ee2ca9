"""Experiment 1: vanishing and exploding gradients in a 20-layer MLP.

The lectures' claim: with weights drawn from N(0, 1), a deep net's gradients vanish
(saturating sigmoid/tanh) or explode (ReLU, and tanh in its linear range) on the way
to the input; an initialisation scaled to the activation (Glorot for sigmoid/tanh,
He for ReLU, LeCun for SELU), or batch norm, keeps them at a similar scale and lets
the net train. Eight versions of the same deep MLP test it: sigmoid, tanh and ReLU
with N(0, 1) weights; sigmoid and tanh with Glorot; ReLU with He; SELU with LeCun;
sigmoid with N(0, 1) plus batch norm. For each and each seed: the gradient norm of
every layer at initialisation (one batch, before any step), the loss of the first
epochs, and the test accuracy of the epoch with the best validation accuracy.
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_vanishing.py                   # full run (Fashion-MNIST)
    python examples/exp_vanishing.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (base_parser, BatchLosses, best_epoch, load_split,  # noqa: E402
                        mean_spread, pyplot, seeds_line, smooth, split_line, write_page)
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402

N01 = nn.init.Normal(0.0, 1.0)
CONFIGS = {  # name -> (activation, weight initializer, batch norm, the lectures' say)
    "sigmoid + N(0,1)": (nn.Sigmoid, N01, False, "unstable"),
    "tanh + N(0,1)": (nn.Tanh, N01, False, "unstable"),
    "ReLU + N(0,1)": (nn.ReLU, N01, False, "unstable"),
    "sigmoid + Glorot": (nn.Sigmoid, "glorot_uniform", False, "stable"),
    "tanh + Glorot": (nn.Tanh, "glorot_uniform", False, "stable"),
    "ReLU + He": (nn.ReLU, "he_normal", False, "stable"),
    "SELU + LeCun": (nn.SELU, "lecun_normal", False, "stable"),
    "sigmoid + N(0,1) + BatchNorm": (nn.Sigmoid, N01, True, "stable"),
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


def run_config(name: str, data: tuple, args: argparse.Namespace, seed: int) -> dict:
    act, init, bn, _ = CONFIGS[name]
    xtr, ytr, xval, yval, xte, yte = data
    mg.manual_seed(seed)
    model = build(act, init, bn, args.depth, args.width, xtr.shape[1], 10)
    model(xtr[:args.batch_size])  # BN: one forward in training mode, like the first step
    model.zero_grad()
    nn.functional.cross_entropy(model(xtr[:args.batch_size]), ytr[:args.batch_size]).backward()
    norms = linear_grad_norms(model)
    model.zero_grad()
    batches, best = BatchLosses(), best_epoch(args.epochs)
    with np.errstate(all="ignore"):  # N(0,1) + ReLU overflows: that is the point
        hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                            optimizer=mg.optim.SGD(model.parameters(), lr=args.lr,
                                                   momentum=0.9),
                            epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=(xval, yval), callbacks=[batches, best],
                            seed=seed, verbose=0)
        test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    return {"name": name, "seed": seed, "grad_norms": norms,
            "batch_losses": batches.losses, "epoch_loss": hist.history["loss"],
            "val_accuracy": hist.history["val_accuracy"], "best_epoch": best.best_epoch + 1,
            "test_accuracy": test["accuracy"]}


def _flow(norms: list[float]) -> str:
    """What the gradient does between the output layer and the first layer."""
    ratio = norms[0] / norms[-1] if norms[-1] > 0 else float("inf")
    if not np.isfinite(ratio) or ratio > 1e3 or max(norms) > 1e6:
        return "explodes"
    return "vanishes" if ratio < 1e-3 else "stable"


def summarise(runs: list[dict]) -> list[dict]:
    """One row per configuration over its seeds."""
    rows = []
    for name in dict.fromkeys(r["name"] for r in runs):
        mine = [r for r in runs if r["name"] == name]
        g = np.array([r["grad_norms"] for r in mine])
        ratios = g[:, 0] / g[:, -1]
        flows = [_flow(list(n)) for n in g]
        rows.append({"name": name, "expected": CONFIGS[name][3], "ratios": list(ratios),
                     "first": list(g[:, 0]), "last": list(g[:, -1]),
                     "max_norm": float(g.max()), "flow": max(set(flows), key=flows.count),
                     "loss": [r["epoch_loss"][-1] for r in mine],
                     "test": [r["test_accuracy"] for r in mine],
                     "best_epoch": [r["best_epoch"] for r in mine]})
    return rows


def plot(runs: list[dict], out: Path) -> list[str]:
    """The first seed's runs: per-layer gradient norms at init, and the batch losses."""
    first = [r for r in runs if r["seed"] == runs[0]["seed"]]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in first:
        norms = np.nan_to_num(np.asarray(r["grad_norms"], dtype=float), nan=1e30, posinf=1e30)
        ax.semilogy(range(1, len(norms) + 1), np.clip(norms, 1e-30, 1e30), marker="o",
                    ms=3, label=r["name"])
    ax.set_xlabel("Linear layer (1 = next to the input)")
    ax.set_ylabel("weight gradient L2 norm at init")
    ax.set_title(f"Per-layer gradient norms before training (seed {first[0]['seed']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "vanishing_grad_norms.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in first:
        losses = np.asarray(r["batch_losses"], dtype=float)
        ax.plot(*smooth(np.where(np.isfinite(losses), losses, np.nan)), label=r["name"])
    ax.set_ylim(0, 3.5)
    ax.set_xlabel("mini-batch")
    ax.set_ylabel("training loss (moving average)")
    ax.set_title(f"Training loss over the first epochs (seed {first[0]['seed']}; "
                 "NaN not drawn)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "vanishing_loss.png", dpi=110)
    plt.close(fig)
    return ["vanishing_grad_norms.png", "vanishing_loss.png"]


def _range(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.1e}" if len(values) == 1 else f"{lo:.1e} .. {hi:.1e}"


def table(rows: list[dict]) -> str:
    lines = ["| configuration | grad norm, layer 1 | grad norm, last layer | first / last | "
             "largest layer norm | train loss, last epoch | test accuracy (best val. epoch) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        loss = mean_spread(r["loss"]) if np.all(np.isfinite(r["loss"])) else "NaN (diverged)"
        lines.append(f"| {r['name']} | {_range(r['first'])} | {_range(r['last'])} | "
                     f"{_range(r['ratios'])} | {r['max_norm']:.1e} | {loss} | "
                     f"{mean_spread(r['test'])} |")
    return "\n".join(lines)


_SAY = {"stable": "stay at one scale", "unstable": "vanish or explode"}
_SAID = {"stable": "stays at one scale", "vanishes": "vanishes", "explodes": "explodes"}


def reading(rows: list[dict]) -> list[str]:
    """Per configuration: what the lectures expect, what the gradient did (ratio of the
    first to the last layer's norm, and the largest norm), whether the loss moved (ln 10
    is a uniform guess over 10 classes), and whether the claim held."""
    out = []
    for r in rows:
        ok = (r["flow"] == "stable") == (r["expected"] == "stable")
        learned = np.isfinite(r["loss"]).all() and np.mean(r["loss"]) < 0.9 * np.log(10)
        out.append(
            f"- **{r['name']}**: the lectures expect the gradient to {_SAY[r['expected']]}; "
            f"here it {_SAID[r['flow']]} (first / last layer {_range(r['ratios'])}, largest layer "
            f"norm {r['max_norm']:.1e}) and the net "
            + (f"learned (test accuracy {mean_spread(r['test'])})" if learned else
               "did not learn (loss at or above ln 10 = 2.303, or NaN)")
            + f". **Claim {'held' if ok else 'did not hold'}** here.")
    return out


def page(runs: list[dict], rows: list[dict], images: list[str],
         args: argparse.Namespace) -> list[str]:
    return [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. "
            f"{args.depth} Linear layers of width {args.width}, SGD lr {args.lr} momentum "
            f"0.9, batch {args.batch_size}, {args.epochs} epochs; "
            f"{seeds_line(args.seeds)}. Produced by `python examples/exp_vanishing.py"
            f"{' --quick' if args.quick else ''}`"
            + ("" if args.quick else f" (sized to run in minutes on a busy 2-core machine: "
                                     f"{args.train_samples} images, {args.epochs} epochs)")
            + ".", "",
            "**The lectures' claim:** with N(0, 1) weights the gradients of a deep net "
            "vanish (saturated sigmoid/tanh) or explode (ReLU; tanh while it is still "
            "linear) on the way to the input; Glorot initialisation for sigmoid and tanh, "
            "He for ReLU, LeCun for SELU, or batch norm keep them at one scale.", "",
            "Gradient norms are those of each Linear weight on one batch before any step, "
            "as a range over the seeds; first / last compares the layer next to the input "
            "with the output layer. A configuration counts as exploding when first / last "
            "exceeds 1e3 or a layer's norm exceeds 1e6, as vanishing below 1e-3.", "",
            table(rows), "", "Reading (generated from the numbers):", "", *reading(rows),
            "", f"![per-layer gradient norms]({images[0]})", "",
            f"![training loss]({images[1]})"]


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=6000)
    ap.add_argument("--val-samples", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--replot", action="store_true", help="rewrite the page and pictures "
                    "from the JSON of an earlier run with the same arguments (no training)")
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.seeds = min(args.width, 32), 1, args.seeds[:2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        stem = "vanishing_quick" if args.quick else "vanishing"
        runs = json.loads((out / f"{stem}.json").read_text())
    else:
        runs = train_all(args)
    rows = summarise(runs)
    path = write_page(out, "vanishing", args.quick,
                      f"Experiment 1: vanishing and exploding gradients ({args.depth}-layer "
                      "MLP)", page(runs, rows, plot(runs, out), args), runs)
    print(f"wrote {path}")
    return 0


def train_all(args: argparse.Namespace) -> list[dict]:
    data = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    runs = []
    for seed in args.seeds:
        for name in CONFIGS:
            runs.append(run_config(name, data, args, seed))
            r = runs[-1]
            print(f"seed {seed} {name:<30} grad norm first/last layer "
                  f"{r['grad_norms'][0]:.1e} / {r['grad_norms'][-1]:.1e}, test accuracy "
                  f"{r['test_accuracy']:.3f} (epoch {r['best_epoch']})", flush=True)
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
