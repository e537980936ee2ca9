"""MNIST / Fashion-MNIST loaders: search order, error messages, downloads (local fakes only)
and the real shared copies under $MINIGRAD_DATA."""
import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from minigrad.data import (ChecksumError, DatasetNotFoundError, load_fashion_mnist,
                           load_mnist, write_idx)
from minigrad.data import mnist
from minigrad.data import download as download_module
from minigrad.data.download import FileSpec
from minigrad.data.idx import idx_bytes

REAL_DATA = os.environ.get("MINIGRAD_DATA")   # read before the fixture clears it
REFUSED = "http://127.0.0.1:1/"               # nothing listens on port 1: fails at once


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real home cache, no $MINIGRAD_DATA, no Debian copy and no network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                  "ALL_PROXY"):   # the local fakes on 127.0.0.1 must be reached directly
        monkeypatch.delenv(proxy, raising=False)
    # The search-order tests use tiny fakes named like the real files: the verification of
    # found files (tested on its own below) would rightly refuse them.
    monkeypatch.setenv("MINIGRAD_VERIFY_DATA", "0")
    monkeypatch.setattr(mnist, "DEBIAN_FASHION_MNIST", tmp_path / "debian" / "fashion-mnist")
    for name in ("MNIST", "FASHION_MNIST"):
        monkeypatch.setattr(mnist, name, dataclasses.replace(getattr(mnist, name),
                                                             mirrors=(REFUSED,)))
    return tmp_path


