"""IDX reading and writing: round trips for every IDX dtype, gzip or raw, and corrupt files."""
import gzip
import tracemalloc
import zlib

import numpy as np
import pytest

from minigrad.data import read_idx, write_idx
from minigrad.data.idx import idx_bytes

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype, shape=(3, 5, 7)):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_read_idx_round_trip(tmp_path, dtype, compress):
    a = _sample(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable


def test_read_idx_header_is_big_endian(tmp_path):
    raw = idx_bytes(np.array([1, 256], dtype=np.int32))
    assert raw[:4] == bytes([0, 0, 0x0C, 1])
    assert raw[4:8] == (2).to_bytes(4, "big")
    assert raw[8:] == (1).to_bytes(4, "big") + (256).to_bytes(4, "big")


def test_read_idx_detects_gzip_by_magic_not_name(tmp_path):
    a = _sample(np.uint8, (4, 28, 28))
    gz_no_ext = tmp_path / "images"
    write_idx(gz_no_ext, a, compress=True)
    raw_with_gz = tmp_path / "images-raw.gz"
    write_idx(raw_with_gz, a, compress=False)
    np.testing.assert_array_equal(read_idx(gz_no_ext), a)
    np.testing.assert_array_equal(read_idx(raw_with_gz), a)


def test_read_idx_multi_member_gzip(tmp_path):
    raw = idx_bytes(_sample(np.int16, (6, 4)))
    path = tmp_path / "two-members.gz"
    path.write_bytes(gzip.compress(raw[:10]) + gzip.compress(raw[10:]))
    np.testing.assert_array_equal(read_idx(path), _sample(np.int16, (6, 4)))


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_truncated_data(tmp_path, compress):
    raw = idx_bytes(_sample(np.uint8, (10, 28, 28)))[:-100]
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(ValueError, match=r"cut: truncated: header declares shape "
                                         r"\(10, 28, 28\) of uint8 = 7840 data bytes, "
                                         r"the file has 7740"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="long.idx: trailing bytes"):
        read_idx(path)


def test_read_idx_truncated_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(_sample(np.uint8, (50, 28, 28))))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.gz: truncated gzip stream"):
        read_idx(path)


def test_read_idx_corrupt_gzip_stream(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(_sample(np.uint8, (50, 28, 28)))))
    data[20:40] = b"\xff" * 20
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"bad.gz: (corrupt|truncated) gzip stream"):
        read_idx(path)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "notidx.bin"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match=r"notidx.bin: bad magic number 50 4b 03 04.*"
                                         r"not an IDX file"):
        read_idx(path)


def test_read_idx_unknown_type(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(bytes([0, 0, 0x0A, 1]) + (1).to_bytes(4, "big") + b"\x00")
    with pytest.raises(ValueError, match=r"t.idx: unknown IDX data type 0x0A"):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "h.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big"))
    with pytest.raises(ValueError, match=r"h.idx: truncated header: 3 dimensions need 16"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"h.idx: 2 bytes is too short"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_write_idx_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="write_idx: IDX stores .* got int64"):
        write_idx(tmp_path / "x", np.arange(3))
    with pytest.raises(ValueError, match=r"write_idx: IDX needs 1 to 255 dimensions, "
                                         r"got shape \(\)"):
        write_idx(tmp_path / "x", np.float32(1.0))
    assert not any(tmp_path.iterdir())   # nothing half-written


def test_write_idx_big_endian_input(tmp_path):
    a = np.arange(5, dtype=">f8")
    write_idx(tmp_path / "be.idx", a)
    b = read_idx(tmp_path / "be.idx")
    assert b.dtype == np.float64 and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_read_idx_huge_declared_shape_is_truncation_not_overflow(tmp_path):
    path = tmp_path / "huge.idx"
    dims = b"".join((0xFFFFFFFF).to_bytes(4, "big") for _ in range(3))
    path.write_bytes(bytes([0, 0, 0x0E, 3]) + dims + bytes(8))
    with pytest.raises(ValueError, match=r"huge.idx: truncated: header declares shape "
                                         r"\(4294967295, 4294967295, 4294967295\) of float64"):
        read_idx(path)


def test_read_idx_zero_dimensions(tmp_path):
    path = tmp_path / "z.idx"
    path.write_bytes(bytes([0, 0, 0x08, 0]))
    with pytest.raises(ValueError, match=r"z.idx: header declares 0 dimensions"):
        read_idx(path)


# ---- decompression is capped at what the header declares ----------------------------------

def _bomb(path, header, zeros=100 << 20):
    """A gzip file: ``header`` then ``zeros`` zero bytes, compressed in 1 MB steps (so
    the test itself never holds them): 100 MB become ~100 KB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(c.compress(header))
        block = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(c.compress(block))
        f.write(c.flush())


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_read_idx_gzip_bomb_stops_at_the_declared_size(tmp_path):
    path = tmp_path / "bomb.gz"
    _bomb(path, idx_bytes(np.arange(10, dtype=np.uint8)))
    assert path.stat().st_size < 110_000

    def read():
        with pytest.raises(ValueError, match=r"bomb.gz: trailing bytes: header declares "
                                             r"shape \(10,\) .*reading stopped there"):
            read_idx(path)
    peak = _peak(read)
    assert peak < 3 << 20, f"peak {peak / 2**20:.1f} MB while refusing a 100 MB bomb"


def test_read_idx_gzip_header_declaring_more_than_it_can_hold(tmp_path):
    """A small gzip whose header declares 4 GB is refused before any allocation."""
    path = tmp_path / "claims.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 2]) + (65536).to_bytes(4, "big") * 2
                                   + bytes(100)))
    peak = _peak(lambda: pytest.raises(ValueError, read_idx, path).match(
        r"claims.gz: corrupt gzip stream or decompression bomb: header declares shape "
        r"\(65536, 65536\)"))
    assert peak < 3 << 20


def test_read_idx_peak_memory_is_about_the_array(tmp_path):
    """Streaming into the final buffer: no second copy of the content (uint8 data)."""
    a = np.random.default_rng(0).integers(0, 256, (20000, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    out = []
    peak = _peak(lambda: out.append(read_idx(tmp_path / "a.gz")))
    np.testing.assert_array_equal(out[0], a)
    # a few 1 MB input/output chunks on top of the array; the old reader held the gzip
    # bytes, the whole decompressed content and then the array (~2.5x)
    assert peak < a.nbytes + (6 << 20), f"peak {peak} for a {a.nbytes}-byte array"
