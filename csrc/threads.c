/* Thread count of the OpenMP kernels, the per-thread workspaces (see mg_internal.h)
   and the build description shown by `doctor`. */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */
#include <stdint.h>
#include <pthread.h>
#include <sys/mman.h>
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

/* One set of buffers per thread, found through a __thread pointer (no lookup on the
   hot path) and registered under a pthread key whose destructor unmaps them when the
   thread exits: a short-lived Python thread, or an OpenMP worker of its pool, gives its
   buffers back instead of leaking them. OpenMP's own pool lives as long as the process,
   so in steady state this is the grow-once reuse we want.
   The buffers are mmap'ed, not malloc'ed: they are large and grow rarely, and a
   mapping is returned to the OS the moment it is released, whatever the allocator's
   thresholds (a freed malloc block inside a thread's arena may stay resident). */
typedef struct { void *ptr; size_t size; } mg_buffer;
typedef struct { mg_buffer slot[MG_WS_SLOTS]; } mg_thread_ws;

static __thread mg_thread_ws *tls_ws = NULL;
static pthread_key_t ws_key;
static pthread_once_t ws_key_once = PTHREAD_ONCE_INIT;
static int ws_key_ok = 0;

static void ws_unmap(mg_thread_ws *ws) {
    for (int i = 0; i < MG_WS_SLOTS; i++) {
        if (ws->slot[i].ptr != NULL) munmap(ws->slot[i].ptr, ws->slot[i].size);
        ws->slot[i].ptr = NULL;
        ws->slot[i].size = 0;
    }
}

/* Thread exit: runs in the exiting thread, after its last kernel. */
static void ws_destroy(void *p) {
    ws_unmap(p);
    free(p);
    tls_ws = NULL;
}

static void ws_key_create(void) {
    ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

/* The calling thread's set, created (and registered for release) on first use. */
static mg_thread_ws *ws_this_thread(void) {
    if (tls_ws != NULL) return tls_ws;
    pthread_once(&ws_key_once, ws_key_create);
    mg_thread_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL || !ws_key_ok || pthread_setspecific(ws_key, ws) != 0) {
        free(ws);   /* without the key the buffers could never be freed: refuse */
        return NULL;
    }
    return tls_ws = ws;
}

void *mg_workspace(int slot, size_t bytes) {
    mg_thread_ws *ws = ws_this_thread();
    if (ws == NULL) return NULL;
    mg_buffer *b = &ws->slot[slot];
    if (b->size >= bytes) return b->ptr;
    /* Grow by a quarter more than asked so a slowly growing sequence of shapes does
       not remap at every call (bytes < 2**63, checked by the callers: no overflow). */
    size_t size = (bytes + bytes / 4 + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (b->ptr != NULL) munmap(b->ptr, b->size);
    b->ptr = p;
    b->size = size;
    return p;
}

void mg_release_workspaces(void) {
    /* The caller's own buffers, then each worker's of the caller's OpenMP pool, each
       released by the thread that owns it (no other thread can be using them). */
    if (tls_ws != NULL) ws_unmap(tls_ws);
#pragma omp parallel num_threads(mg_threads_setting())
    {
        if (tls_ws != NULL) ws_unmap(tls_ws);
    }
}

int mg_warmup(void) {
    int err = 0;
    size_t bytes_a, bytes_b;
    mg_gemm_pack_bytes(&bytes_a, &bytes_b);
    /* Starts the OpenMP pool and reserves every thread's packing buffers once, so the
       first products of a fresh process do not pay thread creation and page faults
       (about 2 us per 4 KB page here) inside the timed call. */
#pragma omp parallel num_threads(mg_threads_setting()) reduction(| : err)
    {
        char *a = mg_workspace(MG_WS_PACK_A, bytes_a);
        char *b = mg_workspace(MG_WS_PACK_B, bytes_b);
        if (a == NULL || b == NULL) {
            err |= 1;
        } else {
            memset(a, 0, bytes_a);
            memset(b, 0, bytes_b);
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