def write_fake(folder: Path, tag: int, splits=("train", "t10k"), n: int = 6, gz=True):
    """Tiny MNIST-format files; every image pixel equals `tag` to tell copies apart."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in splits:
        ext = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}",
                  np.full((n, 28, 28), tag, np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10)


def tag_of(pair):
    x, y = pair
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
    assert y.dtype == np.int64 and y.shape == (len(x),)
    return int(x[0, 0, 0])


PLACES = ["root", "root/fashion-mnist", "env", "env/fashion-mnist", "cache", "debian"]


def _place(tmp_path, monkeypatch, where):
    """The folder for `where` (configuring env/root) and the root= argument to pass."""
    root = tmp_path / "root"
    env = tmp_path / "env"
    monkeypatch.setenv("MINIGRAD_DATA", str(env))
    folders = {"root": root, "root/fashion-mnist": root / "fashion-mnist", "env": env,
               "env/fashion-mnist": env / "fashion-mnist",
               "cache": tmp_path / "home" / ".cache" / "minigrad" / "fashion-mnist",
               "debian": mnist.DEBIAN_FASHION_MNIST}
    return folders[where], root


@pytest.mark.parametrize("where", PLACES)
def test_load_fashion_mnist_finds_each_place(tmp_path, monkeypatch, where):
    folder, root = _place(tmp_path, monkeypatch, where)
    write_fake(folder, tag=PLACES.index(where) + 1)
    train, test = load_fashion_mnist(root=root, download=False)
    assert tag_of(train) == tag_of(test) == PLACES.index(where) + 1
    np.testing.assert_array_equal(train[1], np.arange(6) % 10)


def test_load_fashion_mnist_search_order(tmp_path, monkeypatch):
    folders = [_place(tmp_path, monkeypatch, w)[0] for w in PLACES]
    for i, folder in enumerate(folders):
        write_fake(folder, tag=i + 1)
    root = tmp_path / "root"
    for i, folder in enumerate(folders):   # remove the winner, the next place wins
        assert tag_of(load_fashion_mnist(root=root, download=False, split="test")) == i + 1
        for f in folder.glob("*-ubyte.gz"):
            f.unlink()


def test_load_mnist_env_subfolders(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    write_fake(tmp_path / "env" / "mnist", tag=3, splits=("train",))
    write_fake(tmp_path / "env" / "mnist-t10k", tag=4, splits=("t10k",))
    train, test = load_mnist(download=False)
    assert (tag_of(train), tag_of(test)) == (3, 4)


def test_load_mnist_cache_and_raw_files(tmp_path):
    write_fake(tmp_path / "home" / ".cache" / "minigrad" / "mnist", tag=5, gz=False)
    train, test = load_mnist(download=False)
    assert tag_of(train) == tag_of(test) == 5


def test_load_mnist_never_reads_the_debian_fashion_copy(tmp_path):
    write_fake(mnist.DEBIAN_FASHION_MNIST, tag=1)
    with pytest.raises(DatasetNotFoundError) as err:
        load_mnist(download=False)
    assert "debian" not in str(err.value).lower()


def test_load_mnist_test_only_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    write_fake(tmp_path / "env" / "mnist-t10k", tag=9, splits=("t10k",))
    with pytest.raises(DatasetNotFoundError) as err:
        load_mnist(download=False)
    msg = str(err.value)
    assert "load_mnist: MNIST training files are missing: train-images-idx3-ubyte.gz, " \
           "train-labels-idx1-ubyte.gz" in msg
    assert f"Found the test files in {tmp_path / 'env' / 'mnist-t10k'}" in msg
    assert "load_mnist(split='test')" in msg
    assert tag_of(load_mnist(download=False, split="test")) == 9


def test_load_split_argument_checked():
    with pytest.raises(ValueError, match=r"load_mnist: split must be None, 'train' or "
                                         r"'test', got 'val'"):
        load_mnist(split="val")


def test_offline_error_lists_every_place_and_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist(root=tmp_path / "root")   # download=True, mirror refuses
    assert isinstance(err.value, FileNotFoundError)
    msg = str(err.value)
    assert "Fashion-MNIST training and test files are missing" in msg
    for folder in (tmp_path / "root", tmp_path / "root" / "fashion-mnist", tmp_path / "env",
                   tmp_path / "env" / "fashion-mnist",
                   tmp_path / "home" / ".cache" / "minigrad" / "fashion-mnist",
                   mnist.DEBIAN_FASHION_MNIST):
        assert f": {folder}\n" in msg
    assert "Download failed:" in msg and REFUSED + "train-images-idx3-ubyte.gz" in msg
    # An unreachable mirror is tried once, not once per file (no timeout per file offline).
    assert msg.count(REFUSED + "t") == 1   # "...:1/train-images..." and not the others
    assert "sudo apt install dataset-fashion-mnist" in msg
    assert "$MINIGRAD_DATA" in msg
    assert not (tmp_path / "home" / ".cache" / "minigrad" / "fashion-mnist").exists()


def test_offline_without_download_says_so():
    with pytest.raises(DatasetNotFoundError, match=r"not attempted \(download=False\)"):
        load_mnist(download=False)


def test_found_file_with_wrong_shape(tmp_path):
    write_fake(tmp_path, tag=1)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((6, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"MNIST test .*images must be uint8 \(N, 28, 28\), "
                                         r"got uint8 \(6, 32, 32\)"):
        load_mnist(tmp_path, download=False)


def test_found_files_with_different_counts(tmp_path):
    write_fake(tmp_path, tag=1)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"6 images but labels of shape \(5,\)"):
        load_mnist(tmp_path, download=False)


# ---- downloads, served from local fakes ---------------------------------------------------

def fake_release(folder: Path, n: int = 7, known_sha: bool = True):
    """Writes a tiny MNIST-like release into `folder`; returns its DatasetInfo."""
    files = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        rng = np.random.default_rng(len(prefix))
        arrays = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  rng.integers(0, 10, n).astype(np.uint8))
        specs = []
        for kind, a in zip(("images-idx3", "labels-idx1"), arrays):
            raw = idx_bytes(a)
            name = f"{prefix}-{kind}-ubyte.gz"
            gz = gzip.compress(raw)
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(gz)
            specs.append(FileSpec(name, len(raw),
                                  hashlib.sha256(raw).hexdigest() if known_sha else None,
                                  hashlib.md5(gz).hexdigest(), a.shape))
        files[split] = tuple(specs)
    return dataclasses.replace(mnist.MNIST, files=files)


def cache_files(tmp_path):
    folder = tmp_path / "home" / ".cache" / "minigrad" / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("known_sha", [True, False], ids=["sha256", "gz-md5"])
def test_download_file_url_verifies_and_caches(tmp_path, monkeypatch, known_sha):
    info = fake_release(tmp_path / "mirror", known_sha=known_sha)
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(
        info, mirrors=(REFUSED, (tmp_path / "mirror").as_uri() + "/")))
    train, test = load_mnist(progress=False)
    assert train[0].shape == (7, 28, 28) and test[1].dtype == np.int64
    assert cache_files(tmp_path) == sorted(sp.name for s in info.files.values() for sp in s)
    # The second call finds the cached copies and needs no mirror.
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(info, mirrors=(REFUSED,)))
    again = load_mnist(download=False)
    np.testing.assert_array_equal(again[0][0], train[0])


def test_download_over_http_from_local_server(tmp_path, monkeypatch):
    info = fake_release(tmp_path / "served")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path / "served"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(info, mirrors=(url,)))
        x, y = load_mnist(split="test", progress=True)
    finally:
        server.shutdown()
        server.server_close()
    assert x.shape == (7, 28, 28) and len(y) == 7
    assert cache_files(tmp_path) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("known_sha", [True, False], ids=["sha256", "gz-md5"])
def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch, known_sha):
    info = fake_release(tmp_path / "mirror", known_sha=known_sha)
    # The mirror serves different (but well-formed) labels than the published checksum.
    write_idx(tmp_path / "mirror" / "t10k-labels-idx1-ubyte.gz", np.full(7, 3, np.uint8))
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(
        info, mirrors=((tmp_path / "mirror").as_uri(),)))
    # the gzip bytes are checked first, before anything is decompressed
    what = "MD5 of the gzip file .* expected the published .* before decompressing"
    with pytest.raises(ChecksumError, match=f"t10k-labels-idx1-ubyte.gz from file:.*{what}"):
        load_mnist(split="test", progress=False)
    # The verified images were kept; the bad labels left neither a file nor a temporary.
    assert cache_files(tmp_path) == ["t10k-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("published_gz", [True, False], ids=["gz-md5", "content-only"])
def test_download_truncated_transfer_leaves_nothing(tmp_path, monkeypatch, published_gz):
    info = fake_release(tmp_path / "mirror")
    if not published_gz:   # only the content is known: the cut stream is found decompressing
        info = _without_gz_checksums(info)
    path = tmp_path / "mirror" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(
        info, mirrors=((tmp_path / "mirror").as_uri(),)))
    error, match = ((ChecksumError, "MD5 of the gzip file") if published_gz else
                    (DatasetNotFoundError, "truncated gzip stream"))
    with pytest.raises(error, match=match):
        load_mnist(split="test", progress=False)
    assert cache_files(tmp_path) == ["t10k-labels-idx1-ubyte.gz"]


def _without_gz_checksums(info):
    return dataclasses.replace(info, files={s: tuple(dataclasses.replace(sp, gz_md5=None)
                                                     for sp in specs)
                                            for s, specs in info.files.items()})


def test_download_wrong_size(tmp_path, monkeypatch):
    info = _without_gz_checksums(fake_release(tmp_path / "mirror"))
    write_idx(tmp_path / "mirror" / "t10k-labels-idx1-ubyte.gz", np.zeros(8, np.uint8))
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(
        info, mirrors=((tmp_path / "mirror").as_uri(),)))
    with pytest.raises(ChecksumError, match=r"decompressed size 16 bytes, expected 15"):
        load_mnist(split="test", progress=False)


# ---- the real files under $MINIGRAD_DATA ---------------------------------------------------

needs_real = pytest.mark.skipif(
    not REAL_DATA or not Path(REAL_DATA, "fashion-mnist").is_dir(),
    reason="set MINIGRAD_DATA to the shared data folder (with fashion-mnist/, mnist-t10k/)")


@needs_real
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", REAL_DATA)
    (x, y), (xt, yt) = load_fashion_mnist(download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == xt.dtype == np.uint8 and y.dtype == yt.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(yt), np.full(10, 1000))
    assert x.max() == 255 and x.min() == 0


@needs_real
def test_real_mnist_test_only(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", REAL_DATA)
    x, y = load_mnist(download=False, split="test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y[:5].tolist() == [7, 2, 1, 0, 4] and set(np.unique(y)) == set(range(10))
    with pytest.raises(DatasetNotFoundError, match="MNIST training files are missing"):
        load_mnist(download=False)


@needs_real
@pytest.mark.parametrize("name,split", [("fashion-mnist", "test"), ("fashion-mnist", "train"),
                                        ("mnist-t10k", "test")])
def test_real_files_match_hard_coded_checksums(tmp_path, monkeypatch, name, split):
    """The shared copies, found on disk with verification on, pass by the decompressed
    SHA-256 hard-coded in mnist.py (Fashion-MNIST's are recompressed by Debian)."""
    monkeypatch.delenv("MINIGRAD_VERIFY_DATA")
    loader = load_fashion_mnist if name == "fashion-mnist" else load_mnist
    x, y = loader(Path(REAL_DATA, name), download=False, split=split)
    assert x.shape == ((10000 if split == "test" else 60000), 28, 28) and len(y) == len(x)


@needs_real
def test_real_downloads_check_the_published_gzip_before_decompressing(tmp_path, monkeypatch):
    """Served as a mirror, MNIST's published t10k gzip files pass their SHA-256; Debian's
    recompressed Fashion-MNIST files fail the published MD5 and are never decompressed."""
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(
        mnist.MNIST, mirrors=(Path(REAL_DATA, "mnist-t10k").as_uri(),)))
    x, _ = load_mnist(split="test", progress=False)
    assert x.shape == (10000, 28, 28)
    monkeypatch.setattr(mnist, "FASHION_MNIST", dataclasses.replace(
        mnist.FASHION_MNIST, mirrors=(Path(REAL_DATA, "fashion-mnist").as_uri(),)))
    monkeypatch.setattr(download_module, "parse_idx", _must_not_decompress)
    with pytest.raises(ChecksumError, match="MD5 of the gzip file .* before decompressing"):
        load_fashion_mnist(split="test", progress=False)
    assert not (tmp_path / "home" / ".cache" / "minigrad" / "fashion-mnist").exists() or \
        not any((tmp_path / "home" / ".cache" / "minigrad" / "fashion-mnist").iterdir())


