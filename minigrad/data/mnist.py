"""MNIST and Fashion-MNIST: find the IDX files locally, else download and verify them."""
from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .download import ChecksumError, FileSpec, download as _download, verify_local
from .idx import read_idx

# Debian's package dataset-fashion-mnist installs the four gzip files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "test")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are nowhere on disk and could not be downloaded."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str                      # cache folder name, e.g. "fashion-mnist"
    title: str
    subdirs: tuple[str, ...]       # sub-folders of root / $MINIGRAD_DATA that may hold it
    mirrors: tuple[str, ...]
    files: dict                    # split -> (images FileSpec, labels FileSpec)
    apt_package: str | None = None


def _specs(prefix: str, n: int, sha: tuple, md5: tuple, gz_sha: tuple = (None, None),
           gz_size: tuple = (None, None)) -> tuple[FileSpec, FileSpec]:
    return (FileSpec(f"{prefix}-images-idx3-ubyte.gz", 16 + n * 784, sha[0], md5[0],
                     (n, 28, 28), gz_sha[0], gz_size[0]),
            FileSpec(f"{prefix}-labels-idx1-ubyte.gz", 8 + n, sha[1], md5[1], (n,),
                     gz_sha[1], gz_size[1]))


# Decompressed content SHA-256: computed here from the shared copies of Fashion-MNIST (all
# four files; Debian's recompressed gzip, same content as the authors' release) and of the
# MNIST test set (the published gzip files: their MD5 and SHA-256 match the published
# ones). MNIST's training set was not available to hash, so its content SHA-256 is
# unknown (None); its files are verified as the published gzip files instead.
# Gzip MD5: as published by the datasets' authors (and used by torchvision).
# MNIST gzip SHA-256 and sizes: as published by TensorFlow Datasets and many independent
# projects; the two t10k values were checked here against the shared published files, the
# two train values could not be (no copy) and are taken from those sources.
# Downloads check the gzip checksum before decompressing, then the content; the S3
# website endpoint serves plain http only, which the checksums make safe.
FASHION_MNIST = DatasetInfo(
    "fashion-mnist", "Fashion-MNIST", ("fashion-mnist",),
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    {"train": _specs("train", 60000,
                     ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                      "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                     ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe")),
     "test": _specs("t10k", 10000,
                    ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
                    ("bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))},
    apt_package="dataset-fashion-mnist")

MNIST = DatasetInfo(
    "mnist", "MNIST", ("mnist", "mnist-t10k"),
    ("https://ossci-datasets.s3.amazonaws.com/mnist/",
     "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    {"train": _specs("train", 60000, (None, None),
                     ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432"),
                     ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                      "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                     (9912422, 28881)),
     "test": _specs("t10k", 10000,
                    ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                     "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
                    ("9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                    ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
                    (1648877, 4542))})


def cache_dir() -> Path:
    """~/.cache/minigrad, where downloads go (read at call time, so HOME may change)."""
    return Path.home() / ".cache" / "minigrad"


def search_dirs(info: DatasetInfo, root=None) -> list[tuple[str, Path]]:
    """The folders searched for `info`'s files, in order, as (origin, folder) pairs."""
    dirs = []
    for origin, base in (("root", root), ("$MINIGRAD_DATA", os.environ.get("MINIGRAD_DATA"))):
        if base:
            base = Path(base).expanduser()
            dirs += [(origin, base)] + [(origin, base / sub) for sub in info.subdirs]
    dirs.append(("cache", cache_dir() / info.name))
    if info.apt_package == "dataset-fashion-mnist":
        dirs.append(("Debian package", DEBIAN_FASHION_MNIST))
    return dirs


def _candidates(spec: FileSpec) -> tuple[str, ...]:
    raw = spec.name[:-3]   # also accept the files already decompressed
    return spec.name, raw, raw.replace("-idx", ".idx")   # LeCun's unzipped names


def find_file(spec: FileSpec, dirs: list[tuple[str, Path]]) -> Path | None:
    """The first existing copy of `spec` (gzip or raw) in `dirs`, else None."""
    for _, folder in dirs:
        for name in _candidates(spec):
            if (folder / name).is_file():
                return folder / name
    return None


def _not_found_message(info, fn, missing, found, dirs, failures, download) -> str:
    missing_splits = [s for s in SPLITS if any(sp in missing for sp in info.files[s])]
    what = " and ".join({"train": "training", "test": "test"}[s] for s in missing_splits)
    lines = [f"{fn}: {info.title} {what} files are missing: "
             + ", ".join(sp.name for sp in missing) + " (raw, uncompressed copies also do)."]
    lines.append("Looked in:")
    lines += [f"  {origin}: {folder}" for origin, folder in dirs]
    for s in SPLITS:
        specs = info.files[s]
        if s not in missing_splits and all(sp.name in found for sp in specs):
            where = found[specs[0].name].parent
            lines.append(f"Found the {s} files in {where}: {fn}(split={s!r}) loads that "
                         f"split alone.")
    if not download:
        lines.append("Download: not attempted (download=False).")
    elif failures:
        lines.append("Download failed:")
        lines += [f"  {msg}" for msg in failures]
    lines.append("To get the files:")
    if info.apt_package:
        lines.append(f"  - sudo apt install {info.apt_package} (installs them in "
                     f"{DEBIAN_FASHION_MNIST});")
    lines.append(f"  - {'or ' if info.apt_package else ''}download "
                 + ", ".join(sp.name for sp in missing) + " from "
                 + " or ".join(info.mirrors) + f" into {cache_dir() / info.name},")
    lines.append("    or into any folder passed as root= or named by $MINIGRAD_DATA.")
    return "\n".join(lines)


def _check_pair(info, split, x, y, paths) -> tuple[np.ndarray, np.ndarray]:
    where = f"{info.title} {split} ({paths[0]}, {paths[1]})"
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: images must be uint8 (N, 28, 28), got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{where}: {len(x)} images but labels of shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{where}: labels must lie in 0..9, got {y.min()}..{y.max()}")
    return x, y.astype(np.int64)


def _unreachable(e: Exception) -> bool:
    """A connection-level failure (no route, DNS, refused, timeout), not an HTTP answer."""
    if isinstance(e, urllib.error.HTTPError):
        return False
    return isinstance(e, (urllib.error.URLError, TimeoutError, ConnectionError))


def _verifying(verify: bool | None) -> bool:
    if verify is not None:
        return bool(verify)
    return os.environ.get("MINIGRAD_VERIFY_DATA", "1").strip().lower() not in (
        "0", "false", "no", "off")


def _read(path: Path, spec: FileSpec, verify: bool):
    return verify_local(path, spec) if verify else read_idx(path)


def load_dataset(info: DatasetInfo, root=None, download: bool = True, split: str | None = None,
                 progress: bool = True, fn: str = "load", verify: bool | None = None):
    """Find (or download) and read `info`'s files; see load_mnist for the contract."""
    if split not in (None, *SPLITS):
        raise ValueError(f"{fn}: split must be None, 'train' or 'test', got {split!r}")
    splits = SPLITS if split is None else (split,)
    dirs = search_dirs(info, root)
    every = [sp for s in SPLITS for sp in info.files[s]]
    found = {sp.name: p for sp in every if (p := find_file(sp, dirs)) is not None}
    missing = [sp for s in splits for sp in info.files[s] if sp.name not in found]
    failures, bad_checksum, mirrors = [], False, list(info.mirrors)
    if missing and download:
        for sp in list(missing):
            path, fails = _download(sp, mirrors, cache_dir() / info.name, progress)
            for url, e in fails:
                failures.append(str(e) if url in str(e) else f"{url}: {e}")
                bad_checksum |= isinstance(e, ChecksumError)
                if _unreachable(e):   # offline: don't wait for its timeout once per file
                    mirrors = [m for m in mirrors if not url.startswith(m)]
            if path is not None:
                found[sp.name] = path
                missing.remove(sp)
    if missing:
        msg = _not_found_message(info, fn, missing, found, dirs, failures, download)
        raise (ChecksumError if bad_checksum else DatasetNotFoundError)(msg)
    out, verify = [], _verifying(verify)
    for s in splits:
        specs = info.files[s]
        paths = [found[sp.name] for sp in specs]
        out.append(_check_pair(info, s, _read(paths[0], specs[0], verify),
                               _read(paths[1], specs[1], verify), paths))
    return out[0] if split is not None else tuple(out)


def load_mnist(root=None, download: bool = True, *, split: str | None = None,
               progress: bool = True, verify: bool | None = None):
    """MNIST handwritten digits.

    Looks for each file (train-/t10k-images-idx3-ubyte, train-/t10k-labels-idx1-ubyte,
    gzip or raw) in order: `root` and its mnist/ and mnist-t10k/ sub-folders, the same
    under $MINIGRAD_DATA, then ~/.cache/minigrad/mnist. Missing files are downloaded
    (when `download`) from the mirrors with a progress bar, verified and written
    atomically into ~/.cache/minigrad/mnist.

    split: None returns ((x_train, y_train), (x_test, y_test)); "train" or "test"
        returns that one (x, y) pair and needs only its two files (a folder holding
        only the t10k files serves split="test").
    verify: check every file found on disk against the known SHA-256 of its
        decompressed content (hashed while it is read, ~0.05 s for the 47 MB training
        images), or, where that is unknown, against the published gzip file; so other
        files named like MNIST's are refused. None means True unless the environment
        variable MINIGRAD_VERIFY_DATA is 0; False is for one's own data in this format.
        Downloads are always verified.
    Returns: x uint8 (N, 28, 28), y int64 (N,) in 0..9; N is 60000 / 10000.
    Raises: DatasetNotFoundError (a FileNotFoundError) listing every folder looked in,
        the download failures and how to get the files; ChecksumError (a ValueError) when
        a download arrived but failed verification, or a file found on disk is not the
        dataset's (with verify); ValueError for a corrupt file.
    """
    return load_dataset(MNIST, root, download, split, progress, "load_mnist", verify)


def load_fashion_mnist(root=None, download: bool = True, *, split: str | None = None,
                       progress: bool = True, verify: bool | None = None):
    """Fashion-MNIST (Zalando): 10 classes of clothing, MNIST's format and sizes.

    Same contract as load_mnist; the folders searched are `root`, `root`/fashion-mnist,
    $MINIGRAD_DATA and its fashion-mnist/, ~/.cache/minigrad/fashion-mnist, then
    Debian's /usr/share/datasets/fashion-mnist (apt install dataset-fashion-mnist).
    """
    return load_dataset(FASHION_MNIST, root, download, split, progress, "load_fashion_mnist",
                        verify)
