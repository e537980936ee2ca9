/* Thread count of the kernels, the per-thread workspaces (see mg_internal.h) and the
   build description shown by `doctor`. The pool that runs the threads is workers.c. */
#define _GNU_SOURCE       /* MAP_ANONYMOUS, sched_getaffinity */
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <stdlib.h>
#include <string.h>

#ifndef MG_BUILD_FLAGS
#define MG_BUILD_FLAGS "unknown"
#endif

/* 0 until the first call below fixes the default: OMP_NUM_THREADS when it is a
   positive integer (the documented default, as get_num_threads reads it in Python),
   else the cores this process may run on. Only read, never set: other libraries keep
   their own counts. A race between two first calls writes the same value twice. */
static int mg_nthreads = 0;

static int default_threads(void) {
    const char *env = getenv("OMP_NUM_THREADS");
    if (env != NULL && *env != '\0') {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0) return v < MG_POOL_MAX ? (int)v : MG_POOL_MAX;
    }
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) < MG_POOL_MAX ? CPU_COUNT(&set) : MG_POOL_MAX;
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n < MG_POOL_MAX ? (int)n : MG_POOL_MAX;
}

static int mg_threads_setting(void) {
    int n = __atomic_load_n(&mg_nthreads, __ATOMIC_RELAXED);
    if (n <= 0) {
        n = default_threads();
        __atomic_store_n(&mg_nthreads, n, __ATOMIC_RELAXED);
    }
    return n;
}

/* One set of buffers per thread, found through a __thread pointer (no lookup on the
   hot path) and registered under a pthread key whose destructor unmaps them when the
   thread exits: a short-lived Python thread gives its buffers back instead of leaking
   them. The pool's workers live as long as the process, so in steady state this is
   the grow-once reuse we want.
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

static void ws_release_this_thread(void) {
    if (tls_ws != NULL) ws_unmap(tls_ws);
}

void mg_release_workspaces(void) {
    /* Each buffer released by the thread that owns it (no other can be using it). */
    mg_on_every_thread(ws_release_this_thread);
}

int mg_reserve_gemm_workspaces(void) {
    size_t bytes_a, bytes_b;
    mg_gemm_pack_bytes(&bytes_a, &bytes_b);
    char *a = mg_workspace(MG_WS_PACK_A, bytes_a);
    char *b = mg_workspace(MG_WS_PACK_B, bytes_b);
    if (a == NULL || b == NULL) return MG_ENOMEM;
    memset(a, 0, bytes_a);
    memset(b, 0, bytes_b);
    return 0;
}

/* The caller's buffers only: importing the backend starts no thread. Each worker
   reserves its own when the pool starts it (workers.c). */
int mg_warmup(void) {
    return mg_reserve_gemm_workspaces();
}

int mg_threads_avail(void) {
    return mg_in_parallel() ? 1 : mg_threads_setting();
}

int mg_num_threads(void) {
    return mg_threads_setting();
}

void mg_set_num_threads(int n) {
    if (n > 0) __atomic_store_n(&mg_nthreads, n < MG_POOL_MAX ? n : MG_POOL_MAX,
                                __ATOMIC_RELAXED);
}

const char *mg_build_info(void) {
    return "flags: " MG_BUILD_FLAGS
#if defined(__AVX512F__)
           "; simd: avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
           "; simd: avx2+fma"
#else
           "; simd: none (portable C micro-kernels)"
#endif
#ifdef __linux__
           "; threads: own pool (idle workers spin " MG_STR(MG_POOL_SPIN_US) " us, yield "
           "their core up to " MG_STR(MG_POOL_YIELD_US) " us, then sleep on a futex)"
#else
           "; threads: none (the pool needs Linux futexes)"
#endif
        ;
}
