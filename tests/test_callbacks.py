"""Callbacks: the protocol, and each callback driven by fit and by hand-made logs."""
import csv
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.train import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                            ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN, Trainer, fit)


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.normal(size=(3, 5))[y] * 3 + rng.normal(size=(n, 5))).astype(np.float32)
    return x, y.astype(np.int64)


def model_and_opt(lr=1e-2):
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, mg.optim.Adam(model.parameters(), lr=lr)


def drive(cb, values, key="val_loss", model=None, optimizer=None):
    """Feed a callback one epoch-end log per value, as fit would; returns the trainer."""
    if model is None:
        model, optimizer = model_and_opt()
    trainer = Trainer(model, optimizer)
    cb.set_trainer(trainer)
    cb.on_train_begin({})
    for epoch, v in enumerate(values):
        cb.on_epoch_begin(epoch, {})
        cb.on_epoch_end(epoch, {key: v})
        if trainer.stop_training:
            break
    cb.on_train_end({})
    return trainer


class Recording(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))
        self.seen = (self.model, self.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_protocol_order_and_attributes():
    x, y = data(n=20)
    model, opt = model_and_opt()
    rec = Recording()
    fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=8,
        validation_split=0.2, callbacks=[rec], verbose=0)
    assert rec.seen == (model, opt)
    names = [e[0] for e in rec.events]
    assert names == (["train_begin"] + (["epoch_begin"] + ["batch_end"] * 2 + ["epoch_end"]) * 2
                     + ["train_end"])
    assert rec.events[2] == ("batch_end", 0, ["loss", "size"])
    assert rec.events[4][2] == ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]


def test_early_stopping_counts_epochs_without_improvement():
    cb = EarlyStopping(patience=2)
    trainer = drive(cb, [1.0, 0.9, 0.95, 0.93, 0.8])
    assert trainer.stop_training and cb.stopped_epoch == 3 and cb.best_epoch == 1
    cb = EarlyStopping(patience=0)
    drive(cb, [1.0, 1.0])
    assert cb.stopped_epoch == 1  # equal is not an improvement


def test_early_stopping_min_delta_and_mode():
    cb = EarlyStopping(patience=1, min_delta=0.1)
    drive(cb, [1.0, 0.95, 0.5])  # 0.05 better is not better by more than 0.1
    assert cb.stopped_epoch == 1
    cb = EarlyStopping(monitor="val_accuracy", patience=1)  # auto: maximize
    drive(cb, [0.5, 0.6, 0.55], key="val_accuracy")
    assert cb.stopped_epoch == 2 and cb.best == 0.6


def test_early_stopping_stops_fit_and_restores_best_weights():
    x, y = data()
    model, opt = model_and_opt()

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.first = model.state_dict()

    snap = Snapshot()
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=1e9, restore_best_weights=True)
    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=10, callbacks=[snap, stop],
            verbose=0)
    assert h.epoch == [0, 1]  # epoch 1 cannot improve by 1e9
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snap.first[k])


def test_reduce_lr_on_plateau_lowers_lr_in_fit():
    x, y = data()
    model, opt = model_and_opt(lr=0.01)
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=4, callbacks=[cb],
            verbose=0)
    # lr is logged at each epoch's end, before the callback lowers it
    assert h.history["lr"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    assert opt.lr == pytest.approx(0.00125)


def test_reduce_lr_on_plateau_min_lr_and_cooldown():
    model, opt = model_and_opt(lr=0.1)
    drive(ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005), [1, 1, 1, 1],
          model=model, optimizer=opt)
    assert opt.lr == pytest.approx(0.005)
    model, opt = model_and_opt(lr=1.0)
    drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), [1, 1, 1, 1, 1],
          model=model, optimizer=opt)
    assert opt.lr == pytest.approx(0.25)  # reduced at epochs 1 and 3 (Keras counts the
    # cooldown down from the next epoch on, so 2 and 4 only cool down)


def test_learning_rate_scheduler_sets_lr_each_epoch():
    x, y = data()
    model, opt = model_and_opt()
    cb = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=3, callbacks=[cb],
            verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    with pytest.raises(ValueError, match="must return a finite number"):
        drive(LearningRateScheduler(lambda e, lr: float("nan")), [1.0])


