"""The IDX file format (MNIST's): read and write, gzip-compressed or raw."""
from __future__ import annotations

import hashlib
import io
import math
import os
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import DTypeError
from ..serialization import atomic_write

# IDX type byte -> big-endian dtype, as in LeCun's format description.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"


class ChecksumError(ValueError):
    """A dataset file's size or checksum differs from the published one."""


# deflate cannot compress better than ~1032:1, so a gzip file of n bytes never holds
# more than this many; a header declaring more is corrupt or a decompression bomb
_MAX_RATIO = 1032
_CHUNK = 1 << 20


def is_gzip(data: bytes) -> bool:
    """True when the bytes start with the gzip magic number (1f 8b)."""
    return data[:2] == GZIP_MAGIC


class _Inflater:
    """The decompressed bytes of a gzip stream (several members allowed), produced only
    as far as asked: ``read(n)`` never holds more than n output bytes plus one input
    chunk, whatever the compression ratio."""

    def __init__(self, f: BinaryIO, name: str, file_hash: Any = None):
        self.f, self.name, self.file_hash = f, name, file_hash
        self.d = zlib.decompressobj(wbits=31)   # 31: the gzip wrapper
        self.started = False

    def _input(self) -> bytes:
        chunk = self.f.read(_CHUNK)
        if chunk and self.file_hash is not None:
            self.file_hash.update(chunk)
        return chunk

    def _next_data(self) -> bytes | None:
        """Compressed input for the decompressor; None at the clean end of the data."""
        if self.d.eof:   # a member ended: zero padding, then maybe another member
            # (checked first: after the end, unconsumed_tail still holds the rest)
            rest = self.d.unused_data.lstrip(b"\x00")
            while not rest:
                more = self._input()
                if not more:
                    return None
                rest = more.lstrip(b"\x00")
            self.d = zlib.decompressobj(wbits=31)
            return rest
        if self.d.unconsumed_tail:
            return self.d.unconsumed_tail
        chunk = self._input()
        if not chunk:
            raise ValueError(f"read_idx: {self.name}: truncated gzip stream (it ends before "
                             f"its end-of-stream marker; the download or copy was cut)")
        return chunk

    def read(self, n: int) -> bytes:
        out = []
        while n > 0:
            data = self._next_data()
            if data is None:
                break
            try:
                piece = self.d.decompress(data, n)
            except zlib.error as e:
                raise ValueError(f"read_idx: {self.name}: corrupt gzip stream ({e})") from None
            out.append(piece)
            n -= len(piece)
        return out[0] if len(out) == 1 else b"".join(out)


class _Plain:
    """Reads of a raw file, hashed as they go (the file is its own content)."""

    def __init__(self, f: BinaryIO, file_hash: Any = None):
        self.f, self.file_hash = f, file_hash

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if data and self.file_hash is not None:
            self.file_hash.update(data)
        return data


