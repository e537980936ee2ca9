/* Internal helpers shared by the kernel files (not part of the cffi interface).

   Workspaces: every thread owns a few grow-only, page-aligned buffers, one per slot. A
   kernel asks for the bytes it needs; the buffer is remapped only when it must grow,
   so in steady state no kernel call allocates or page-faults. The buffers are
   thread-local (pool workers and Python threads each get their own), which makes
   concurrent calls from several Python threads safe (cffi releases the GIL). They are
   unmapped when their thread exits, or on demand by mg_release_workspaces
   (threads.c). */
#ifndef MG_INTERNAL_H
#define MG_INTERNAL_H
#include <stddef.h>

#define MG_EINVAL (-1)
#define MG_ENOMEM (-2)

/* Every size a kernel derives (a padded image, an im2col matrix, an output, a byte
   count) is formed here, so a product that does not fit in a long is an error
   (MG_EINVAL) before anything is allocated or written, never a wrapped index.
   *out = f[0] * ... * f[n-1]; MG_EINVAL when a factor is negative or the product
   overflows. MG_PRODUCT(&out, a, b, c) passes its arguments as the list. */
static inline int mg_product(long *out, int n, const long *f) {
    long p = 1;
    for (int i = 0; i < n; i++)
        if (f[i] < 0 || __builtin_mul_overflow(p, f[i], &p)) return MG_EINVAL;
    *out = p;
    return 0;
}
#define MG_PRODUCT(out, ...) \
    mg_product((out), (int)(sizeof((long[]){__VA_ARGS__}) / sizeof(long)), \
               (long[]){__VA_ARGS__})

/* *out = a + b, or MG_EINVAL when either is negative or the sum overflows. */
static inline int mg_sum(long *out, long a, long b) {
    return a < 0 || b < 0 || __builtin_add_overflow(a, b, out) ? MG_EINVAL : 0;
}

enum {
    MG_WS_PACK_A, MG_WS_PACK_B, MG_WS_COLS, MG_WS_PAD, MG_WS_PARTIAL, MG_WS_TILE,
    MG_WS_OFFSETS, MG_WS_WEIGHTS, MG_WS_SLOTS
};

/* The calling thread's buffer of `slot`, at least `bytes` long, or NULL when out of
   memory. The contents are undefined (kept from earlier calls). */
void *mg_workspace(int slot, size_t bytes);

/* Threads a kernel may use right now: 1 inside a part of a parallel job (no nested
   jobs), else the count set by mg_set_num_threads (threads.c). */
int mg_threads_avail(void);

/* The kernels' thread pool (workers.c). mg_parallel runs fn(ctx, tid, nt) once for
   each tid 0 .. nt-1, each on whichever thread claims it first (the caller or a
   worker), and returns the OR of the results. So a part must not depend on the thread
   that runs it (beyond its own workspaces) nor wait for another part: when the pool is
   busy (another thread's job) or the call is nested, all of them run on the calling
   thread in tid order. mg_parallel_for splits [0, n) statically into min(nt, n)
   contiguous ranges (the first n % nt one longer) and runs body(ctx, lo, hi) on each.
   mg_on_every_thread runs fn once on the caller and once on each started worker
   (releasing their workspaces). */
#define MG_POOL_MAX 1024   /* threads: larger counts are capped */
#ifndef MG_POOL_SPIN_US    /* an idle worker polls with pause this long (workers.c), */
#define MG_POOL_SPIN_US 40
#endif
#ifndef MG_POOL_YIELD_US   /* then yielding its core this long, then sleeps */
#define MG_POOL_YIELD_US 2000
#endif
#define MG_STR_(x) #x
#define MG_STR(x) MG_STR_(x)
typedef int (*mg_task_fn)(void *ctx, int tid, int nt);
typedef int (*mg_range_fn)(void *ctx, long lo, long hi);
int mg_parallel(int nt, mg_task_fn fn, void *ctx);
int mg_parallel_for(int nt, long n, mg_range_fn body, void *ctx);
void mg_on_every_thread(void (*fn)(void));
int mg_in_parallel(void);

/* Reserves (touches) the calling thread's GEMM packing buffers at full blocking, so
   its first products do not page-fault; 0 or MG_ENOMEM. */
int mg_reserve_gemm_workspaces(void);

/* The bytes of one thread's GEMM packing buffers at full blocking (an MC x KC block of
   A, a KC x NC block of B; gemm.c), which mg_warmup reserves. */
void mg_gemm_pack_bytes(size_t *bytes_a, size_t *bytes_b);

/* The GEMM's register and cache blocking, one row per instruction set (gemm.c picks the
   micro-kernel by the same test). MR x NR is the micro-tile of C, NR columns being whole
   vectors; KC x NR the panel of B kept in L1 while MR x KC panels of A stream past it
   from the MC x KC block of A kept in L2; KC x NC the block of B (L3). The AVX-512 row
   was measured on Emerald Rapids (48 KB L1d, 2 MB L2 per core; 1 thread, 128^3-2048^3
   and the MLP's products, against variants with MR 14 (28 accumulators: 3-10% slower),
   MC 192-768, KC 128-384, and loops that keep A's panel in L1 instead, which were no
   faster): a 256 x 32 float panel of B is 32 KB of L1, A's block
   768 x 256 floats or 256 x 256 doubles (768 / 512 KB) stays in L2. KC 128 or 192 for
   double (so that both panels fit L1) was slower at 1024^3 and 2048^3: C is then
   updated 2x as often. The AVX2 row is BLIS's for Zen (32 KB L1d, 512 KB L2). */
