"""Experiment 5: transfer learning, as in Hands-on ML (chapter 11).

Model A learns the 8 Fashion-MNIST classes other than T-shirt/top (0) and pullover
(2). Task B separates T-shirts from pullovers with only 200 training images. Model B
is trained from scratch on them; model B-on-A reuses A's hidden layers with a new
output layer, first frozen (only the new layer trains), then unfrozen with a lower
learning rate. Test accuracy of B and B-on-A over several seeds.
Writes a markdown page (and the per-seed numbers as JSON) into docs/experiments/.

    python examples/exp_transfer.py                       # full run (Fashion-MNIST)
    python examples/exp_transfer.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import base_parser, data_line, load_data, pyplot, write_page  # noqa: E402
from minigrad import nn  # noqa: E402

B_CLASSES = (0, 2)  # T-shirt/top, pullover


def hidden_stack(widths: list[int]) -> list:
    layers, fan_in = [], 784
    for w in widths:
        layers += [nn.Linear(fan_in, w, weight_init="he_normal"), nn.ReLU()]
        fan_in = w
    return layers


def fit(model, x, y, lr: float, epochs: int, args, seed: int) -> None:
    one_logit = model[-1].out_features == 1  # task B: one logit, binary cross-entropy
    mg.train.fit(model, x, y, loss="binary_cross_entropy" if one_logit else "cross_entropy",
                 optimizer=mg.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                         lr=lr),
                 epochs=epochs, batch_size=args.batch_size, seed=seed, verbose=0)


def accuracy(model, x, y) -> float:
    out = mg.train.predict(model, x)
    pred = (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
    return float((pred == y).mean())


def train_a(xa, ya, args) -> nn.Sequential:
    mg.manual_seed(args.seed)
    classes = np.unique(ya)
    remap = np.searchsorted(classes, ya)  # 8 classes -> 0..7
    model = nn.Sequential(*hidden_stack(args.widths), nn.Linear(args.widths[-1], len(classes)))
    fit(model, xa, remap, args.lr, args.epochs_a, args, args.seed)
    return model


def run_seed(seed: int, model_a, task_b: tuple, args) -> dict:
    xb, yb, xbt, ybt = task_b
    pick = np.random.default_rng(seed).permutation(len(xb))[:args.b_samples]
    xs, ys = xb[pick], yb[pick]
    mg.manual_seed(seed)
    scratch = nn.Sequential(*hidden_stack(args.widths), nn.Linear(args.widths[-1], 1))
    fit(scratch, xs, ys, args.lr, args.epochs_b, args, seed)
    reused = nn.clone(model_a)  # A itself stays untouched for the next seed
    mg.manual_seed(seed)
    on_a = nn.Sequential(*list(reused)[:-1], nn.Linear(args.widths[-1], 1))
    for layer in list(on_a)[:-1]:
        layer.freeze()
    fit(on_a, xs, ys, args.lr, args.frozen_epochs, args, seed)
    on_a.unfreeze()
    fit(on_a, xs, ys, args.lr / 10, args.epochs_b, args, seed)
    return {"seed": seed, "B": accuracy(scratch, xbt, ybt), "B_on_A": accuracy(on_a, xbt, ybt)}


def plot(runs: list[dict], out: Path) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.boxplot([[r["B"] for r in runs], [r["B_on_A"] for r in runs]])
    ax.set_xticks([1, 2], ["B (from scratch)", "B on A (transfer)"])
    ax.set_ylabel("test accuracy, T-shirt vs pullover")
    ax.set_title(f"{len(runs)} seeds")
    fig.tight_layout()
    fig.savefig(out / "transfer.png", dpi=110)
    plt.close(fig)
    return "transfer.png"


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--widths", type=int, nargs="+", default=[300, 100, 50])
    ap.add_argument("--epochs-a", type=int, default=5)
    ap.add_argument("--epochs-b", type=int, default=20)
    ap.add_argument("--frozen-epochs", type=int, default=4)
    ap.add_argument("--b-samples", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=60000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.widths, args.b_samples, args.seeds = [32, 16], 40, 2
        args.epochs_a, args.epochs_b, args.frozen_epochs = 2, 3, 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xte, yte = load_data(args.quick, args.data, args.train_samples, args.seed)
    in_b, in_bt = np.isin(ytr, B_CLASSES), np.isin(yte, B_CLASSES)
    model_a = train_a(xtr[~in_b], ytr[~in_b], args)
    acc_a = accuracy(model_a, xte[~in_bt], np.searchsorted(np.unique(ytr[~in_b]), yte[~in_bt]))
    task_b = (xtr[in_b], (ytr[in_b] == B_CLASSES[1]).astype(np.int64),
              xte[in_bt], (yte[in_bt] == B_CLASSES[1]).astype(np.int64))
    runs = []
    for s in range(args.seed, args.seed + args.seeds):
        runs.append(run_seed(s, model_a, task_b, args))
        print(f"seed {s}: B {runs[-1]['B']:.4f}, B on A {runs[-1]['B_on_A']:.4f}", flush=True)
    b, ba = np.array([r["B"] for r in runs]), np.array([r["B_on_A"] for r in runs])
    rows = "\n".join(f"| {r['seed']} | {r['B']:.4f} | {r['B_on_A']:.4f} |" for r in runs)
    lines = [f"Data: {data_line(args.quick, args.train_samples)}. Model A: hidden widths "
             f"{args.widths} (ReLU, He) + 8-way softmax, {args.epochs_a} epochs on the 8 "
             f"other classes (test accuracy {acc_a:.4f}). Task B: T-shirt/top vs "
             f"pullover from {args.b_samples} training images, tested on "
             f"{len(task_b[3])} test images. B: same architecture from scratch, "
             f"{args.epochs_b} epochs. B on A: A's hidden layers + a new output, "
             f"{args.frozen_epochs} epochs frozen, then {args.epochs_b} epochs unfrozen at "
             f"lr/10. Adam lr {args.lr}, batch {args.batch_size}. Produced by "
             f"`python examples/exp_transfer.py{' --quick' if args.quick else ''}`.", "",
             "| seed | B (scratch) | B on A (transfer) |", "|---|---|---|", rows,
             f"| mean +- std | {b.mean():.4f} +- {b.std():.4f} | "
             f"{ba.mean():.4f} +- {ba.std():.4f} |", "",
             f"Error rate: B {1 - b.mean():.2%}, B on A {1 - ba.mean():.2%}.", "",
             f"![B vs B on A]({plot(runs, out)})"]
    path = write_page(out, "transfer", args.quick, "Experiment 5: transfer learning", lines,
                      {"model_a_accuracy": acc_a, "runs": runs})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