def _header(src: Any, name: str, content_hash: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, big-endian dtype, header length) from the first bytes of the content."""
    head = src.read(4)
    if len(head) < 4:
        raise ValueError(f"read_idx: {name}: {len(head)} bytes is too short for an IDX "
                         f"header (needs at least 4)")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(f"read_idx: {name}: bad magic number {head.hex(' ')}: "
                         f"an IDX file starts with 00 00 <type> <ndim>; not an IDX file")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name}: unknown IDX data type 0x{code:02X} "
                         f"(expected one of {known})")
    if ndim == 0:
        raise ValueError(f"read_idx: {name}: header declares 0 dimensions")
    dims = src.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"read_idx: {name}: truncated header: {ndim} dimensions need "
                         f"{4 + 4 * ndim} bytes, the file has {4 + len(dims)}")
    if content_hash is not None:
        content_hash.update(head + dims)
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    return shape, IDX_DTYPES[code], 4 + 4 * ndim


def _declared(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"header declares shape {shape} of {dtype.newbyteorder('=').name} = " \
           f"{math.prod(shape) * dtype.itemsize} data bytes"   # Python ints: no overflow


def _read_content(src: Any, name: str, room: int, content_hash: Any = None,
                  size: int | None = None) -> np.ndarray:
    """The array of an IDX stream whose data can be at most ``room`` bytes (the file
    size for a raw file, the ratio bound for gzip): a header declaring more is refused
    before anything is allocated, and reading stops one byte past the declared size.
    ``size``: the total (header + data) the caller requires, checked on the header."""
    shape, dtype, header = _header(src, name, content_hash)
    expected = math.prod(shape) * dtype.itemsize
    if size is not None and header + expected != size:
        raise ChecksumError(f"read_idx: {name}: decompressed size {header + expected} bytes, "
                         f"expected {size} ({_declared(shape, dtype)})")
    if expected > room - header:
        have = max(room - header, 0)
        if isinstance(src, _Inflater):
            raise ValueError(f"read_idx: {name}: corrupt gzip stream or decompression bomb: "
                             f"{_declared(shape, dtype)}, more than the file can hold "
                             f"(at most {have} at deflate's best ratio)")
        raise ValueError(f"read_idx: {name}: truncated: {_declared(shape, dtype)}, the file "
                         f"has {have}")
    buf = bytearray(expected)
    view, got = memoryview(buf), 0
    while got < expected:
        piece = src.read(min(_CHUNK, expected - got))
        if not piece:
            raise ValueError(f"read_idx: {name}: truncated: {_declared(shape, dtype)}, the "
                             f"file has {got}")
        view[got:got + len(piece)] = piece
        got += len(piece)
    if src.read(1):
        raise ValueError(f"read_idx: {name}: trailing bytes: {_declared(shape, dtype)}, the "
                         f"file has more (reading stopped there)")
    if content_hash is not None:
        content_hash.update(view)
    arr = np.frombuffer(buf, dtype).reshape(shape)   # writable: it views a bytearray
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def read_idx_hashed(path: str | os.PathLike, hashes: bool = True
                    ) -> tuple[np.ndarray, str | None, str | None]:
    """``(array, SHA-256 of the file, SHA-256 of its decompressed content)``, from one
    streaming pass (hex digests; None when ``hashes`` is False). See read_idx."""
    name = os.fspath(path)
    file_hash = hashlib.sha256() if hashes else None
    content_hash = hashlib.sha256() if hashes else None
    with open(name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        gz = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if gz:
            src: Any = _Inflater(f, name, file_hash)
            arr = _read_content(src, name, _MAX_RATIO * size + 64, content_hash)
        else:
            arr = _read_content(_Plain(f, file_hash), name, size, content_hash)
            content_hash = file_hash
    if not hashes:
        return arr, None, None
    return arr, file_hash.hexdigest(), content_hash.hexdigest()


def parse_idx(data: bytes | bytearray, name: str = "<bytes>", size: int | None = None,
              content_hash: Any = None) -> np.ndarray:
    """Decode the bytes of an IDX file, raw or gzip, capped as read_idx is.

    size: the total decompressed length required (ChecksumError, before decompressing
    the data, when the header declares another); content_hash: a hashlib object
    updated with the decompressed content.
    """
    f = io.BytesIO(data)
    if is_gzip(data):
        return _read_content(_Inflater(f, name), name, _MAX_RATIO * len(data) + 64,
                             content_hash, size)
    return _read_content(_Plain(f), name, len(data), content_hash, size)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected by its magic bytes) or raw.

    The header is read first and the data streamed into an array of the declared size:
    a gzip stream is never decompressed past that size plus one byte, and a header
    declaring more than the file can hold is refused before allocating.
    Returns: an ndarray with the shape in the file's header and the file's own dtype
    (uint8, int8, int16, int32, float32 or float64) in native byte order.
    Raises FileNotFoundError if absent; ValueError naming the file when the gzip stream
    is corrupt or cut, the magic number is wrong, or the data length differs from the
    header.
    """
    return read_idx_hashed(path, hashes=False)[0]


def idx_bytes(array: np.ndarray) -> bytes:
    """The raw IDX encoding of `array` (header + big-endian data)."""
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        raise DTypeError(f"write_idx: IDX stores uint8, int8, int16, int32, float32 or "
                        f"float64, got {a.dtype}")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {a.shape}")
    code = _CODES[native]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(a, IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file, atomically (a temporary file renamed into place).

    compress: gzip the file; None means "if the name ends with .gz".
    Raises TypeError for a dtype IDX cannot store, ValueError for a 0-d array.
    """
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = c.compress(data) + c.flush()
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename,
    so a reader never sees a half-written file (creating the folder if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, [data])