def test_model_checkpoint_writes_reloadable_files(tmp_path):
    x, y = data()
    model, opt = model_and_opt()
    cb = ModelCheckpoint(tmp_path / "ck" / "m-{epoch}.ckpt", monitor="loss")
    fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=3, callbacks=[cb], verbose=0)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "m-1.ckpt", "m-2.ckpt", "m-3.ckpt"]
    twin, _ = model_and_opt()
    twin.load_state_dict(mg.load(cb.last_saved))
    np.testing.assert_array_equal(mg.train.predict(twin, x), mg.train.predict(model, x))


def test_model_checkpoint_save_best_only(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}-{val_loss:.1f}.ckpt"), save_best_only=True)
    drive(cb, [1.0, 2.0, 0.5])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-1.0.ckpt", "e3-0.5.ckpt"]


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    x, y = data()
    model, opt = model_and_opt()
    path = tmp_path / "log.csv"
    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=3,
            callbacks=[CSVLogger(path)], verbose=0)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "lr"}
    assert [float(r["loss"]) for r in rows] == pytest.approx(h.history["loss"])


def test_terminate_on_nan_stops_at_the_batch(capsys):
    x, y = data(n=40)
    model, opt = model_and_opt()
    calls = []

    def exploding(z, t):
        if mg.is_grad_enabled():  # count training steps only (not the probe)
            calls.append(1)
        loss = F.cross_entropy(z, t)
        return loss * float("nan") if len(calls) == 7 else loss

    cb = TerminateOnNaN()
    h = fit(model, x, y, loss=exploding, optimizer=opt, epochs=3, batch_size=10,
            callbacks=[cb], verbose=0)
    assert len(calls) == 7 and len(h.epoch) == 2  # 4 batches, then batch 3 of epoch 2
    assert "epoch 2, batch 3" in cb.message and cb.message in capsys.readouterr().out
    assert math.isnan(h.history["loss"][-1])


def test_missing_monitor_warns():
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs"):
        drive(EarlyStopping(), [1.0], key="loss")


@pytest.mark.parametrize("make, match", [
    (lambda: EarlyStopping(patience=-1), "patience must be an int >= 0, got -1"),
    (lambda: EarlyStopping(mode="up"), "mode must be 'auto', 'min' or 'max', got 'up'"),
    (lambda: ReduceLROnPlateau(factor=1.5), "factor must be in \\(0, 1\\), got 1.5"),
    (lambda: ReduceLROnPlateau(min_lr=-1), "min_lr must be >= 0"),
    (lambda: LearningRateScheduler(0.1), "schedule must be callable"),
], ids=["patience", "mode", "factor", "min_lr", "schedule"])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_duck_typed_callback_with_only_some_hooks():
    x, y = data(n=16)
    model, opt = model_and_opt()

    class EpochsOnly:  # no base class, no set_trainer, only one hook
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(epoch)
            logs["extra"] = 1.0
            if epoch == 1:
                self.trainer.stop_training = True

    cb = EpochsOnly()
    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=5, callbacks=[cb],
            verbose=0)
    assert cb.epochs == [0, 1] and h.history["extra"] == [1.0, 1.0]


def test_learning_rate_scheduler_accepts_keras_one_argument_form():
    x, y = data()
    model, opt = model_and_opt()

    def step_decay(epoch):  # the lectures' Keras function, one argument
        return 0.2 * 0.5 ** (epoch // 2)

    h = fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=4,
            callbacks=[LearningRateScheduler(step_decay)], verbose=0)
    assert h.history["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.1])


def test_learning_rate_scheduler_two_argument_form_sees_current_lr():
    seen = []

    def halve(epoch, lr):
        seen.append(lr)
        return lr / 2

    model, opt = model_and_opt(lr=1.0)
    drive(LearningRateScheduler(halve), [1, 1, 1], model=model, optimizer=opt)
    assert seen == pytest.approx([1.0, 0.5, 0.25]) and opt.lr == pytest.approx(0.125)


def test_learning_rate_scheduler_refuses_a_function_of_no_or_three_arguments():
    with pytest.raises(ValueError, match=r"must take \(epoch\) or \(epoch, lr\)"):
        LearningRateScheduler(lambda: 0.1)
    with pytest.raises(ValueError, match=r"must take \(epoch\) or \(epoch, lr\)"):
        LearningRateScheduler(lambda a, b, c: 0.1)


def test_learning_rate_scheduler_keeps_a_type_error_from_the_function():
    def broken(epoch):
        raise TypeError("inside the schedule")

    with pytest.raises(TypeError, match="inside the schedule"):
        drive(LearningRateScheduler(broken), [1.0])
