"""mg.save / mg.load: state dicts in one self-describing file, written atomically.

File layout (all integers little-endian):

    magic    8 bytes  b"\\x93MGSTATE"
    version  u32      FORMAT_VERSION
    hlen     u64      length of the header
    header   hlen bytes of UTF-8 JSON: the value tree, arrays replaced by
             {"t": "array", "dtype", "shape", "offset", "nbytes"} into the payload
    payload  the arrays' raw bytes, C order, back to back
    sha256   32 bytes over everything above

No pickle: only ndarrays (numeric/bool), Tensors, dicts (str or int keys), lists,
tuples and JSON scalars (None, bool, int, float, str) are stored, so loading a file
can never run code. The file is written to a temporary sibling, fsynced and renamed
over ``path``, so a crash leaves either the old file or the new one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import struct
from typing import Any, Iterable

import numpy as np

from .tensor import Tensor

MAGIC = b"\x93MGSTATE"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_DIGEST = 32
# JSON levels a header may nest: each stored dict/list level takes 3, so this allows
# ~80 levels of state; far below what would exhaust the stack in json or _decode.
MAX_DEPTH = 256


def _encode(value: Any, blobs: list[bytes], offset: list[int], where: str) -> Any:
    """The JSON node for value; array bytes are appended to blobs."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"mg.save: cannot store {where} of dtype {arr.dtype} (only "
                            f"numeric and bool arrays)")
        node = {"t": "tensor" if isinstance(value, Tensor) else
                ("scalar" if isinstance(value, np.generic) else "array"),
                "dtype": arr.dtype.str, "shape": list(arr.shape),
                "offset": offset[0], "nbytes": arr.nbytes}
        if isinstance(value, Tensor):
            node["requires_grad"] = bool(value.requires_grad)
        blobs.append(arr.tobytes(order="C"))  # C order whatever the strides
        offset[0] += arr.nbytes
        return node
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"mg.save: dict keys must be str or int, got {k!r} in "
                                f"{where}")
            items.append([k, _encode(v, blobs, offset, f"{where}[{k!r}]")])
        return {"t": "dict", "items": items}
    if isinstance(value, (list, tuple)):
        return {"t": "list" if isinstance(value, list) else "tuple",
                "items": [_encode(v, blobs, offset, f"{where}[{i}]")
                          for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"t": "json", "v": value}
    raise TypeError(f"mg.save: cannot store {where} of type {type(value).__name__}; "
                    "use arrays, Tensors, dicts, lists and plain scalars")


def save(state: Any, path: str | os.PathLike) -> None:
    """Write state (e.g. model.state_dict(), optimizer.state_dict(), or a dict of
    them) to exactly ``path``, atomically. Raises TypeError for unsupported values."""
    path = os.fspath(path)
    blobs: list[bytes] = []
    tree = _encode(state, blobs, [0], "state")
    header = json.dumps({"tree": tree}, separators=(",", ":")).encode("utf-8")
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + b"".join(blobs)
    atomic_write(path, [body, hashlib.sha256(body).digest()])


def _create_temp(path: str) -> tuple[int, str]:
    """A new file beside ``path``, opened for writing with mode 0o666 less the umask
    (the kernel applies it: no os.umask call, which would race with other threads)."""
    folder, base = os.path.split(os.path.abspath(path))
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"atomic_write: no free temporary name beside {path}")


def atomic_write(path: str | os.PathLike, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to exactly ``path``: a temporary sibling is written, fsynced and
    renamed over ``path``, so a crash at any moment leaves the old file or the new
    one, never a mix; the temporary file is removed on any error."""
    path = os.fspath(path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable; not every platform allows it
        dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(text: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (strings skipped), found
    without recursion, so a hostile header cannot exhaust the stack."""
    bare = np.frombuffer(_STRING.sub(b"", text), dtype=np.uint8)
    steps = (np.isin(bare, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(bare, (ord("]"), ord("}"))))
    return int(np.cumsum(steps).max(initial=0))


def loads_json(text: bytes, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads with a nesting limit; ValueError naming ``what`` when the text is
    not UTF-8 JSON or nests deeper than ``max_depth`` (never RecursionError)."""
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"{what} nests {depth} levels deep, more than the "
                         f"{max_depth} allowed; the file is corrupted or hostile")
    try:
        return json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what} is unreadable ({exc})") from None


def _decode(node: Any, payload: memoryview, path: str) -> Any:
    kind = node.get("t") if isinstance(node, dict) else None
    if kind in ("array", "tensor", "scalar"):
        dtype = np.dtype(node["dtype"])
        start, nbytes = int(node["offset"]), int(node["nbytes"])
        if dtype.kind not in "biufc" or start < 0 or start + nbytes > len(payload):
            raise ValueError(f"mg.load: {path} is corrupted (an array lies outside the "
                             f"payload or has dtype {dtype})")
        arr = np.frombuffer(payload[start:start + nbytes], dtype=dtype).copy()
        arr = arr.reshape(node["shape"])
        if kind == "scalar":
            return arr[()]
        if kind == "tensor":
            return Tensor(arr, dtype=arr.dtype, requires_grad=node.get("requires_grad",
                                                                        False))
        return arr
    if kind == "dict":
        return {k: _decode(v, payload, path) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, payload, path) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "json":
        return node["v"]
    raise ValueError(f"mg.load: {path} is corrupted (unknown entry {str(node)[:60]})")


def load(path: str | os.PathLike) -> Any:
    """Read what save wrote. Raises ValueError naming the file when it is not a
    minigrad file, was written by a newer format, or is truncated or corrupted
    (checksum mismatch); FileNotFoundError when it does not exist."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _PREFIX.size or data[:8] != MAGIC:
        raise ValueError(f"mg.load: {path} is not a minigrad state file (it does not "
                         f"start with {MAGIC!r}); was it written by mg.save?")
    _, version, hlen = _PREFIX.unpack_from(data)
    if version > FORMAT_VERSION:
        raise ValueError(f"mg.load: {path} has format version {version}, this minigrad "
                         f"reads up to {FORMAT_VERSION}; upgrade minigrad")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if (len(data) < _PREFIX.size + hlen + _DIGEST
            or hashlib.sha256(body).digest() != digest):
        raise ValueError(f"mg.load: {path} is truncated or corrupted (size "
                         f"{len(data)} bytes, checksum mismatch)")
    header = loads_json(bytes(body[_PREFIX.size:_PREFIX.size + hlen]),
                        f"mg.load: the header of {path}")
    payload = memoryview(body)[_PREFIX.size + hlen:]
    try:  # a checksummed file from another writer may still be malformed
        return _decode(header["tree"], payload, path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("mg.load:"):
            raise
        raise ValueError(f"mg.load: {path} is corrupted (malformed header: "
                         f"{type(exc).__name__}: {exc})") from None
