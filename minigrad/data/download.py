"""Download a dataset file with a progress bar, verify it, and write it atomically."""
from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .idx import atomic_write_bytes, gunzip, is_gzip, parse_idx


class ChecksumError(ValueError):
    """A downloaded file's size or checksum differs from the published one."""


@dataclass(frozen=True)
class FileSpec:
    """What a dataset file must be.

    name: file name on the mirrors (e.g. "train-images-idx3-ubyte.gz").
    size: length in bytes of the DECOMPRESSED IDX content.
    sha256: SHA-256 of the decompressed content, or None when unknown. It is the
        authority because redistributed copies (e.g. Debian's) are recompressed, so
        their gzip bytes differ while the content is identical.
    gz_md5: the MD5 of the gzip file as published by the dataset's authors; checked only
        when sha256 is None.
    shape: the array shape the header must declare.
    """
    name: str
    size: int
    sha256: str | None
    gz_md5: str | None
    shape: tuple[int, ...]


def verify(raw: bytes, spec: FileSpec, source: str) -> None:
    """Check downloaded bytes against `spec`; ChecksumError naming `source` if they differ."""
    content = gunzip(raw, source) if is_gzip(raw) else raw
    if len(content) != spec.size:
        raise ChecksumError(f"{spec.name} from {source}: decompressed size {len(content)} "
                            f"bytes, expected {spec.size}")
    if spec.sha256 is not None:
        got = hashlib.sha256(content).hexdigest()
        if got != spec.sha256:
            raise ChecksumError(f"{spec.name} from {source}: SHA-256 of the decompressed "
                                f"content is {got}, expected {spec.sha256}")
    elif spec.gz_md5 is not None:
        got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if got != spec.gz_md5:
            raise ChecksumError(f"{spec.name} from {source}: MD5 of the gzip file is {got}, "
                                f"expected the published {spec.gz_md5}")
    shape = parse_idx(content, f"{spec.name} from {source}").shape
    if shape != spec.shape:
        raise ChecksumError(f"{spec.name} from {source}: IDX shape {shape}, expected "
                            f"{spec.shape}")


def fetch(url: str, progress: bool = True, timeout: float = 30.0) -> bytes:
    """The bytes at `url` (http(s) or file://), read in chunks behind a tqdm bar."""
    from tqdm.auto import tqdm   # imported here: only downloads need it

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        total = resp.headers.get("Content-Length")
        chunks = []
        with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                  unit_divisor=1024, desc=url.rsplit("/", 1)[-1], disable=not progress,
                  leave=False) as bar:
            while chunk := resp.read(1 << 20):
                chunks.append(chunk)
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
            raw = fetch(url, progress)
            verify(raw, spec, url)
        except (OSError, ValueError) as e:   # URLError is an OSError; ValueError: corrupt
            failures.append((url, e))
            continue
        path = dest_dir / spec.name
        atomic_write_bytes(path, raw)
        return path, failures
    return None, failures

