"""Download a dataset file with a progress bar, verify it, and write it atomically; verify
files found on disk.

Downloads are read up to the expected size only, their gzip bytes are checked against
the published checksum BEFORE anything is decompressed, and decompression is capped at
the size the IDX header declares. Files found locally may be recompressed copies (e.g.
Debian's), so they are verified by the SHA-256 of their decompressed content, hashed in
the same streaming pass that reads them.
"""
from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import ChecksumError, atomic_write_bytes, is_gzip, parse_idx, read_idx_hashed

__all__ = ["ChecksumError", "FileSpec", "check_archive", "check_content", "download",
           "fetch", "verify", "verify_local"]


@dataclass(frozen=True)
class FileSpec:
    """What a dataset file must be.

    name: file name on the mirrors (e.g. "train-images-idx3-ubyte.gz").
    size: length in bytes of the DECOMPRESSED IDX content.
    sha256: SHA-256 of the decompressed content, or None when unknown; what files found
        on disk are checked against, as redistributed copies are recompressed.
    gz_md5: MD5 of the gzip file as its authors published it.
    shape: the array shape the header must declare.
    gz_sha256: SHA-256 of the published gzip file, when known (preferred to gz_md5).
    gz_size: length of the published gzip file, when known: downloads stop there.
    """
    name: str
    size: int
    sha256: str | None
    gz_md5: str | None
    shape: tuple[int, ...]
    gz_sha256: str | None = None
    gz_size: int | None = None

    @property
    def max_download(self) -> int:
        """Bytes a download may have: the published size, else what a gzip of the content
        can take at most (stored blocks add 5 bytes per 64 KB, plus the header)."""
        return self.gz_size or self.size + self.size // 1000 + 1024


def check_archive(raw: bytes, spec: FileSpec, source: str) -> None:
    """The published checksum of the gzip bytes, checked before they are decompressed."""
    if spec.gz_sha256 is not None:
        got, want, what = hashlib.sha256(raw).hexdigest(), spec.gz_sha256, "SHA-256"
    elif spec.gz_md5 is not None:
        got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        want, what = spec.gz_md5, "MD5"
    else:
        return
    if got != want:
        raise ChecksumError(f"{spec.name} from {source}: {what} of the gzip file is {got}, "
                            f"expected the published {want} (checked before decompressing)")


def check_content(arr: np.ndarray, content_sha: str, spec: FileSpec, source: str) -> None:
    """Size, SHA-256 and shape of decompressed content against ``spec``."""
    size = arr.nbytes + 4 + 4 * arr.ndim
    if size != spec.size:
        raise ChecksumError(f"{spec.name} from {source}: decompressed size {size} bytes, "
                            f"expected {spec.size}")
    if spec.sha256 is not None and content_sha != spec.sha256:
        raise ChecksumError(f"{spec.name} from {source}: SHA-256 of the decompressed content "
                            f"is {content_sha}, expected {spec.sha256}")
    if arr.shape != spec.shape:
        raise ChecksumError(f"{spec.name} from {source}: IDX shape {arr.shape}, expected "
                            f"{spec.shape}")


def verify(raw: bytes, spec: FileSpec, source: str) -> None:
    """Check downloaded bytes against ``spec``; ChecksumError naming ``source`` if they
    differ, ValueError for a corrupt stream. Decompression is capped (read_idx)."""
    if is_gzip(raw):
        check_archive(raw, spec, source)
    content = hashlib.sha256()
    arr = parse_idx(raw, f"{spec.name} from {source}", spec.size, content)
    check_content(arr, content.hexdigest(), spec, source)


def verify_local(path: Path, spec: FileSpec) -> np.ndarray:
    """The array of a file found on disk, once its content is verified (one pass).

    Accepted: content with the known SHA-256; else, when that is unknown, the published
    gzip file itself (SHA-256, else MD5). Raises ChecksumError otherwise, saying how to
    load one's own data without the check.
    """
    arr, file_sha, content_sha = read_idx_hashed(path)
    check_content(arr, content_sha, spec, str(path))
    if spec.sha256 is not None:
        return arr
    if spec.gz_sha256 is not None and file_sha == spec.gz_sha256:
        return arr
    if spec.gz_sha256 is None and spec.gz_md5 is not None and hashlib.md5(
            path.read_bytes(), usedforsecurity=False).hexdigest() == spec.gz_md5:
        return arr
    raise ChecksumError(f"{path}: cannot be verified as {spec.name}: no SHA-256 of its "
                        "decompressed content is known, and it is not the published gzip "
                        "file; if it is your own data, pass verify=False (or set "
                        "MINIGRAD_VERIFY_DATA=0)")


def fetch(url: str, progress: bool = True, timeout: float = 30.0,
          max_bytes: int | None = None) -> bytes:
    """The bytes at `url` (http(s) or file://), read in chunks behind a tqdm bar; a
    response longer than ``max_bytes`` is cut off with a ChecksumError."""
    from tqdm.auto import tqdm   # imported here: only downloads need it

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        total = resp.headers.get("Content-Length")
        if max_bytes is not None and total and int(total) > max_bytes:
            raise ChecksumError(f"{url}: announces {total} bytes, more than the {max_bytes} "
                                "expected; not downloaded")
        chunks, got = [], 0
        with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                  unit_divisor=1024, desc=url.rsplit("/", 1)[-1], disable=not progress,
                  leave=False) as bar:
            while chunk := resp.read(1 << 20):
                chunks.append(chunk)
                got += len(chunk)
                if max_bytes is not None and got > max_bytes:
                    raise ChecksumError(f"{url}: sent more than the {max_bytes} bytes "
                                        "expected; download stopped")
                bar.update(len(chunk))
    data = b"".join(chunks)
    if total and len(data) != int(total):
        raise OSError(f"{url}: connection closed after {len(data)} of {total} bytes")
    return data


def download(spec: FileSpec, mirrors: list[str], dest_dir: Path,
             progress: bool = True) -> tuple[Path | None, list[tuple[str, Exception]]]:
    """Fetch `spec` from the first mirror that serves a verified copy into `dest_dir`.

    Returns (path, failures): the written file (None if every mirror failed) and a
    (url, exception) pair per failed mirror. The file is written to a temporary name in
    `dest_dir` and renamed only after verification, so an interrupted or corrupt
    download never leaves a file that a later search would pick up.
    """
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        try:
            raw = fetch(url, progress, max_bytes=spec.max_download)
            verify(raw, spec, url)
        except (OSError, ValueError) as e:   # URLError is an OSError; ValueError: corrupt
            failures.append((url, e))
            continue
        path = dest_dir / spec.name
        atomic_write_bytes(path, raw)
        return path, failures
    return None, failures
