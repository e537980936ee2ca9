"""Checkpoints are never lost or half-read: mg.save writes a temporary sibling, fsyncs it
and renames it over the target (then fsyncs the folder); the file carries a SHA-256;
truncated, corrupted and foreign files raise a clear ValueError and never return part
of a model; a failing write (error, full disk, failed rename) leaves the previous file
intact and no temporary behind, also when ModelCheckpoint does the writing."""
import errno
import gzip
import io
import json
import os
import pickle
import stat
import struct

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, serialization
from minigrad.train import ModelCheckpoint


def _model(seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))


def _same_state(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


class _OSProxy:
    """Stands in for the ``os`` module inside minigrad.serialization only; the
    attributes set on it replace os functions there."""

    def __getattr__(self, name):
        return getattr(os, name)


@pytest.fixture
def fake_os(monkeypatch):
    proxy = _OSProxy()
    monkeypatch.setattr(serialization, "os", proxy)
    return proxy


def test_save_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, fake_os):
    events = []

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        os.fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        os.replace(src, dst)

    fake_os.fsync, fake_os.replace = fsync, replace
    mg.save(_model().state_dict(), tmp_path / "m.ckpt")
    # fsync(file) -> rename -> fsync(folder): a crash leaves the old or the new file
    assert events == [("fsync", "file"), ("replace", "m.ckpt"), ("fsync", "folder")]
    assert os.listdir(tmp_path) == ["m.ckpt"]


def test_file_ends_with_sha256_of_its_content(tmp_path):
    import hashlib
    path = tmp_path / "m.ckpt"
    mg.save(_model().state_dict(), path)
    data = path.read_bytes()
    assert data[:8] == serialization.MAGIC
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


