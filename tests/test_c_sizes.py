"""The C kernels reject sizes whose products overflow (csrc/mg_internal.h mg_product)
on their own, before any allocation or write, when called straight through cffi with
the Python checks bypassed. Each call runs in a child process, so a crash is a failure
and not a dead test run."""
import os
import subprocess
import sys

import pytest

import minigrad as mg

pytestmark = pytest.mark.skipif("c" not in mg.backend.available(), reason="no C backend")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIG, HUGE = 2**31, 2**62
# Each call gets 8-element buffers: a size check that let it through would write past
# them (and usually crash the child).
CALLS = {
    "conv2d repro": "mg_conv2d_forward_f32(p, p, NULL, p, 1, 1, 2, 2, 1, 1, 1, "
                    f"{2**32}, {2**32}, {2**31 - 1}, {2**31 - 1})",
    "conv2d padding sum": f"mg_conv2d_forward_f64(d, d, NULL, d, 1, 1, 2, 2, 1, 1, 1, 1, 1, "
                          f"{HUGE}, 0)",
    "conv2d batch": f"mg_conv2d_forward_f32(p, p, NULL, p, {HUGE}, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0)",
    "conv2d im2col": f"mg_conv2d_backward_f32(p, p, p, p, p, p, 1, {BIG}, {BIG}, 2, 1, 1, 1, "
                     "1, 1, 0, 0)",
    "gemm ldc": f"mg_gemm_f32(0, 0, {HUGE}, 2, 1, 1.0, p, 1, p, 2, 0.0, p, {HUGE})",
    "gemm lda": f"mg_gemm_f64(0, 0, {BIG}, 1, 1, 1.0, d, {2**33}, d, 1, 0.0, d, 1)",
    "gemm batch": f"mg_gemm_batch_f32(0, 0, {HUGE}, 1, 1, 1, 1.0, p, 1, {HUGE}, p, 1, 1, 0.0, "
                  "p, 1, 1)",
    "maxpool": f"mg_maxpool2d_forward_f32(p, p, q, {BIG}, {BIG}, {BIG}, 2, 1, 1, 1, 1)",
    "maxpool backward": f"mg_maxpool2d_backward_f64(d, q, d, 1, {HUGE}, 4, 4, 1, 1)",
    "avgpool": f"mg_avgpool2d_backward_f32(p, p, {HUGE}, 2, 2, 2, 1, 1, 1, 1)",
    "batchnorm": f"mg_batchnorm_forward_f32(p, p, p, p, p, 1, 0.1, 1e-5, p, p, p, {BIG}, 1, "
                 f"{BIG})",
    "batchnorm channels": f"mg_batchnorm_backward_f64(d, d, d, d, d, 1, d, d, d, 2, {HUGE}, 1)",
    "bias_relu": f"mg_bias_relu_forward_f32(p, p, {BIG}, {BIG}, {BIG})",
    "bias_relu negative": "mg_bias_relu_backward_f64(d, d, d, d, -1, 2, 2)",
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_c_kernel_rejects_overflowing_sizes(name):
    code = ("from minigrad._C import ffi, lib\n"
            "NULL = ffi.NULL\n"
            "p, d, q = ffi.new('float[8]'), ffi.new('double[8]'), ffi.new('int64_t[8]')\n"
            f"print(lib.{CALLS[name]})\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"{name}: child died ({proc.returncode}) {proc.stderr}"
    assert proc.stdout.strip() == "-1", f"{name}: returned {proc.stdout.strip()}"
