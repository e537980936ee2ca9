"""cffi build script (API mode): cdef from minigrad_api.h, sources from csrc/.

Compiler flags are probed, not assumed: -O3 always, -march=native when the compiler
accepts it (AVX-512 or AVX2/FMA on CPUs that have them; the C code keeps a portable
path under #ifdef), and -fopenmp-simd when accepted (the `omp simd` loop hints only:
threads come from minigrad's own pool, workers.c, not from an OpenMP runtime).

Environment switches (for testing the fallbacks on a machine that has the faster path):
  MINIGRAD_NO_NATIVE=1   no -march=native: the portable C micro-kernels
  MINIGRAD_NO_AVX512=1   -march=native -mno-avx512f: the AVX2/FMA kernels on an AVX-512 CPU
"""
import os
import subprocess
import sys
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["threads.c", "workers.c", "gemm.c", "conv2d.c", "winograd.c", "pool.c",
           "batchnorm.c", "bias_act.c", "adam.c"]


def _compiles(flags: list[str], code: str = "int main(void){return 0;}\n") -> bool:
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        cmd = [cc, src, "-o", os.path.join(tmp, "probe")] + flags
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def _flags() -> tuple[list[str], list[str]]:
    # -std=c99 alone turns off contraction of a * b + c into FMA (ISO mode), which
    # halves the throughput of every loop GCC vectorizes (the direct conv kernels,
    # bias and batch-norm passes); the intrinsic GEMM kernels use FMA regardless.
    # -fno-math-errno: no kernel reads errno, and with it GCC cannot vectorise sqrt
    # (adam.c's update).
    compile_args = ["-O3", "-std=c99", "-ffp-contract=fast", "-fno-strict-aliasing",
                    "-fno-math-errno"]
    link_args: list[str] = []
    if os.environ.get("MINIGRAD_NO_NATIVE") != "1" and _compiles(["-march=native"]):
        compile_args.append("-march=native")
        if os.environ.get("MINIGRAD_NO_AVX512") == "1" and _compiles(
                ["-march=native", "-mno-avx512f"]):
            compile_args.append("-mno-avx512f")
    if _compiles(["-fopenmp-simd"]):
        compile_args.append("-fopenmp-simd")
    compile_args.append("-pthread")
    link_args.append("-pthread")
    return compile_args, link_args


compile_args, link_args = _flags()
flags_text = " ".join(compile_args).replace('"', "")
print(f"minigrad._C: compiling with {flags_text}", file=sys.stderr)

ffibuilder = FFI()
with open(os.path.join(HERE, "minigrad_api.h")) as f:
    ffibuilder.cdef(f.read())
ffibuilder.set_source(
    "minigrad._C",
    '#include <stdint.h>\n#include "minigrad_api.h"\n',
    sources=[os.path.join("csrc", s) for s in SOURCES],
    include_dirs=[HERE],
    define_macros=[("MG_BUILD_FLAGS", f'"{flags_text}"')],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
