"""Data-pipeline costs: loading Fashion-MNIST from its gzip files, and one DataLoader
epoch (60k samples, batch 128, shuffle, one augmentation) next to one training epoch of
the 784-300-100-10 MLP measured in the same run.

    MINIGRAD_DATA=../shared/data python -m benchmarks.data [--repeat 3] [--augment-only]

--augment-only is the short case: the lectures' augmentation pipeline (RandomAffine,
RandomZoom, ColorJitter, RandomErasing; target: under 15% of the MLP epoch) and each of
its transforms, against one MLP epoch. On a shared machine run it with
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1: under contention, multi-threaded BLAS spins
inflate the training epoch's wall and CPU time (4-20x was seen), which makes every
ratio look several times smaller than it is.

Wall and CPU seconds are both printed: on shared cores the wall time stretches with the
other processes' load (and multi-threaded BLAS spins), the CPU time much less.

Without the real data (no $MINIGRAD_DATA) random uint8 images of the same shape are
used for the loader and training figures and the load time is skipped.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import minigrad as mg
from minigrad.data import (ColorJitter, Compose, DataLoader, GaussianNoise, RandomAffine,
                           RandomErasing, RandomHorizontalFlip, RandomRotation, RandomShift,
                           RandomZoom, TensorDataset, load_fashion_mnist)
from minigrad.data.mnist import DatasetNotFoundError

from .common import machine


def _median(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds (all threads) of `repeat` calls. The CPU time shows
    the cost itself when other processes share the cores and stretch the wall time."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def _epoch(loader) -> None:
    for _ in loader:
        pass


def _mlp_epoch(loader, model, opt, F) -> None:
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _numpy_mlp_epoch(loader, ws) -> None:
    """The same MLP step written directly in numpy: a floor for any framework's epoch."""
    for xb, yb in loader:
        xb, yb = xb.numpy(), yb.numpy()  # the DataLoader yields Tensors over its arrays
        a0 = xb.reshape(len(xb), -1)
        z1 = a0 @ ws[0].T
        a1 = np.maximum(z1, 0)
        z2 = a1 @ ws[1].T
        a2 = np.maximum(z2, 0)
        z3 = a2 @ ws[2].T
        p = np.exp(z3 - z3.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1
        d3 = p / len(yb)
        d2 = (d3 @ ws[2]) * (z2 > 0)
        d1 = (d2 @ ws[1]) * (z1 > 0)
        for w, d, a in ((ws[2], d3, a2), (ws[1], d2, a1), (ws[0], d1, a0)):
            w -= 0.01 * (d.T @ a)


def _augment_loaders(ds) -> dict[str, DataLoader]:
    """The lectures' augmentations, one loader each, and all of them chained."""
    steps = {
        "RandomAffine(10, translate 0.1, scale 0.9-1.1, shear 5) nearest": RandomAffine(
            10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, seed=0),
        "RandomZoom(0.1) bilinear": RandomZoom(0.1, seed=0),
        "ColorJitter(0.2, 0.2)": ColorJitter(0.2, 0.2, seed=0),
        "RandomErasing(0.5)": RandomErasing(0.5, seed=0),
    }
    loaders = {name: DataLoader(ds, batch_size=128, shuffle=True, seed=0, transform=t)
               for name, t in steps.items()}
    loaders[AUGMENTED] = DataLoader(ds, batch_size=128, shuffle=True, seed=0,
                                    transform=Compose(list(steps.values())))
    # the zoom as RandomAffine's scale: one resampling per image instead of two
    one_warp = [t for name, t in steps.items() if not name.startswith("RandomZoom")]
    loaders[ONE_WARP] = DataLoader(ds, batch_size=128, shuffle=True, seed=0,
                                   transform=Compose(one_warp))
    return loaders


AUGMENTED = "shuffle + all four chained"
ONE_WARP = "shuffle + RandomAffine (zoom as its scale) + ColorJitter + RandomErasing"


def _load(repeat: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        load = lambda: load_fashion_mnist(download=False)   # noqa: E731
        loaded = []
        first_wall, first_cpu = _median(lambda: loaded.append(load()), 1)
        (x, y), _ = loaded[0]
        wall, cpu = _median(load, repeat)
        print(f"load_fashion_mnist (4 gzip files, decode, checks): first call in the process "
              f"{first_wall:.3f} s wall / {first_cpu:.3f} s CPU; median of {repeat} more "
              f"{wall:.3f} s wall / {cpu:.3f} s CPU (target < 1.5 s; no .npy cache)")
    except DatasetNotFoundError:
        print("load_fashion_mnist: skipped (set MINIGRAD_DATA to the shared data folder)")
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000)
    return x, y


def _loaders(x: np.ndarray, y: np.ndarray, ds) -> dict[str, DataLoader]:
    return {
        "float32, shuffle + RandomHorizontalFlip": DataLoader(
            ds, batch_size=128, shuffle=True, seed=0, transform=RandomHorizontalFlip(seed=0)),
        "float32, shuffle + RandomShift(2)": DataLoader(
            ds, batch_size=128, shuffle=True, seed=0, transform=RandomShift(2, seed=0)),
        "float32, shuffle + RandomRotation(15) nearest": DataLoader(
            ds, batch_size=128, shuffle=True, seed=0, transform=RandomRotation(15, seed=0)),
        "float32, shuffle + GaussianNoise(0.1)": DataLoader(
            ds, batch_size=128, shuffle=True, seed=0, transform=GaussianNoise(0.1, seed=0)),
        # Keeping the images uint8 moves 4x fewer bytes; the batch becomes float at the end.
        "uint8 storage, shuffle + RandomShift(2) + to float32/255": DataLoader(
            TensorDataset(x.reshape(-1, 1, 28, 28), y), batch_size=128, shuffle=True, seed=0,
            transform=Compose([RandomShift(2, seed=0), lambda b: b.astype(np.float32) / 255])),
    }


def _train_epochs(plain) -> tuple[tuple[float, float], tuple[float, float]]:
    F = mg.nn.functional
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Flatten(), mg.nn.Linear(784, 300), mg.nn.ReLU(),
                             mg.nn.Linear(300, 100), mg.nn.ReLU(), mg.nn.Linear(100, 10))
    opt = mg.optim.SGD(model.parameters(), lr=0.01)
    train = _median(lambda: _mlp_epoch(plain, model, opt, F), 1)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.05
          for s in ((300, 784), (100, 300), (10, 100))]
    numpy = _median(lambda: _numpy_mlp_epoch(plain, ws), 1)
    print(f"MLP 784-300-100-10 training epoch (SGD, batch 128, loader included): minigrad "
          f"{train[0]:.3f} s wall / {train[1]:.3f} s CPU, plain numpy {numpy[0]:.3f} s wall / "
          f"{numpy[1]:.3f} s CPU")
    return train, numpy


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--augment-only", action="store_true",
                    help="only the augmentation pipeline against the MLP epoch")
    args = ap.parse_args(argv)
    print(f"# data pipeline, {machine()}, backend {mg.backend.get_backend()}")
    x, y = _load(args.repeat)
    xf = (x.reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    ds = TensorDataset(xf, y)
    plain = DataLoader(ds, batch_size=128, shuffle=True, seed=0)
    loaders = {"float32, shuffle only": plain, **_augment_loaders(ds)}
    if not args.augment_only:
        loaders.update(_loaders(x, y, ds))
    loader_times = {}
    for name, loader in loaders.items():
        loader_times[name] = wall, cpu = _median(lambda: _epoch(loader), args.repeat)
        print(f"DataLoader epoch, 60k x (1, 28, 28), batch 128, {name}: "
              f"{wall:.3f} s wall / {cpu:.3f} s CPU")
    (train_s, train_cpu), (numpy_s, numpy_cpu) = _train_epochs(plain)
    for name, target in ((AUGMENTED, "15%"), (ONE_WARP, "15%"), ("float32, shuffle + RandomShift(2)", "10%"),
                         ("uint8 storage, shuffle + RandomShift(2) + to float32/255", "10%")):
        if name not in loader_times:
            continue
        wall, cpu = loader_times[name]
        print(f"loader epoch ({name}) / training epoch: minigrad {wall / train_s:.1%} wall, "
              f"{cpu / train_cpu:.1%} CPU; plain numpy {wall / numpy_s:.1%} wall, "
              f"{cpu / numpy_cpu:.1%} CPU (target: under {target} of minigrad's)")


if __name__ == "__main__":
    main()