#if defined(MG_TUNE)        /* every value from -D flags: how the rows below were measured */
#elif defined(__AVX512F__)
#define MG_GEMM_MR_F32 12
#define MG_GEMM_NR_F32 32
#define MG_GEMM_MR_F64 12
#define MG_GEMM_NR_F64 16
#define MG_GEMM_MC_F32 768
#define MG_GEMM_MC_F64 256
#define MG_GEMM_KC_F32 256
#define MG_GEMM_KC_F64 256
#define MG_GEMM_NC 4096
#elif defined(__AVX2__) && defined(__FMA__)
#define MG_GEMM_MR_F32 6
#define MG_GEMM_NR_F32 16
#define MG_GEMM_MR_F64 6
#define MG_GEMM_NR_F64 8
#define MG_GEMM_MC_F32 144
#define MG_GEMM_MC_F64 72
#define MG_GEMM_KC_F32 256
#define MG_GEMM_KC_F64 256
#define MG_GEMM_NC 4080
#else
#define MG_GEMM_MR_F32 6
#define MG_GEMM_NR_F32 16
#define MG_GEMM_MR_F64 6
#define MG_GEMM_NR_F64 8
#define MG_GEMM_MC_F32 144
#define MG_GEMM_MC_F64 72
#define MG_GEMM_KC_F32 256
#define MG_GEMM_KC_F64 256
#define MG_GEMM_NC 4080
#endif

/* GEMM on one thread (the caller may already be a pool worker), and the threaded
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
   packing reads src only at the offsets named, i.e. up to the largest offset + n
   (tb = 0) or + k (tb = 1): partial panels are zero-filled, never over-read, whatever
   MG_GEMM_NR_F32/_F64 is. */
int mg_gemm_implicit_b_f32(int tb, long m, long n, long k, const float *a, long lda,
                           const float *src, const long *koff, float beta, float *c,
                           long ldc);
int mg_gemm_implicit_b_f64(int tb, long m, long n, long k, const double *a, long lda,
                           const double *src, const long *koff, double beta, double *c,
                           long ldc);

/* A constant op(A) (m x k, not transposed, k <= the KC of the type) packed once into
   the GEMM's panel layout, then multiplied against many B's without packing it again
   (Winograd's transformed weights, reused by every block of tiles), B written straight
   in its packed layout by the caller (Winograd's input transform):
   mg_gemm_packed_a_len: elements of the packed form, or -1 when k exceeds one k block
   (then use mg_gemm_serial); mg_gemm_pack_a: packs it; mg_gemm_packed_ab: C = beta * C
   + A @ B on one thread (C as mg_gemm_serial's; MG_EINVAL for k > KC), B (k x n) in
   ceil(n / NR) panels of NR columns (MG_GEMM_NR_F32/_F64), element (p, j) at
   pb[(j / NR) * NR * k + p * NR + j % NR]; the columns past n of the last panel are
   read but only reach C's columns past n, which are not written. */
long mg_gemm_packed_a_len_f32(long m, long k);
long mg_gemm_packed_a_len_f64(long m, long k);
void mg_gemm_pack_a_f32(long m, long k, const float *a, long lda, float *out);
void mg_gemm_pack_a_f64(long m, long k, const double *a, long lda, double *out);
int mg_gemm_packed_ab_f32(long m, long n, long k, const float *pa, const float *pb,
                          float beta, float *c, long ldc);
int mg_gemm_packed_ab_f64(long m, long n, long k, const double *pa, const double *pb,
                          double beta, double *c, long ldc);

/* The *_impl.h templates are included once per element type, with T (float or double)
   and SFX (f32 or f64) defined. Their exported functions are named by macros the
   including .c file defines next to the #include (e.g. CONV2D_FORWARD is
   mg_conv2d_forward_f32), so grep finds every symbol of minigrad_api.h there; their
   static helpers get the suffix: FN(pad_image_) is pad_image_f32 or pad_image_f64. */
#define MG_CAT_(a, b) a##b
#define MG_CAT(a, b) MG_CAT_(a, b)
#define FN(name) MG_CAT(name, SFX)

#if defined(__AVX__)
#include <immintrin.h>
/* In-register transpose of an 8x8 float block: r[i] (row i) becomes column i. Turns
   rows in memory into the column streams of the GEMM's panels (gemm.c's pack_t_f32)
   and of Winograd's tile streams (winograd.c's patch gather), 8 floats per load and
   per store instead of one float per store. */
static inline void mg_transpose8_ps(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

/* GCC turns short copy loops into calls to memmove; for runs of 14-16 floats the call
   costs more than the copy, so the packing and im2col loops stay inline. */
#if defined(__GNUC__) && !defined(__clang__)
#define MG_NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define MG_NO_MEMCPY_CALLS
#endif
#endif
