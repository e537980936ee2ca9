"""Fault injection: a training run writing its per-epoch checkpoints (RunCheckpoint, as
the CLI does) is killed with SIGKILL at random moments. Every time, the checkpoint on
disk loads, is one of the epochs the run wrote (bit for bit: its weights equal an
uninterrupted run's at that epoch), and the run marker agrees; no half-written file is
ever at a final path (a killed write can only leave its temporary, which the next run
removes)."""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minigrad.train.runstate import resume_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 8
CHILD = r"""
import hashlib, sys
import numpy as np
import minigrad as mg
from minigrad import nn
from minigrad.train.runstate import RunCheckpoint

out, epochs, reference = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "reference"
mg.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 32)).astype(np.float32)
y = rng.integers(0, 4, 256)
# ~0.14 M parameters: each checkpoint (weights + Adam moments) is ~1.7 MB, and writing it
# (with its fsyncs) takes a good share of an epoch, so some kills land mid-write
model = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 512),
                      nn.ReLU(), nn.Linear(512, 4))
opt = mg.optim.Adam(model.parameters(), lr=1e-3)


class Log(mg.train.Callback):
    def on_epoch_end(self, epoch, logs=None):
        blob = b"".join(a.tobytes() for a in model.state_dict().values())
        print("epoch", epoch + 1, hashlib.sha256(blob).hexdigest(), flush=True)


callbacks = [Log()] if reference else [RunCheckpoint(out, {"seed": 0}, epochs)]
print("ready", flush=True)
mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
             batch_size=64, callbacks=callbacks, verbose=0, seed=0)
print("done", flush=True)
"""


def _start(out, mode):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(EPOCHS), mode],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _reference(tmp_path):
    """sha256 of the weights after each epoch of an uninterrupted run, and its duration."""
    proc = _start(tmp_path, "reference")
    assert proc.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    lines = proc.stdout.read().split("\n")
    seconds = time.perf_counter() - t0
    assert proc.wait(timeout=120) == 0
    hashes = {int(w[1]): w[2] for w in (line.split() for line in lines) if w[:1] == ["epoch"]}
    assert sorted(hashes) == list(range(1, EPOCHS + 1))
    return hashes, seconds


def _check_after_kill(out, hashes):
    """The state of ``out`` after a SIGKILL: returns the checkpoint's epoch (0: none
    written yet) and the names of temporaries left by a killed write."""
    names = os.listdir(out)
    temps = [n for n in names if n.endswith(".tmp")]
    assert set(names) - set(temps) <= {"model.ckpt", "run.json"}, names
    assert all(n.startswith((".model.ckpt.", ".run.json.")) for n in temps), temps
    if "model.ckpt" not in names:
        assert "run.json" not in names
        return 0, temps
    model, extra = resume_state(os.path.join(out, "model.ckpt"))
    epoch = extra["epoch"]
    assert 1 <= epoch <= EPOCHS
    blob = b"".join(a.tobytes() for a in model.state_dict().values())
    assert hashlib.sha256(blob).hexdigest() == hashes[epoch], f"epoch {epoch} differs"
    assert len(extra["history"]["epoch"]) == epoch
    with open(os.path.join(out, "run.json")) as f:
        marker = json.load(f)   # written after the checkpoint: this epoch or the one before
    assert marker["epochs_done"] in (epoch - 1, epoch), (marker, epoch)
    return epoch, temps


def _inject(tmp_path, kills, seed):
    hashes, seconds = _reference(tmp_path / "reference")
    print(f"\nreference run: {seconds:.2f} s for {EPOCHS} epochs")
    rng = random.Random(seed)
    epochs, temps = [], 0
    for i in range(kills):
        out = tmp_path / f"run{i}"
        out.mkdir()
        proc = _start(out, "checkpoint")
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.95 * seconds))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        epoch, left = _check_after_kill(out, hashes)
        epochs.append(epoch)
        temps += len(left)
    print(f"\nfault injection: {kills} SIGKILLs, checkpoints at epochs {epochs}, "
          f"{temps} temporaries of killed writes, checkpoints lost 0")
    return epochs


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_fault_injection_sigkill_never_loses_a_checkpoint_fast(tmp_path):
    _inject(tmp_path, kills=3, seed=1)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_fault_injection_sigkill_20_times(tmp_path):
    epochs = _inject(tmp_path, kills=20, seed=2)
    assert len(set(epochs)) > 3   # the kills were spread over the run


def test_fault_injection_next_run_removes_a_killed_writes_temporary(tmp_path):
    """What a kill between write and rename leaves is cleaned when the run goes on."""
    import minigrad as mg
    from minigrad import nn
    from minigrad.train.runstate import RunCheckpoint
    (tmp_path / ".model.ckpt.0123abcd.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "mine.tmp").write_bytes(b"not ours")
    model = nn.Linear(3, 2)
    x = np.zeros((8, 3), np.float32)
    mg.train.fit(model, x, np.zeros(8, np.int64), loss="cross_entropy", verbose=0,
                 optimizer=mg.optim.SGD(model.parameters(), lr=0.1),
                 callbacks=[RunCheckpoint(str(tmp_path), {}, 1)])
    assert sorted(os.listdir(tmp_path)) == ["mine.tmp", "model.ckpt", "run.json"]
