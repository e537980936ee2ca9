"""Experiment 2: nine activations on the same MLP.

The lectures' claims: the leaky variants (LeakyReLU with alpha 0.2, PReLU, RReLU)
and ELU/SELU beat plain ReLU, and ReLU units can die (output 0 for every input).
ReLU, LeakyReLU(0.2), PReLU, RReLU, ELU, SELU, GELU, Swish and Mish run in one MLP on
Fashion-MNIST, each with its matching initializer (He, LeCun for SELU) and the same
optimizer and data, over several seeds: the test accuracy of the epoch with the best
validation accuracy, epoch time, and the fraction of dead units in every epoch (zero
for every training sample of that epoch, from diagnostics.ActivationMonitor).
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_activations.py                      # full run (Fashion-MNIST)
    python examples/exp_activations.py --quick --out /tmp/x  # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (NOISE_RULE, VERDICT, base_parser, best_epoch,  # noqa: E402
                        compare, load_split, mean_spread, pyplot, seeds_line, split_line,
                        write_page)
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402

ACTIVATIONS = {  # name -> (module factory, initializer)
    "ReLU": (nn.ReLU, "he_normal"),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), "he_normal"),  # the lectures' alpha
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


def run_one(name: str, data: tuple, args: argparse.Namespace, seed: int) -> dict:
    act, init = ACTIVATIONS[name]
    xtr, ytr, xval, yval, xte, yte = data
    mg.manual_seed(seed)
    model = build(act, init, args.widths, xtr.shape[1], 10)
    monitor = D.ActivationMonitor(model, layers=[n for n, m in model.named_children()
                                                 if not isinstance(m, nn.Linear)])
    best = best_epoch(args.epochs)
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=mg.optim.Adam(model.parameters(), lr=args.lr),
                        epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(xval, yval), callbacks=[monitor.callback(), best],
                        seed=seed, verbose=0)
    epoch_time = (time.perf_counter() - t0) / args.epochs
    monitor.remove()
    test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    return {"name": name, "seed": seed, "val_accuracy": hist.history["val_accuracy"],
            "loss": hist.history["loss"], "dead": hist.history["dead_units"],
            "dead_max": hist.history["dead_units_max"], "epoch_time": epoch_time,
            "best_epoch": best.best_epoch + 1, "test_accuracy": test["accuracy"]}


def summarise(runs: list[dict]) -> list[dict]:
    """One row per activation over its seeds, best test accuracy first."""
    rows = []
    for name in dict.fromkeys(r["name"] for r in runs):
        mine = [r for r in runs if r["name"] == name]
        rows.append({"name": name, "test": [r["test_accuracy"] for r in mine],
                     "loss": [r["loss"][-1] for r in mine],
                     "time": [r["epoch_time"] for r in mine],
                     "dead": np.array([r["dead"] for r in mine]),
                     "dead_max": np.array([r["dead_max"] for r in mine])})
    return sorted(rows, key=lambda r: -np.mean(r["test"]))


def plot(runs: list[dict], rows: list[dict], out: Path) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for row in rows:
        mine = [r for r in runs if r["name"] == row["name"]]
        epochs = range(1, len(mine[0]["val_accuracy"]) + 1)
        axes[0].plot(epochs, np.mean([r["val_accuracy"] for r in mine], axis=0), marker="o",
                     ms=3, label=row["name"])
        axes[1].plot(epochs, np.mean([r["loss"] for r in mine], axis=0), marker="o", ms=3,
                     label=row["name"])
    axes[0].set_title("validation accuracy per epoch (mean over seeds)")
    axes[1].set_title("training loss per epoch (mean over seeds)")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "activations_curves.png", dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    names = [r["name"] for r in rows]
    tests = [100 * np.asarray(r["test"]) for r in rows]
    axes[0].errorbar(names, [t.mean() for t in tests], yerr=[t.std(ddof=1) if len(t) > 1
                                                              else 0 for t in tests],
                     fmt="o", capsize=4)
    axes[0].set_title("test accuracy % (mean ± std over seeds)")
    axes[1].bar(names, [100 * r["dead"].max() for r in rows], color="#d62728")
    axes[1].set_title("dead units, worst epoch and seed (% of hidden units)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(out / "activations_time_dead.png", dpi=110)
    plt.close(fig)
    return ["activations_curves.png", "activations_time_dead.png"]


def table(rows: list[dict]) -> str:
    epochs = rows[0]["dead"].shape[1]
    lines = ["| activation | test accuracy | train loss, last epoch | s / epoch | dead units "
             "per epoch (mean over layers and seeds) | worst layer, any epoch |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        per_epoch = " / ".join(f"{d:.1%}" for d in r["dead"].mean(axis=0))
        lines.append(f"| {r['name']} | {mean_spread(r['test'], '.4f')} | "
                     f"{mean_spread(r['loss'])} | {np.mean(r['time']):.1f} | {per_epoch} | "
                     f"{r['dead_max'].max():.1%} |")
    return "\n".join(lines) + f"\n\n(dead units listed for epochs 1 to {epochs})"


def _versus(rows: list[dict], name: str, base: str = "ReLU") -> tuple[str, float]:
    return compare(next(r["test"] for r in rows if r["name"] == name),
                   next(r["test"] for r in rows if r["name"] == base))


def verdicts(rows: list[dict]) -> list[str]:
    names = {r["name"] for r in rows}
    out = []
    for group, claim in ((["LeakyReLU", "PReLU", "RReLU"], "leaky variants beat ReLU"),
                         (["ELU", "SELU"], "ELU and SELU beat ReLU")):
        if "ReLU" not in names or not names & set(group):
            continue
        said = [(n, *_versus(rows, n)) for n in group if n in names]
        votes = {v for _, v, _ in said}
        overall = "better" if votes == {"better"} else \
            "worse" if votes == {"worse"} else "within noise"
        out.append(f"- Claim \"{claim}\": " + "; ".join(
            f"{n} {v} ({gap:+.4f})" for n, v, gap in said)
            + f". **{VERDICT[overall]}** here"
            + ("" if overall == "better" else f" ({NOISE_RULE}; held only if every one "
                                              "is better)") + ".")
    if "ReLU" in names:
        relu = next(r for r in rows if r["name"] == "ReLU")
        worst = relu["dead"].max()
        out.append(f"- Claim \"ReLU units die\": ReLU had at most {worst:.1%} dead units "
                   f"(mean over layers, any epoch and seed; {relu['dead_max'].max():.1%} in "
                   "its worst layer). " + ("**Held** here: a few units died even with He "
                                           "initialisation and Adam at this lr." if worst > 0
                                           else "**Not seen** here with He initialisation "
                                           "and Adam at this lr (the lectures tie dying "
                                           "units to large learning rates)."))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 128, 64])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=10000)
    ap.add_argument("--val-samples", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--only", nargs="+", choices=sorted(ACTIVATIONS),
                    help="run only these activations")
    args = ap.parse_args(argv)
    if args.quick:
        args.widths, args.epochs, args.batch_size = [32, 16], 3, 32
        args.seeds = args.seeds[:2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    runs = []
    for seed in args.seeds:
        for name in args.only or ACTIVATIONS:
            r = run_one(name, data, args, seed)
            runs.append(r)
            print(f"seed {seed} {name:<10} test accuracy {r['test_accuracy']:.4f} (epoch "
                  f"{r['best_epoch']}), {r['epoch_time']:.1f} s/epoch, dead units per "
                  f"epoch {[round(d, 4) for d in r['dead']]}", flush=True)
    rows = summarise(runs)
    lines = [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. MLP "
             f"with hidden widths {args.widths}, each activation with its matching "
             f"initializer (He; LeCun for SELU), LeakyReLU with alpha 0.2 as in the "
             f"lectures, Adam lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs; "
             f"{seeds_line(args.seeds)}. Produced by `python examples/exp_activations.py"
             f"{' --quick' if args.quick else ''}`"
             + ("" if args.quick else " (sized for minutes on a busy 2-core machine)")
             + ".", "",
             "**The lectures' claims:** the leaky variants (LeakyReLU, PReLU, RReLU) and "
             "ELU/SELU outperform plain ReLU, and ReLU suffers from dying units.", "",
             "Dead units: hidden units that output exactly 0 for every training sample of "
             "an epoch (ActivationMonitor), given for every epoch as measured; only the "
             "ReLU family can produce them. Epoch times come from a machine shared with "
             "other jobs: compare them loosely.", "", table(rows), "",
             "Verdicts (generated from the numbers):", "", *verdicts(rows), ""]
    images = plot(runs, rows, out)
    lines += [f"![{img}]({img})" for img in images]
    path = write_page(out, "activations", args.quick, "Experiment 2: activation functions",
                      lines, runs)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
