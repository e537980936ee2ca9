/* Thread count of the OpenMP kernels, the per-thread workspaces (see mg_internal.h)
   and the build description shown by `doctor`. */
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef MG_BUILD_FLAGS
#define MG_BUILD_FLAGS "unknown"
#endif

/* Our own thread count, not OpenMP's nthreads-var: other OpenMP users in the process
   reset that ICV behind our back (Numba's "omp" threading layer sets it to
   NUMBA_NUM_THREADS when it starts its pool), which made "1 thread" silently run on
   every core. 0 until the first call below fixes it from OpenMP's default
   (OMP_NUM_THREADS, else the cores), read at import before anyone else changed it. */
static int mg_nthreads = 0;

static int mg_threads_setting(void) {
#ifdef _OPENMP
    if (mg_nthreads <= 0) mg_nthreads = omp_get_max_threads();
    return mg_nthreads;
#else
    return 1;
#endif
}

/* One set of buffers per thread. They live as long as the thread: OpenMP workers are
   pooled for the life of the process, so this is the grow-once reuse we want. */
static __thread struct { void *ptr; size_t size; } ws[MG_WS_SLOTS];

void *mg_workspace(int slot, size_t bytes) {
    if (ws[slot].size >= bytes) return ws[slot].ptr;
    /* Grow by a quarter more than asked so a slowly growing sequence of shapes does
       not reallocate at every call. */
    size_t size = (bytes + bytes / 4 + 4095) & ~(size_t)4095;
    void *p = NULL;
    if (posix_memalign(&p, 64, size) != 0) return NULL;
    free(ws[slot].ptr);
    ws[slot].ptr = p;
    ws[slot].size = size;
    return p;
}

int mg_warmup(long bytes_a, long bytes_b) {
    int err = 0;
    if (bytes_a < 0 || bytes_b < 0) return MG_EINVAL;
    /* Starts the OpenMP pool and reserves every thread's packing buffers once, so the
       first products of a fresh process do not pay thread creation and page faults
       (about 2 us per 4 KB page here) inside the timed call. */
#pragma omp parallel num_threads(mg_threads_setting()) reduction(| : err)
    {
        char *a = mg_workspace(MG_WS_PACK_A, (size_t)bytes_a);
        char *b = mg_workspace(MG_WS_PACK_B, (size_t)bytes_b);
        if (a == NULL || b == NULL) {
            err |= 1;
        } else {
            memset(a, 0, (size_t)bytes_a);
            memset(b, 0, (size_t)bytes_b);
        }
    }
    return err ? MG_ENOMEM : 0;
}

int mg_threads_avail(void) {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : mg_threads_setting();
#else
    return 1;
#endif
}

int mg_num_threads(void) {
    return mg_threads_setting();
}

void mg_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) mg_nthreads = n;
#else
    (void)n;
#endif
}

const char *mg_build_info(void) {
    return "flags: " MG_BUILD_FLAGS
#if defined(__AVX2__) && defined(__FMA__)
           "; simd: avx2+fma"
#else
           "; simd: none (portable C micro-kernels)"
#endif
#ifdef _OPENMP
           "; openmp: yes"
#else
           "; openmp: no"
#endif
        ;
}
