"""Datasets, DataLoader, samplers, splitting helpers and Standardizer."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.data import (BalancedSampler, DataLoader, Dataset, RandomSampler,
                           SequentialSampler, Standardizer, TensorDataset, train_test_split,
                           validation_split)


def _data(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return x, y


def _epoch(loader):
    return [tuple(np.array(a) for a in b) for b in loader]


# ---- TensorDataset ------------------------------------------------------------------------

def test_tensor_dataset_items_and_length():
    x, y = _data()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3


def test_tensor_dataset_accepts_tensors():
    x, y = _data()
    ds = TensorDataset(mg.tensor(x), y)
    assert ds.arrays[0].dtype == np.float32 and isinstance(ds.arrays[0], np.ndarray)


def test_tensor_dataset_length_mismatch():
    with pytest.raises(ValueError, match=r"TensorDataset: all arrays must have the same first "
                                         r"dimension \(number of samples\), got shapes "
                                         r"\(10, 2\), \(9,\)"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()


# ---- DataLoader ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,bs,drop_last,sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (10, 5, False, [5, 5]),
    (10, 5, True, [5, 5]), (10, 20, False, [10]), (10, 20, True, []), (1, 1, False, [1]),
], ids=lambda v: str(v))
def test_loader_batch_sizes_and_len(n, bs, drop_last, sizes):
    x, y = _data(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    batches = _epoch(loader)
    assert [len(b[0]) for b in batches] == sizes
    assert len(loader) == len(sizes)


def test_loader_sequential_order_and_types():
    x, y = _data(7)
    batches = _epoch(DataLoader((x, y), batch_size=3))
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert all(isinstance(a, np.ndarray) for b in batches for a in b)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)


def test_loader_batches_are_copies():
    x, y = _data(4)
    for xb, _ in DataLoader((x, y), batch_size=2):
        xb[:] = -1
    assert x.min() >= 0


@pytest.mark.parametrize("seed", [None, 5])
def test_loader_shuffle_covers_every_sample_once(seed):
    x, y = _data(103)
    loader = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True, seed=seed)
    for _ in range(3):
        batches = list(loader)
        ys = np.concatenate([b[1] for b in batches])
        assert sorted(ys.tolist()) == list(range(103))
        assert ys.tolist() != list(range(103))
        assert [len(b[1]) for b in batches] == [10] * 10 + [3]


def test_loader_pairs_stay_aligned_under_shuffle():
    x, y = _data(50)
    for xb, yb in DataLoader((x, y), batch_size=8, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)


def test_loader_seed_repeats_and_reshuffles_each_epoch():
    x, y = _data(64)
    a = DataLoader((x, y), batch_size=16, shuffle=True, seed=7)
    b = DataLoader((x, y), batch_size=16, shuffle=True, seed=7)
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[1], epochs_a[2])
    # The order of epoch e depends on (seed, e) only: set_epoch replays it.
    a.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in a]), epochs_a[1])
    other = DataLoader((x, y), batch_size=16, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate([yb for _, yb in other]), epochs_a[0])


def test_loader_unseeded_follows_manual_seed():
    x, y = _data(32)
    loader = DataLoader((x, y), batch_size=32, shuffle=True)
    mg.manual_seed(3)
    first = next(iter(loader))[1]
    mg.manual_seed(3)
    np.testing.assert_array_equal(next(iter(loader))[1], first)


class Squares(Dataset):
    """A generic (non-array) dataset: read item by item."""

    def __len__(self):
        return 9

    def __getitem__(self, i):
        return np.full((1, 2, 2), i, np.float32), i * i


def test_loader_generic_dataset_collates():
    batches = _epoch(DataLoader(Squares(), batch_size=4, shuffle=True, seed=0))
    assert [b[0].shape for b in batches] == [(4, 1, 2, 2), (4, 1, 2, 2), (1, 1, 2, 2)]
    idx = np.concatenate([b[0][:, 0, 0, 0] for b in batches]).astype(int)
    assert sorted(idx.tolist()) == list(range(9))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), idx ** 2)


def test_loader_transform_applied_to_x_only_and_switched_off_in_eval():
    x, y = _data(6)
    loader = DataLoader((x, y), batch_size=3, transform=lambda xb: xb * 10)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb, x[:3] * 10)
    np.testing.assert_array_equal(yb, y[:3])
    loader.eval()
    np.testing.assert_array_equal(next(iter(loader))[0], x[:3])
    loader.train()
    np.testing.assert_array_equal(next(iter(loader))[0], x[:3] * 10)


def test_loader_sampler_replaces_shuffle():
    labels = np.array([0] * 18 + [1] * 2)
    x = np.arange(20, dtype=np.float32)[:, None]
    loader = DataLoader((x, labels), batch_size=4, shuffle=False,
                        sampler=BalancedSampler(labels), seed=0)
    ys = np.concatenate([yb for _, yb in loader])
    assert len(ys) == 20 and len(loader) == 5
    assert abs(ys.mean() - 0.5) <= 0.05


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(batch_size=0), ValueError, r"DataLoader: batch_size must be an int >= 1, got 0"),
    (dict(batch_size=2.5), ValueError, r"batch_size must be an int >= 1, got 2.5"),
    (dict(seed=-1), ValueError, r"DataLoader: seed must be a non-negative int, got -1"),
    (dict(sampler=[0, 1]), TypeError, r"DataLoader: sampler must be a Sampler, got list"),
    (dict(transform=3), TypeError, r"DataLoader: transform must be callable, got int"),
], ids=["bs0", "bs-float", "seed", "sampler", "transform"])
def test_loader_argument_errors(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        DataLoader(_data(), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="DataLoader: dataset must be a Dataset or a tuple "
                                        "of arrays, got ndarray"):
        DataLoader(np.zeros((3, 2)))


# ---- samplers -----------------------------------------------------------------------------

def test_sequential_and_random_sampler():
    assert list(SequentialSampler(4)) == [0, 1, 2, 3]
    rs = RandomSampler(50)
    draws = [list(rs) for _ in range(2)]
    assert all(sorted(d) == list(range(50)) for d in draws)
    assert draws[0] != draws[1]
    with pytest.raises(ValueError, match=r"RandomSampler: the number of samples must be an "
                                         r"int >= 0, got -1"):
        RandomSampler(-1)


def test_balanced_sampler_on_90_10_labels():
    labels = np.array([0] * 900 + [1] * 100)
    sampler = BalancedSampler(labels)
    idx = sampler.indices(np.random.default_rng(0))
    assert len(idx) == len(sampler) == 1000
    picked = labels[idx]
    assert np.bincount(picked).tolist() == [500, 500]
    # Every batch of 32 is balanced to within one sample.
    for start in range(0, 1000 - 32, 32):
        assert abs(picked[start:start + 32].sum() - 16) <= 1
    # The minority class repeats its samples evenly (5 times each), the majority class
    # draws without repetition.
    minority = np.bincount(idx[picked == 1], minlength=1000)[900:]
    assert minority.min() == minority.max() == 5
    majority = idx[picked == 0]
    assert len(np.unique(majority)) == 500


def test_balanced_sampler_three_classes_and_num_samples():
    labels = np.array([5] * 50 + [7] * 30 + [9] * 3)
    sampler = BalancedSampler(labels, num_samples=30)
    picked = labels[sampler.indices(np.random.default_rng(1))]
    assert np.bincount(picked, minlength=10)[[5, 7, 9]].tolist() == [10, 10, 10]
    with pytest.raises(ValueError, match=r"BalancedSampler: labels must be a non-empty 1-D "
                                         r"int array, got float64 \(3,\)"):
        BalancedSampler(np.array([0.0, 1.0, 1.0]))


# ---- splits -------------------------------------------------------------------------------

def test_train_test_split_sizes_and_pairing():
    x, y = _data(100)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, seed=0)
    assert (len(x_tr), len(x_te)) == (75, 25)
    np.testing.assert_array_equal(x_tr[:, 0], 2 * y_tr)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(100))
    again = train_test_split(x, y, test_size=0.25, seed=0)
    np.testing.assert_array_equal(again[3], y_te)
    assert len(train_test_split(x, test_size=10, seed=0)[1]) == 10


def test_train_test_split_stratified_keeps_proportions():
    y = np.array([0] * 90 + [1] * 7 + [2] * 3)
    x = np.arange(100)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, stratify=y, seed=2)
    assert len(y_te) == 30
    assert np.bincount(y_te).tolist() == [27, 2, 1]
    np.testing.assert_array_equal(y[x_te], y_te)
    assert sorted(np.concatenate([x_tr, x_te]).tolist()) == list(range(100))


def test_train_test_split_errors():
    with pytest.raises(ValueError, match=r"train_test_split: arrays must have the same "
                                         r"length, got \(3,\), \(4,\)"):
        train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"test_size must be a float in \(0, 1\) or an int "
                                         r"in \(0, 3\), got 1.5"):
        train_test_split(np.zeros(3), test_size=1.5)


def test_validation_split_holds_out_the_last_fraction_like_keras():
    x, y = _data(10)
    (x_tr, y_tr), (x_val, y_val) = validation_split(x, y, fraction=0.25)
    assert len(x_tr) == int(10 * 0.75) == 7
    np.testing.assert_array_equal(y_val, [7, 8, 9])
    (_, y_tr2), (_, y_val2) = validation_split(x, y, fraction=0.3, shuffle=True, seed=0)
    assert len(y_val2) == 3 and sorted(np.concatenate([y_tr2, y_val2])) == list(range(10))
    with pytest.raises(ValueError, match=r"validation_split: fraction must be a float in "
                                         r"\(0, 1\), got 1"):
        validation_split(x, fraction=1)


# ---- Standardizer -------------------------------------------------------------------------

def test_standardizer_per_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (500, 4)).astype(np.float32)
    x[:, 2] = 7.0   # a constant feature: std floored at 1e-7, output 0
    s = Standardizer(axis=0).fit(x)
    z = s.transform(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0)[[0, 1, 3]], 1, atol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0)
    assert s.std_[0, 2] == 1e-7
    np.testing.assert_allclose(s.inverse_transform(z), x, rtol=1e-5, atol=1e-5)


def test_standardizer_per_channel_uint8_images_and_test_data():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (20, 3, 5, 5), dtype=np.uint8)
    s = Standardizer(axis=(0, 2, 3))
    z = s.fit_transform(x)
    assert s.mean_.shape == (1, 3, 1, 1) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    x_test = rng.integers(0, 256, (7, 3, 5, 5), dtype=np.uint8)   # other N: fine
    expected = (x_test - s.mean_) / s.std_
    np.testing.assert_allclose(s.transform(x_test), expected, rtol=1e-5, atol=1e-5)


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match=r"Standardizer.transform: call fit\(x_train\) "
                                           r"first"):
        Standardizer().transform(np.zeros((2, 2)))
    s = Standardizer(axis=0).fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"Standardizer.transform: x of shape \(4, 5\) does "
                                         r"not match the statistics fitted with shape "
                                         r"\(1, 3\) \(axis=0\)"):
        s.transform(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"axis=3 is out of range for x of shape \(4, 3\)"):
        Standardizer(axis=3).fit(np.zeros((4, 3)))


def test_more_argument_errors():
    with pytest.raises(ValueError, match="TensorDataset: arrays need a first .*0-d array"):
        TensorDataset(np.float32(1.0))
    with pytest.raises(ValueError, match=r"Standardizer.fit: x of shape \(0, 3\) is empty "
                                         r"along axis 0"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"BalancedSampler: the number of samples must be an "
                                         r"int >= 0, got -5"):
        BalancedSampler(np.array([0, 1]), num_samples=-5)
    with pytest.raises(ValueError, match=r"validation_split: fraction=0.9 of 3 samples "
                                         r"leaves an empty part"):
        validation_split(np.zeros(3), fraction=0.9)
    with pytest.raises(ValueError, match=r"train_test_split: stratify must have shape \(4,\), "
                                         r"got \(3,\)"):
        train_test_split(np.zeros(4), stratify=np.zeros(3, int))


def test_data_loader_yields_tensors_without_copy_or_grad():
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    y = np.arange(6)
    xb, yb = next(iter(DataLoader((x, y), batch_size=6)))
    assert isinstance(xb, mg.Tensor) and isinstance(yb, mg.Tensor)
    assert not xb.requires_grad and xb.dtype == np.float32 and yb.dtype == y.dtype
    np.testing.assert_array_equal(xb.numpy(), x)
    images = np.zeros((6, 1, 2, 2), np.uint8)
    ib, _ = next(iter(DataLoader((images, y), batch_size=4)))
    assert ib.dtype == np.uint8  # no silent widening of images
    loader = DataLoader((x, y), batch_size=3)
    gathered = (np.ones((3, 4), np.float32), np.zeros(3, np.int64))
    loader._batch = lambda idx: gathered
    xb, yb = next(iter(loader))
    assert xb.data is gathered[0] and yb.data is gathered[1]  # wrapped, not copied


def test_data_loader_transforms_still_get_numpy():
    x = np.zeros((4, 1, 2, 2), np.float32)
    seen = []
    loader = DataLoader((x, np.arange(4)), batch_size=2,
                        transform=lambda b: seen.append(type(b)) or b + 1)
    batches = [xb for xb, _ in loader]
    assert seen == [np.ndarray, np.ndarray]
    assert all(isinstance(b, mg.Tensor) and float(b.data.min()) == 1.0 for b in batches)


def test_data_loader_tensor_batches_train_with_fit():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = mg.nn.Linear(3, 2)
    loader = DataLoader((x, y), batch_size=8, shuffle=True, seed=0)
    hist = mg.train.fit(model, loader, loss="cross_entropy", epochs=2, verbose=0,
                        optimizer=mg.optim.SGD(model.parameters(), lr=0.1))
    assert len(hist.history["accuracy"]) == 2
    assert mg.train.predict(model, loader).shape == (40, 2)