def _must_not_decompress(*args, **kwargs):
    raise AssertionError("an unverified download was decompressed")


def test_found_labels_out_of_range(tmp_path):
    write_fake(tmp_path, tag=1)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 4, 12], np.uint8))
    with pytest.raises(ValueError, match=r"MNIST train .*labels must lie in 0..9, got 0..12"):
        load_mnist(tmp_path, download=False)


# ---- files found on disk are verified -----------------------------------------------------

def _random_release(folder: Path, n_train=60000, n_test=10000):
    """Files of the right names, formats and shapes, but random content (cheap ones: the
    training images are zeros with random labels, which no real release has)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if n <= 10000 else
                  np.zeros((n, 28, 28), np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, n).astype(np.uint8))


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist], ids=["mnist", "fashion"])
def test_found_random_files_are_not_accepted_as_the_dataset(tmp_path, monkeypatch, loader):
    monkeypatch.delenv("MINIGRAD_VERIFY_DATA")
    _random_release(tmp_path / "data", n_train=12)
    with pytest.raises(ChecksumError, match=r"t10k-images-idx3-ubyte.gz: SHA-256 of the "
                                            r"decompressed content is [0-9a-f]{64}, expected"):
        loader(tmp_path / "data", download=False, split="test")
    x, _ = loader(tmp_path / "data", download=False, split="test", verify=False)
    assert x.shape == (10000, 28, 28)
    monkeypatch.setenv("MINIGRAD_VERIFY_DATA", "0")   # the documented switch, for own data
    assert loader(tmp_path / "data", download=False, split="test")[0].shape == x.shape


def test_found_file_without_known_content_hash_must_be_the_published_gzip(tmp_path,
                                                                           monkeypatch):
    """MNIST's training content SHA-256 is unknown: a found copy passes only as the
    published gzip file (its SHA-256); anything else needs verify=False."""
    monkeypatch.delenv("MINIGRAD_VERIFY_DATA")
    _random_release(tmp_path / "data")
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte.gz: cannot be verified"
                                            r".*pass verify=False.*MINIGRAD_VERIFY_DATA=0"):
        load_mnist(tmp_path / "data", download=False, split="train")
    path = tmp_path / "data" / "train-labels-idx1-ubyte.gz"
    spec = mnist.MNIST.files["train"][1]
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(mnist.MNIST, files={
        **mnist.MNIST.files, "train": (mnist.MNIST.files["train"][0], dataclasses.replace(
            spec, gz_sha256=hashlib.sha256(path.read_bytes()).hexdigest()))}))
    from minigrad.data.download import verify_local
    assert verify_local(path, mnist.MNIST.files["train"][1]).shape == (60000,)


def test_download_is_capped_at_the_expected_size(tmp_path, monkeypatch):
    info = fake_release(tmp_path / "mirror")
    spec = info.files["test"][0]
    size = (tmp_path / "mirror" / spec.name).stat().st_size
    capped = dataclasses.replace(spec, gz_size=size - 1)
    info = dataclasses.replace(info, mirrors=((tmp_path / "mirror").as_uri(),), files={
        **info.files, "test": (capped, info.files["test"][1])})
    monkeypatch.setattr(mnist, "MNIST", info)
    with pytest.raises(ChecksumError, match=f"more than the {size - 1} (bytes )?expected"):
        load_mnist(split="test", progress=False)
    assert cache_files(tmp_path) == ["t10k-labels-idx1-ubyte.gz"]


def test_real_specs_cap_downloads():
    """MNIST: the published gzip sizes; Fashion-MNIST: what a gzip of the content can be."""
    assert mnist.MNIST.files["train"][0].max_download == 9912422
    assert mnist.MNIST.files["test"][1].max_download == 4542
    assert mnist.FASHION_MNIST.files["train"][0].max_download < 47_040_016 * 1.002 + 1024
