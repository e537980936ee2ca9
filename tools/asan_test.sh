#!/usr/bin/env bash
# Builds minigrad._C with AddressSanitizer + UndefinedBehaviorSanitizer in a separate
# copy of the committed tree (never in the working checkout, whose extension the other
# tests and benchmarks use) and runs the kernel tests and the kernel fuzz suite on the
# C backend under it. Any sanitizer report fails the run (halt_on_error).
#
#   tools/asan_test.sh [pytest args...]      e.g. tools/asan_test.sh -x -q
#
# Env: MG_ASAN_DIR (default /tmp/mg-asan), PYTHON (default the repo's .venv python),
#      MINIGRAD_FUZZ_EXAMPLES (default 60).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${MG_ASAN_DIR:-/tmp/mg-asan}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
CC="${CC:-gcc}"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1 -g"

# 1. A clean copy of HEAD (git archive: no worktree metadata, no uncommitted edits),
#    plus the test files this script runs as they are in the working tree.
rm -rf "$DEST"
mkdir -p "$DEST"
git -C "$REPO" archive HEAD | tar -x -C "$DEST"
for f in tests/test_kernels.py tests/test_fuzz_kernels.py tests/_huge_cases.py \
         tests/test_c_sizes.py tests/conftest.py tests/helpers.py; do
  [ -f "$REPO/$f" ] && cp "$REPO/$f" "$DEST/$f"
done

# 2. Build the extension in the copy. The sanitizer flags are appended to the build
#    script's own flags (so -O1 overrides its -O3: the last -O wins); OpenMP stays on
#    so the threaded paths are checked too.
cd "$DEST"
CC="$CC" MG_SAN="$SAN" "$PY" - <<'PYEOF'
import os, runpy, sys
sys.path.insert(0, "csrc")
ns = runpy.run_path("csrc/build_ffi.py")
ffi = ns["ffibuilder"]
name, src, ext, kwds = ffi._assigned_source
san = os.environ["MG_SAN"].split()
kwds["extra_compile_args"] = list(kwds.get("extra_compile_args", [])) + san
kwds["extra_link_args"] = list(kwds.get("extra_link_args", [])) + san
ffi._assigned_source = (name, src, ext, kwds)
print("asan build flags:", " ".join(kwds["extra_compile_args"]), file=sys.stderr)
ffi.compile(tmpdir=".", verbose=False)
PYEOF
ls minigrad/_C*.so

# 3. Run under the sanitizer runtime. Python's allocator is not instrumented and the
#    interpreter "leaks" by design, so leak detection is off; the first error aborts.
LIBASAN="$("$CC" -print-file-name=libasan.so)"
LIBUBSAN="$("$CC" -print-file-name=libubsan.so)"
export LD_PRELOAD="$LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
# Reports go to files as well: pytest captures stderr, and a sanitizer that halts the
# process takes the captured text with it.
REPORT="$DEST/sanitizer-report"
rm -f "$REPORT".*
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:print_summary=1:log_path=$REPORT"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORT"
export MINIGRAD_BACKEND=c
export MINIGRAD_FUZZ_EXAMPLES="${MINIGRAD_FUZZ_EXAMPLES:-60}"
export MINIGRAD_FUZZ_BACKENDS=c
export PYTHONPATH="$DEST"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
: "$LIBUBSAN"  # libubsan is linked into the extension; only libasan must come first

"$PY" -c "import minigrad, minigrad.backend as b; b.set_backend('c'); print('C backend from', minigrad.__file__)"
status=0
"$PY" -m pytest -p no:cacheprovider -k "not numba" \
  tests/test_kernels.py tests/test_fuzz_kernels.py tests/test_c_sizes.py "$@" || status=$?
# allocator_may_return_null=1 answers an impossible allocation (the huge-size fuzz
# cases that only a reference backend attempts) with NULL and this warning: a
# MemoryError in Python, not a finding.
NOT_A_FINDING="WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes"
if ls "$REPORT".* >/dev/null 2>&1; then
  if grep -qvE "$NOT_A_FINDING" "$REPORT".*; then
    echo "asan_test: sanitizer findings (pytest exit $status):"
    cat "$REPORT".*
    exit 1
  fi
  echo "asan_test: $(cat "$REPORT".* | wc -l) refused huge allocation(s), no finding"
fi
[ "$status" -eq 0 ] && echo "asan_test: no AddressSanitizer/UBSan finding"
exit "$status"
