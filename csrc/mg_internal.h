/* Internal helpers shared by the kernel files (not part of the cffi interface).

   Workspaces: every thread owns a few grow-only, 64-byte aligned buffers, one per
   slot. A kernel asks for the bytes it needs; the buffer is reallocated only when it
   must grow, so in steady state no kernel call allocates or page-faults. The buffers
   are thread-local (OpenMP workers and Python threads each get their own), which makes
   concurrent calls from several Python threads safe (cffi releases the GIL). */
#ifndef MG_INTERNAL_H
#define MG_INTERNAL_H
#include <stddef.h>

#define MG_EINVAL (-1)
#define MG_ENOMEM (-2)

enum {
    MG_WS_PACK_A, MG_WS_PACK_B, MG_WS_COLS, MG_WS_PAD, MG_WS_PARTIAL, MG_WS_TILE,
    MG_WS_OFFSETS, MG_WS_WEIGHTS, MG_WS_SLOTS
};

/* The calling thread's buffer of `slot`, at least `bytes` long, or NULL when out of
   memory. The contents are undefined (kept from earlier calls). */
void *mg_workspace(int slot, size_t bytes);

/* Threads an OpenMP kernel may use right now: 1 inside a parallel region (no nested
   teams), else the count set by mg_set_num_threads. */
int mg_threads_avail(void);

/* GEMM on one thread (the caller may already be an OpenMP worker), and the threaded
   one; same contract as mg_gemm_f32/_f64 in gemm.c, arguments already validated.
   They return 0 or MG_ENOMEM when a packing workspace cannot be allocated. */
int mg_gemm_serial_f32(int ta, int tb, long m, long n, long k, float alpha,
                        const float *a, long lda, const float *b, long ldb, float beta,
                        float *c, long ldc);
int mg_gemm_serial_f64(int ta, int tb, long m, long n, long k, double alpha,
                        const double *a, long lda, const double *b, long ldb,
                        double beta, double *c, long ldc);
int mg_gemm_threaded_f32(int nt, int ta, int tb, long m, long n, long k, float alpha,
                          const float *a, long lda, const float *b, long ldb,
                          float beta, float *c, long ldc);
int mg_gemm_threaded_f64(int nt, int ta, int tb, long m, long n, long k, double alpha,
                          const double *a, long lda, const double *b, long ldb,
                          double beta, double *c, long ldc);

/* C = beta * C + A @ B on one thread, with A row-major (m x k, lda) and B implicit in an
   image: B(p, j) = src[koff[p] + j] (tb = 0) or src[koff[j] + p] (tb = 1). The im2col
   matrix of a stride-1 convolution, read from the zero-padded image while packing;
   src must be readable up to the largest offset + round_up(n or k, 16). */
int mg_gemm_implicit_b_f32(int tb, long m, long n, long k, const float *a, long lda,
                           const float *src, const long *koff, float beta, float *c,
                           long ldc);
int mg_gemm_implicit_b_f64(int tb, long m, long n, long k, const double *a, long lda,
                           const double *src, const long *koff, double beta, double *c,
                           long ldc);

/* GCC turns short copy loops into calls to memmove; for runs of 14-16 floats the call
   costs more than the copy, so the packing and im2col loops stay inline. */
#if defined(__GNUC__) && !defined(__clang__)
#define MG_NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define MG_NO_MEMCPY_CALLS
#endif
#endif
