"""Run by tests/test_distributed.py, once in one process and once under mpiexec -n 2:
trains a small MLP (no dropout, no BN) with fit and saves the weights of rank 0.

    python tests/distributed_worker.py OUT.npz sgd|adam|adam-cosine [--dp] [--manual]
"""
import sys

import numpy as np

import minigrad as mg
from minigrad import nn

STEPS, BATCH, EXTRA = 50, 128, 37  # the extra samples make an uneven last batch


def optimizer(name, params):
    if name == "sgd":
        return mg.optim.SGD(params, lr=0.1, momentum=0.9)
    lr = 3e-3 if name == "adam" else mg.optim.schedules.CosineDecay(3e-3, STEPS + 1)
    return mg.optim.Adam(params, lr=lr)


def main(out, opt_name, *flags):
    dp = "--dp" in flags
    if dp:
        mg.distributed.init()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * STEPS + EXTRA, 20)).astype(np.float32)
    y = (x[:, :5].argmax(1) + (x[:, 5] > 1)) % 5
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 5))
    if dp and mg.distributed.rank() == 1:  # the broadcast at wrap must fix this
        for p in model.parameters():
            p.data[...] = 7.0
    opt = optimizer(opt_name, model.parameters())
    hist = mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=1,
                        batch_size=BATCH, seed=1, verbose=0)
    if not dp or mg.distributed.rank() == 0:
        np.savez(out, *[p.data for p in model.parameters()],
                 loss=np.array(hist.history["loss"]), acc=np.array(hist.history["accuracy"]))


if __name__ == "__main__":
    main(*sys.argv[1:])
