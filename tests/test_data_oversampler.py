"""RandomOverSampler on a 95/5 split: imbalanced-learn's epoch composition, seeding,
use in a DataLoader, and the minority recall it buys a small classifier."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import DataLoader, RandomOverSampler

LABELS = np.array([0] * 950 + [1] * 50)


def test_over_sampler_95_5_epoch_composition():
    sampler = RandomOverSampler(LABELS)
    idx = sampler.indices(np.random.default_rng(0))
    assert len(idx) == len(sampler) == 1900 and idx.dtype == np.int64
    picked = LABELS[idx]
    assert np.bincount(picked).tolist() == [950, 950]
    counts = np.bincount(idx, minlength=1000)
    assert (counts[:950] == 1).all()  # the majority class: each sample exactly once
    assert counts[950:].min() >= 1 and counts[950:].sum() == 950  # every minority sample
    assert counts[950:].std() > 0  # drawn with replacement, not in even rounds
    # shuffled: the minority is spread over the epoch, not appended at its end
    assert abs(picked[:950].mean() - 0.5) < 0.1


def test_over_sampler_three_classes_seeded_and_errors():
    labels = np.array([3] * 40 + [1] * 10 + [8] * 1)
    sampler = RandomOverSampler(labels)
    a = sampler.indices(np.random.default_rng(5))
    np.testing.assert_array_equal(a, sampler.indices(np.random.default_rng(5)))
    assert np.bincount(labels[a], minlength=9)[[1, 3, 8]].tolist() == [40, 40, 40]
    mg.manual_seed(1)
    first = list(sampler)
    mg.manual_seed(1)
    assert list(sampler) == first
    with pytest.raises(ValueError, match=r"RandomOverSampler: labels must be a non-empty "
                                         r"1-D int array, got float64 \(2,\)"):
        RandomOverSampler(np.array([0.0, 1.0]))


def _train(x, y, sampler):
    mg.manual_seed(0)
    model = nn.Linear(2, 2)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader((x, y), batch_size=32, sampler=sampler,
                        shuffle=sampler is None, seed=0)
    for _ in range(5):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return mg.train.predict(model, x).argmax(axis=1)


def test_over_sampler_raises_minority_recall_on_a_95_5_split():
    rng = np.random.default_rng(0)
    y = LABELS
    x = (rng.normal(size=(1000, 2)) + np.where(y[:, None] == 1, 1.2, 0.0)).astype(np.float32)
    plain, over = _train(x, y, None), _train(x, y, RandomOverSampler(y))
    recall = lambda pred: (pred[y == 1] == 1).mean()  # noqa: E731
    assert recall(plain) < 0.3 and recall(over) > 0.6
    assert (over[y == 0] == 0).mean() > 0.6  # the majority is still mostly right