def test_every_truncation_raises_and_returns_nothing(tmp_path):
    path = tmp_path / "m.ckpt"
    mg.save(_model().state_dict(), path)
    data = path.read_bytes()
    cut = tmp_path / "cut.ckpt"
    for size in sorted(set(range(0, len(data), max(1, len(data) // 97))) | {len(data) - 1}):
        cut.write_bytes(data[:size])
        with pytest.raises(ValueError, match=r"mg\.load: .*cut\.ckpt.*(truncated|not a "
                                             r"minigrad state file)"):
            mg.load(cut)


@pytest.mark.parametrize("where", ["version", "header", "payload", "checksum"])
def test_flipped_byte_is_detected(tmp_path, where):
    path = tmp_path / "m.ckpt"
    mg.save(_model().state_dict(), path)
    data = bytearray(path.read_bytes())
    hlen = struct.unpack_from("<Q", data, 12)[0]
    index = {"version": 9, "header": 20 + hlen // 2, "payload": 20 + hlen + 7,
             "checksum": len(data) - 5}[where]
    data[index] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"mg\.load: .*(corrupted|version)"):
        mg.load(path)


def _foreign(kind: str) -> bytes:
    buf = io.BytesIO()
    if kind == "npz":
        np.savez(buf, w=np.ones(3))
        return buf.getvalue()
    return {"empty": b"", "text": b"weight,bias\n1,2\n",
            "pickle": pickle.dumps({"weight": [1.0, 2.0]}),
            "gzip": gzip.compress(b"\x93MGSTATE" + bytes(64)),
            "magic-only": serialization.MAGIC}[kind]


@pytest.mark.parametrize("kind", ["empty", "text", "npz", "pickle", "gzip", "magic-only"])
def test_foreign_files_raise_clear_error(tmp_path, kind):
    path = tmp_path / f"foreign.{kind}"
    path.write_bytes(_foreign(kind))
    with pytest.raises(ValueError, match=r"mg\.load: .*foreign.*(not a minigrad state file"
                                         r"|truncated or corrupted)"):
        mg.load(path)


def _with_valid_checksum(header: dict | bytes, payload: bytes = b"") -> bytes:
    import hashlib
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = struct.pack("<8sIQ", serialization.MAGIC, 1, len(raw)) + raw + payload
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("header", [
    {"no_tree": 1},
    {"tree": {"t": "dict"}},
    {"tree": {"t": "array", "dtype": "<f4", "shape": [3, 3], "offset": 0, "nbytes": 12}},
    {"tree": {"t": "array", "dtype": "<f4", "shape": [2], "offset": 0, "nbytes": 400}},
    {"tree": {"t": "array", "dtype": "|O", "shape": [1], "offset": 0, "nbytes": 8}},
    {"tree": {"t": "dict", "items": [["w", {"t": "pickle"}]]}},
    {"tree": [1, 2]},
], ids=["no-tree", "dict-no-items", "shape-vs-bytes", "outside-payload", "object-dtype",
        "unknown-node", "list-root"])
def test_well_checksummed_but_malformed_header_raises_value_error(tmp_path, header):
    """A file written by another tool (or a future bug) with a valid checksum still
    fails with the same clear ValueError, never a KeyError/TypeError from inside."""
    path = tmp_path / "odd.ckpt"
    path.write_bytes(_with_valid_checksum(header, bytes(12)))
    with pytest.raises(ValueError, match=r"mg\.load: .*odd\.ckpt"):
        mg.load(path)


# ----- failing writes keep the previous file -----------------------------------------
class _FullDisk(io.BufferedWriter):
    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def _fail_write(fake_os):
    fake_os.fdopen = lambda fd, mode="r", *a, **k: _FullDisk(io.FileIO(fd, "wb"))


def _fail_rename(fake_os):
    def replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    fake_os.replace = replace


def _fail_fsync(fake_os):
    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")
    fake_os.fsync = fsync


@pytest.mark.parametrize("fail", [_fail_write, _fail_rename, _fail_fsync],
                         ids=["disk-full", "rename-error", "fsync-error"])
def test_failed_save_keeps_previous_file_and_leaves_no_temp(tmp_path, fake_os, fail):
    path = tmp_path / "m.ckpt"
    old = _model(seed=0).state_dict()
    mg.save(old, path)
    before = path.read_bytes()
    fail(fake_os)
    with pytest.raises(OSError):
        mg.save(_model(seed=1).state_dict(), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.ckpt"], "a temporary file was left behind"
    _same_state(mg.load(path), old)


def test_model_checkpoint_keeps_last_good_file_when_a_write_fails(tmp_path, fake_os):
    """Epoch 1 is saved; the disk is full at epoch 2: fit fails with the OSError, and
    the checkpoint on disk is still epoch 1's, complete and loadable."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = _model()
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "best.ckpt"
    saved = {}

    class DiskFillsAfterEpoch1(mg.train.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                saved.update({k: np.array(v) for k, v in model.state_dict().items()})
                _fail_write(fake_os)

    checkpoint = ModelCheckpoint(path, monitor="loss")
    with pytest.raises(OSError) as info:
        mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=3,
                     batch_size=16, callbacks=[checkpoint, DiskFillsAfterEpoch1()],
                     verbose=0)
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == ["best.ckpt"]
    on_disk = mg.load(path)
    _same_state(on_disk, saved)
    assert not all(np.array_equal(on_disk[k], np.asarray(v))
                   for k, v in model.state_dict().items()), "epoch 2 changed nothing"
    twin = _model(seed=5)
    twin.load_state_dict(on_disk)
    _same_state(twin.state_dict(), saved)


# ----- hostile headers and file modes ------------------------------------------------
@pytest.mark.parametrize("depth", [300, 100_000], ids=["deeper-than-limit", "stack-deep"])
def test_deeply_nested_header_raises_value_error_not_recursion_error(tmp_path, depth):
    """A checksummed header nesting far deeper than any real state (a hostile file)
    fails with the documented ValueError before json or _decode recurse."""
    path = tmp_path / "deep.ckpt"
    path.write_bytes(_with_valid_checksum(_nested(depth), b""))
    with pytest.raises(ValueError, match=r"nests \d+ levels deep"):
        mg.load(path)


def _nested(depth):
    """The header text of a list in a list ... (written as text: json.dumps itself
    would hit the recursion limit)."""
    return (b'{"tree": ' + b'{"t": "list", "items": [' * depth + b'{"t": "json", "v": 1}'
            + b"]}" * depth + b"}")


def test_nesting_within_the_limit_still_loads(tmp_path):
    value = 1
    for _ in range(60):
        value = [value]
    mg.save({"v": value, "s": "[[[[{{{{" * 100}, tmp_path / "ok.ckpt")  # brackets in str
    assert mg.load(tmp_path / "ok.ckpt")["v"] == value


def test_save_never_changes_the_process_umask(tmp_path, monkeypatch):
    """The file gets 0o666 less the umask from os.open's mode; os.umask (process-wide,
    racy in threaded programs) is never called."""
    calls = []
    monkeypatch.setattr(os, "umask", lambda *a: calls.append(a) or 0o022)
    mg.save({"w": np.ones(3)}, tmp_path / "m.ckpt")
    assert calls == []
    mode = stat.S_IMODE(os.stat(tmp_path / "m.ckpt").st_mode)
    monkeypatch.undo()
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
