"""The glibc allocator tuning done at import (minigrad/_malloc.py)."""
import os
import platform
import subprocess
import sys

import pytest

from minigrad import _malloc

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")


def _run(code: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@glibc
def test_tune_malloc_on_by_default_and_idempotent():
    assert _malloc.malloc_tuned() or os.environ.get("MINIGRAD_MALLOC_TUNING") == "0"
    assert _run("import minigrad._malloc as m, minigrad; print(m.malloc_tuned(), "
                "m.tune_malloc())") == "True True"


@glibc
def test_tune_malloc_opt_out_with_env():
    code = "import minigrad._malloc as m, minigrad; print(m.malloc_tuned(), m.tune_malloc())"
    assert _run(code, MINIGRAD_MALLOC_TUNING="0") == "False False"


@glibc
def test_tuned_allocator_reuses_freed_activation_buffers():
    # Rounds of the CNN's activation-sized arrays (12.8, 6.4 and 14 MB): untuned glibc
    # maps and unmaps them, faulting every page in again each round; tuned, the freed
    # blocks are reused.
    code = ("import resource, numpy as np, minigrad\n"
            "x = np.ones((128, 32, 28, 28), np.float32)\n"
            "def round():\n"
            "    y = np.maximum(x, 0); g = y * 2\n"
            "    c = np.ones((128, 64, 14, 14), np.float32)\n"
            "    d = np.ones((128, 3136 * 9), np.float32)\n"
            "for i in range(3): round()\n"
            "f0 = resource.getrusage(0).ru_minflt\n"
            "for i in range(20): round()\n"
            "print(resource.getrusage(0).ru_minflt - f0)")
    tuned, untuned = int(_run(code)), int(_run(code, MINIGRAD_MALLOC_TUNING="0"))
    assert tuned * 10 < untuned, (tuned, untuned)
