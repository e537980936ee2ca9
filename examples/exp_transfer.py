"""Experiment 5: transfer learning, as in the lectures (Hands-on ML, chapter 11).

The lectures' claim: reusing the hidden layers of a model A trained on a related task
helps a model B that has little data. Model A learns the 8 Fashion-MNIST classes
other than T-shirt/top (0) and pullover (2). Task B separates T-shirts from
pullovers with only 200 training images. Model B is trained from scratch on them;
model B-on-A reuses A's hidden layers with a new output layer, first frozen (only the
new layer trains), then unfrozen with a lower learning rate. Two recipes run: the
lectures' (SGD lr 1e-3, 5 hidden layers of 100, A trained 20 epochs, 4 frozen epochs
then 16 at lr 1e-4) and ours (Adam lr 1e-3, hidden 300-100-50, A trained 5 epochs, 4
frozen epochs then 20 at lr 1e-4). B's epoch is chosen on 200 validation images;
test accuracy of B and B-on-A over several seeds.
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
from exp_common import (NOISE_RULE, VERDICT, base_parser, best_epoch, compare,  # noqa: E402
                        load_data, mean_spread, pyplot, write_page)
from minigrad import nn  # noqa: E402

B_CLASSES = (0, 2)  # T-shirt/top, pullover


RECIPES = {  # name -> hidden widths, optimizer, A's epochs, frozen epochs, B's epochs
    "lectures": {"widths": [100] * 5, "optimizer": "sgd", "epochs_a": 20, "frozen": 4,
                 "epochs_b": 16, "scratch_epochs": 20},
    "ours": {"widths": [300, 100, 50], "optimizer": "adam", "epochs_a": 5, "frozen": 4,
             "epochs_b": 20, "scratch_epochs": 20},
}


def hidden_stack(widths: list[int]) -> list:
    layers, fan_in = [], 784
    for w in widths:
        layers += [nn.Linear(fan_in, w, weight_init="he_normal"), nn.ReLU()]
        fan_in = w
    return layers


def fit(model, x, y, lr: float, epochs: int, recipe: dict, args, seed: int,
        validation=None) -> None:
    """Train the parameters that require grad; with ``validation`` (x, y) keep the epoch
    with the lowest validation loss."""
    one_logit = model[-1].out_features == 1  # task B: one logit, binary cross-entropy
    params = [p for p in model.parameters() if p.requires_grad]
    opt = mg.optim.SGD(params, lr=lr) if recipe["optimizer"] == "sgd" else \
        mg.optim.Adam(params, lr=lr)
    mg.train.fit(model, x, y, loss="binary_cross_entropy" if one_logit else "cross_entropy",
                 optimizer=opt, epochs=epochs, batch_size=args.batch_size, seed=seed,
                 validation_data=validation, verbose=0,
                 callbacks=[best_epoch(epochs, "val_loss")] if validation else ())


def accuracy(model, x, y) -> float:
    out = mg.train.predict(model, x)
    pred = (out[:, 0] > 0).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
    return float((pred == y).mean())


def train_a(xa, ya, recipe: dict, args) -> nn.Sequential:
    mg.manual_seed(0)
    classes = np.unique(ya)
    remap = np.searchsorted(classes, ya)  # 8 classes -> 0..7
    model = nn.Sequential(*hidden_stack(recipe["widths"]),
                          nn.Linear(recipe["widths"][-1], len(classes)))
    fit(model, xa, remap, args.lr, recipe["epochs_a"], recipe, args, 0)
    return model


def run_seed(seed: int, model_a, task_b: tuple, recipe: dict, args) -> dict:
    xb, yb, xbt, ybt = task_b
    pick = np.random.default_rng(seed).permutation(len(xb))[:2 * args.b_samples]
    xs, ys = xb[pick[:args.b_samples]], yb[pick[:args.b_samples]]
    val = (xb[pick[args.b_samples:]], yb[pick[args.b_samples:]])
    width = recipe["widths"][-1]
    mg.manual_seed(seed)
    scratch = nn.Sequential(*hidden_stack(recipe["widths"]), nn.Linear(width, 1))
    fit(scratch, xs, ys, args.lr, recipe["scratch_epochs"], recipe, args, seed, val)
    reused = nn.clone(model_a)  # A itself stays untouched for the next seed
    mg.manual_seed(seed)
    on_a = nn.Sequential(*list(reused)[:-1], nn.Linear(width, 1))
    for layer in list(on_a)[:-1]:
        layer.freeze()
    fit(on_a, xs, ys, args.lr, recipe["frozen"], recipe, args, seed)
    on_a.unfreeze()
    fit(on_a, xs, ys, args.lr / 10, recipe["epochs_b"], recipe, args, seed, val)
    return {"seed": seed, "B": accuracy(scratch, xbt, ybt), "B_on_A": accuracy(on_a, xbt, ybt)}


def plot(results: dict, out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        runs = res["runs"]
        ax.boxplot([[r["B"] for r in runs], [r["B_on_A"] for r in runs]])
        ax.set_xticks([1, 2], ["B (from scratch)", "B on A (transfer)"])
        ax.set_ylabel("test accuracy, T-shirt vs pullover")
        ax.set_title(f"{name} recipe, {len(runs)} seeds")
    fig.tight_layout()
    fig.savefig(out / "transfer.png", dpi=110)
    plt.close(fig)
    return "transfer.png"


def run_recipe(name: str, data: tuple, args) -> dict:
    recipe = args.recipe_table[name]
    xtr, ytr, xte, yte = data
    in_b, in_bt = np.isin(ytr, B_CLASSES), np.isin(yte, B_CLASSES)
    a_pick = np.flatnonzero(~in_b)[:args.a_samples]
    model_a = train_a(xtr[a_pick], ytr[a_pick], recipe, args)
    acc_a = accuracy(model_a, xte[~in_bt], np.searchsorted(np.unique(ytr[~in_b]), yte[~in_bt]))
    task_b = (xtr[in_b], (ytr[in_b] == B_CLASSES[1]).astype(np.int64),
              xte[in_bt], (yte[in_bt] == B_CLASSES[1]).astype(np.int64))
    runs = []
    for s in args.seeds:
        runs.append(run_seed(s, model_a, task_b, recipe, args))
        print(f"{name}: seed {s}: B {runs[-1]['B']:.4f}, B on A {runs[-1]['B_on_A']:.4f}",
              flush=True)
    return {"model_a_accuracy": acc_a, "a_images": len(a_pick), "b_test": len(task_b[3]),
            "runs": runs}


def section(name: str, res: dict, args) -> list[str]:
    r, runs = args.recipe_table[name], res["runs"]
    b, ba = [x["B"] for x in runs], [x["B_on_A"] for x in runs]
    said, gap = compare(ba, b)
    opt = "SGD" if r["optimizer"] == "sgd" else "Adam"
    return [f"## The {name}' recipe" if name == "lectures" else "## Our recipe", "",
            f"Hidden widths {r['widths']} (ReLU, He), {opt} lr {args.lr}, batch "
            f"{args.batch_size}. Model A: {r['epochs_a']} epochs on {res['a_images']} images "
            f"of the 8 other classes (test accuracy {res['model_a_accuracy']:.4f}). B: "
            f"from scratch, {r['scratch_epochs']} epochs. B on A: A's hidden layers + a new "
            f"output, {r['frozen']} epochs frozen, then {r['epochs_b']} epochs unfrozen at "
            f"lr/10.", "",
            "| seed | B (scratch) | B on A (transfer) |", "|---|---|---|",
            *(f"| {x['seed']} | {x['B']:.4f} | {x['B_on_A']:.4f} |" for x in runs),
            f"| mean ± std | {mean_spread(b, '.4f')} | {mean_spread(ba, '.4f')} |", "",
            f"Error rate: B {1 - np.mean(b):.2%}, B on A {1 - np.mean(ba):.2%}. Transfer vs "
            f"scratch: {said} (gap {gap:+.4f}). **Claim {VERDICT[said].lower()}** with this "
            f"recipe" + ("" if said == "better" else f" ({NOISE_RULE})") + ".", ""]


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--recipes", nargs="+", choices=sorted(RECIPES),
                    default=["lectures", "ours"])
    ap.add_argument("--b-samples", type=int, default=200)
    ap.add_argument("--a-samples", type=int, default=20000,
                    help="images of the 8 A classes model A trains on")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.set_defaults(seeds=[0, 1, 2, 3, 4])
    args = ap.parse_args(argv)
    if args.quick:
        args.b_samples, args.seeds = 40, args.seeds[:2]
    args.recipe_table = {name: dict(r, widths=[32, 16], epochs_a=2, epochs_b=3, frozen=1,
                                    scratch_epochs=3) if args.quick else r
                         for name, r in RECIPES.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.quick, args.data, 60000, 0)
    results = {name: run_recipe(name, data, args) for name in args.recipes}
    lines = [("Data: synthetic quick-mode data (NOT Fashion-MNIST: the numbers say "
              "nothing)" if args.quick else
              f"Data: Fashion-MNIST. Model A trains on {args.a_samples} images of the 8 "
              "classes other than T-shirt/top and pullover (fewer than the 48,000 there "
              "are, to run in minutes on a busy 2-core machine). Task B: T-shirt/top vs "
              f"pullover from {args.b_samples} training images, with {args.b_samples} more "
              "as the validation split that picks B's epoch (lowest validation loss), "
              "tested once on the 2,000 test images of those classes")
             + f". {len(args.seeds)} seeds for B ({', '.join(map(str, args.seeds))}); a ± b "
             "is the mean and sample standard deviation. Produced by "
             f"`python examples/exp_transfer.py{' --quick' if args.quick else ''}`.", "",
             "**The lectures' claim:** reusing the lower layers of a model trained on a "
             "related task (A) helps a model (B) that has little data of its own.", ""]
    for name, res in results.items():
        lines += section(name, res, args)
    lines += [f"![B vs B on A]({plot(results, out)})"]
    path = write_page(out, "transfer", args.quick, "Experiment 5: transfer learning", lines,
                      results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
