"""cross_validate: the folds partition the data (stratified or not, sklearn's sizes),
each fold's metrics equal a hand-written fit/evaluate on the same split, mean/std,
fresh models per fold, errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.train import cross_validate
from minigrad.train.cv import kfold_indices


def _data(n=103, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = (rng.normal(size=(n, 4)) + y[:, None] * 1.5).astype(np.float32)
    return x, y


def _build():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    return model, mg.optim.Adam(model.parameters(), lr=0.02)


@pytest.mark.parametrize("stratify", [False, True])
def test_kfold_indices_partition_with_sklearn_sizes(stratify):
    _, y = _data()
    folds = kfold_indices(y, 5, True, stratify, np.random.default_rng(0))
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(103))
    sizes = sorted(len(f) for f in folds)
    assert max(sizes) - min(sizes) <= (2 if stratify else 1)
    if not stratify:
        assert [len(f) for f in folds] == [21, 21, 21, 20, 20]  # KFold: first n % k larger
    else:
        ones = [int(y[f].sum()) for f in folds]
        assert max(ones) - min(ones) <= 1


def test_cross_validate_matches_a_hand_written_loop():
    x, y = _data()
    mg.manual_seed(1)
    cv = cross_validate(_build, x, y, k=4, seed=3, loss="cross_entropy", epochs=3,
                        batch_size=16, metrics=("accuracy",))
    assert len(cv.folds) == 4 and set(cv.folds[0]) == {"loss", "accuracy"}
    mg.manual_seed(1)
    tests = kfold_indices(y, 4, True, True, np.random.default_rng(3))
    for fold, test in zip(cv.folds, tests):
        train = np.setdiff1d(np.arange(len(x)), test)
        model, opt = _build()
        mg.train.fit(model, x[train], y[train], loss="cross_entropy", optimizer=opt,
                     epochs=3, batch_size=16, verbose=0, seed=3)
        want = mg.train.evaluate(model, x[test], y[test], loss="cross_entropy",
                                 metrics=("accuracy",), batch_size=16)
        assert fold == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(cv["accuracy"], [f["accuracy"] for f in cv.folds])
    assert cv.mean["accuracy"] == pytest.approx(np.mean(cv["accuracy"]))
    assert cv.std["loss"] == pytest.approx(np.std(cv["loss"]))
    assert cv.mean["accuracy"] > 0.7 and len(cv.histories[0].history["loss"]) == 3
    assert "mean" in repr(cv) and len(repr(cv).splitlines()) == 7


def test_cross_validate_builds_a_fresh_model_per_fold():
    x, y = _data()
    built = []

    def build():
        built.append(_build())
        return built[-1]

    cross_validate(build, x, y, k=3, seed=0, loss="cross_entropy", epochs=1)
    assert len(built) == 3 and len({id(m) for m, _ in built}) == 3


@pytest.mark.parametrize("kwargs,message", [
    (dict(k=1, loss="mse"), r"k must be an int in \[2, 103\], got 1"),
    (dict(k=5), "pass loss="),
    (dict(k=5, loss="cross_entropy", validation_data=(0, 0)), "validation_data is not "),
], ids=["k", "loss", "validation_data"])
def test_cross_validate_argument_errors(kwargs, message):
    x, y = _data()
    with pytest.raises(ValueError, match=message):
        cross_validate(_build, x, y, **kwargs)
    with pytest.raises(ValueError, match=r"x and y differ in length"):
        cross_validate(_build, x, y[:5], loss="cross_entropy")
