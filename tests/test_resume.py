"""fit(initial_epoch=) with RunCheckpoint and resume_state: a run stopped after epoch 2
and resumed from its checkpoint ends bit-identical to an uninterrupted run (dropout,
shuffling, Adam and an lr schedule included)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.train.runstate import (RunCheckpoint, history_from_data, restore_rng,
                                     resume_state)


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((96, 10)).astype(np.float32), rng.integers(0, 3, 96)


def _run(folder, epochs, stop_after=None):
    mg.manual_seed(5)
    model = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 3))
    opt = mg.optim.Adam(model.parameters(), lr=mg.optim.schedules.ExponentialDecay(
        0.01, 5, 0.5))
    callbacks = [RunCheckpoint(str(folder), {"note": "test"}, epochs)]
    if stop_after is not None:
        callbacks.append(_StopAfter(stop_after))
    x, y = _data()
    mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                 batch_size=16, callbacks=callbacks, verbose=0, seed=1)
    return model


class _StopAfter(mg.train.Callback):
    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.n:
            self.trainer.stop_training = True


def _resume(folder, epochs):
    model, extra = resume_state(str(folder / "model.ckpt"))
    opt = mg.optim.Adam(model.parameters(), lr=0.5)
    opt.load_state_dict(extra["optimizer"])
    restore_rng(extra["rng"])
    x, y = _data()
    history = history_from_data(extra["history"])
    mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                 batch_size=16, verbose=0, seed=1, initial_epoch=extra["epoch"],
                 callbacks=[RunCheckpoint(str(folder), extra["config"], epochs, history)])
    return model


def test_resume_fit_initial_epoch_is_bit_identical(tmp_path):
    (tmp_path / "once").mkdir()
    once = _run(tmp_path / "once", 4)
    (tmp_path / "split").mkdir()
    _run(tmp_path / "split", 4, stop_after=2)
    assert resume_state(str(tmp_path / "split" / "model.ckpt"))[1]["epoch"] == 2
    resumed = _resume(tmp_path / "split", 4)
    for (k, a), b in zip(once.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    _, a = resume_state(str(tmp_path / "once" / "model.ckpt"))
    _, b = resume_state(str(tmp_path / "split" / "model.ckpt"))
    assert a["history"] == b["history"] and b["epoch"] == 4


@pytest.mark.parametrize("initial", [-1, 5, 1.5])
def test_resume_initial_epoch_is_checked(initial):
    x, y = _data()
    model = nn.Linear(10, 3)
    with pytest.raises(ValueError, match=r"fit: initial_epoch must be an int in \[0, "
                                         r"epochs=4\]"):
        mg.train.fit(model, x, y, loss="cross_entropy", epochs=4, initial_epoch=initial,
                     optimizer=mg.optim.SGD(model.parameters(), lr=0.1), verbose=0)
