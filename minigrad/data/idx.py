"""The IDX file format (MNIST's): read and write, gzip-compressed or raw."""
from __future__ import annotations

import math
import os
import zlib
from pathlib import Path

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


def is_gzip(data: bytes) -> bool:
    """True when the bytes start with the gzip magic number (1f 8b)."""
    return data[:2] == GZIP_MAGIC


def gunzip(data: bytes, name: str = "<bytes>") -> bytes:
    """Decompress a gzip stream (several members allowed); ValueError if corrupt or cut."""
    out = []
    while data:
        # wbits=31: gzip wrapper; zlib decodes ~2x faster than the gzip module's file path.
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(data))
        except zlib.error as e:
            raise ValueError(f"read_idx: {name}: corrupt gzip stream ({e})") from None
        if not d.eof:
            raise ValueError(f"read_idx: {name}: truncated gzip stream (it ends before "
                             f"its end-of-stream marker; the download or copy was cut)")
        data = d.unused_data.lstrip(b"\x00")   # gzip allows zero padding between members
    return b"".join(out)


def parse_idx(data: bytes | bytearray, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of a raw (decompressed) IDX file.

    Returns an array of the file's own dtype in native byte order and of the shape
    its header declares. Raises ValueError naming `name` and the fault: wrong magic,
    unknown type, truncated header, or a data length that differs from the header.
    """
    if len(data) < 4:
        raise ValueError(f"read_idx: {name}: {len(data)} bytes is too short for an IDX "
                         f"header (needs at least 4)")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"read_idx: {name}: bad magic number {bytes(data[:4]).hex(' ')}: "
                         f"an IDX file starts with 00 00 <type> <ndim>; not an IDX file")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name}: unknown IDX data type 0x{code:02X} "
                         f"(expected one of {known})")
    if ndim == 0:
        raise ValueError(f"read_idx: {name}: header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {name}: truncated header: {ndim} dimensions need "
                         f"{header} bytes, the file has {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize   # Python ints: no overflow
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes"
        raise ValueError(f"read_idx: {name}: {what}: header declares shape {shape} of "
                         f"{dtype.newbyteorder('=').name} = {expected} data bytes, the file "
                         f"has {found}")
    arr = np.frombuffer(data, dtype, offset=header).reshape(shape)
    # Native byte order for multi-byte types; uint8/int8 are just made writable.
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected by its magic bytes) or raw.

    Returns: an ndarray with the shape in the file's header and the file's own dtype
    (uint8, int8, int16, int32, float32 or float64) in native byte order.
    Raises FileNotFoundError if absent; ValueError naming the file when the gzip stream
    is corrupt or cut, the magic number is wrong, or the data length differs from the
    header.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    if is_gzip(data):
        data = gunzip(data, name)
    return parse_idx(data, name)


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
