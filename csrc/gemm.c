/* GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major, float32 and float64.

   Operands: op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) read
   transposed when trans_a. op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k)
   when trans_b. Packing reads through the flags, so a transposed operand is never
   copied. C is (m, n) with row stride ldc.
   Output: with beta == 0, C is overwritten and never read (NaN or garbage in C cannot
   leak into the result); otherwise C is scaled by beta and accumulated into.
   Edges: any m, n, k >= 0; partial tiles are packed with zero padding and written back
   through a local tile, so nothing outside the (m, n) window of C is touched.
   k == 0 or alpha == 0 gives C = beta * C. Returns 0, MG_EINVAL (-1) for negative
   sizes, strides shorter than a row or NULL operands, MG_ENOMEM (-2).

   Design (BLIS, see gemm_impl.h): A and B are packed into per-thread, grow-only
   workspaces (no malloc in steady state), cache-blocked, and multiplied by a
   register-blocked micro-kernel that keeps an MR x NR tile of C in registers, NR
   columns being whole vectors of B and each of the MR rows one broadcast of A. The
   kernel and its blocks are chosen at compile time by instruction set; the one table
   of MR NR MC KC NC per set is in mg_internal.h (MG_GEMM_*, where the conv code can
   see NR too):
     AVX-512F (-march=native on Skylake-X .. Sapphire/Emerald Rapids, Zen 4/5): 12 x 32
       floats or 12 x 16 doubles, 24 of the 32 zmm registers accumulate, 2 hold the B
       vectors, A's broadcasts are FMA memory operands ({1to16}); blocks sized for 48 KB
       L1d and 2 MB L2 (on Emerald Rapids, 1 thread: about 1.0-1.1x OpenBLAS on the
       MNIST MLP's products and 128^3-1024^3, 0.8-0.95x at 2048^3; the AVX2 kernel
       was 0.55-0.8x).
     AVX2+FMA (Zen, Haswell .. Alder Lake; or MINIGRAD_NO_AVX512=1 at build): 6 x 16
       floats or 6 x 8 doubles in 12 ymm registers, BLIS's Zen blocks.
     neither (MINIGRAD_NO_NATIVE=1, other CPUs): a plain C kernel of the AVX2 shape.
   A B read transposed (x @ W.T, a conv's dW) and an A read as stored are packed
   through in-register 8x8 transposes (pack_t_f32).
   Threads: the pool (workers.c) splits C in whole micro-tiles between mg_set_num_threads
   threads
   (GEMM_THREADED in gemm_impl.h), from MG_GEMM_PAR_MIN multiply-adds up. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#define MG_GEMM_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MG_GEMM_AVX2 1
#endif

#define MR_F32 MG_GEMM_MR_F32
#define NR_F32 MG_GEMM_NR_F32
#define MR_F64 MG_GEMM_MR_F64
#define NR_F64 MG_GEMM_NR_F64
#define MC_F32 MG_GEMM_MC_F32
#define MC_F64 MG_GEMM_MC_F64
#define NC_ALL MG_GEMM_NC
/* Multiply-adds from which the second thread pays. Measured on the 2-core Emerald Rapids
   (float, AVX-512, median of 400, 1 vs 2 threads of one build, the machine shared):
   64^3 = 262144 ran 0.86-0.88x (slower) on 2 threads, 80^3 = 512000 1.22-1.31x,
   128^3 1.29-1.42x, the MLP's 128x300x784 products 1.2-1.5x. */
#ifndef MG_GEMM_PAR_MIN
#define MG_GEMM_PAR_MIN 400000.0
#endif

/* The portable micro-kernel: C[MR x NR] (= or +=) packed A panel @ packed B panel. */
#define DEFINE_REF_UKR(NAME, T, MR, NR)                                                \
    static void NAME(long kc, const T *restrict a, const T *restrict b, T *restrict c, \
                     long ldc, T beta) {                                               \
        T acc[MR][NR] = {{0}};                                                         \
        for (long p = 0; p < kc; p++, a += MR, b += NR)                                \
            for (int i = 0; i < MR; i++)                                               \
                for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];                 \
        for (int i = 0; i < MR; i++)                                                   \
            for (int j = 0; j < NR; j++)                                               \
                c[i * ldc + j] = beta == 0 ? acc[i][j] : beta * c[i * ldc + j] + acc[i][j]; \
    }

#ifdef MG_GEMM_AVX512
/* MR rows x 2 vectors of C in 2*MR zmm accumulators (24 of the 32 registers for MR =
   12), 2 loads of B and MR broadcasts of A per k step; the broadcasts fold into the
   FMAs as {1toN} memory operands, so they cost no register. The arrays are fully
   unrolled, so GCC keeps them in registers (no spills: checked with objdump). */
#define DEFINE_AVX512_UKR(NAME, T, MR, NR, V, LOAD, LOADU, STOREU, SET1, FMADD, ZERO)  \
    static void NAME(long kc, const T *restrict a, const T *restrict b, T *restrict c, \
                     long ldc, T beta) {                                              \
        enum { W = NR / 2 };                                                          \
        V acc0[MR], acc1[MR];                                                         \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = ZERO(); \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                          \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                   \
        _Pragma("GCC unroll 2") for (long p = 0; p < kc; p++, a += MR, b += NR) {     \
            V b0 = LOAD(b), b1 = LOAD(b + W);                                         \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                   \
                V av = SET1(a[i]);                                                    \
                acc0[i] = FMADD(av, b0, acc0[i]);                                     \
                acc1[i] = FMADD(av, b1, acc1[i]);                                     \
            }                                                                         \
        }                                                                             \
        if (beta == 0) {                                                              \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                   \
                STOREU(c + i * ldc, acc0[i]);                                         \
                STOREU(c + i * ldc + W, acc1[i]);                                     \
            }                                                                         \
        } else {                                                                      \
            V bv = SET1(beta);                                                        \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                   \
                T *ci = c + i * ldc;                                                  \
                STOREU(ci, FMADD(bv, LOADU(ci), acc0[i]));                            \
                STOREU(ci + W, FMADD(bv, LOADU(ci + W), acc1[i]));                    \
            }                                                                         \
        }                                                                             \
    }
DEFINE_AVX512_UKR(ukr_f32, float, MR_F32, NR_F32, __m512, _mm512_load_ps, _mm512_loadu_ps,
                  _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
DEFINE_AVX512_UKR(ukr_f64, double, MR_F64, NR_F64, __m512d, _mm512_load_pd,
                  _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd,
                  _mm512_setzero_pd)
#elif defined(MG_GEMM_AVX2)
/* 6 rows x 16 columns of float: 12 accumulators, 2 B vectors, 1 broadcast of A. */
static void ukr_f32(long kc, const float *restrict a, const float *restrict b,
                    float *restrict c, long ldc, float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int i = 0; i < 6; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (long p = 0; p < kc; p++, a += 6, b += 16) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), av;
        av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    __m256 r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (beta == 0) {
        for (int i = 0; i < 6; i++) {
            _mm256_storeu_ps(c + i * ldc, r[2 * i]);
            _mm256_storeu_ps(c + i * ldc + 8, r[2 * i + 1]);
        }
    } else {
        __m256 bv = _mm256_set1_ps(beta);
        for (int i = 0; i < 6; i++) {
            float *ci = c + i * ldc;
            _mm256_storeu_ps(ci, _mm256_fmadd_ps(bv, _mm256_loadu_ps(ci), r[2 * i]));
            _mm256_storeu_ps(ci + 8, _mm256_fmadd_ps(bv, _mm256_loadu_ps(ci + 8), r[2 * i + 1]));
        }
    }
}


/* 6 rows x 8 columns of double, same register plan. */
static void ukr_f64(long kc, const double *restrict a, const double *restrict b,
                    double *restrict c, long ldc, double beta) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    for (int i = 0; i < 6; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (long p = 0; p < kc; p++, a += 6, b += 8) {
        __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4), av;
        av = _mm256_broadcast_sd(a + 0);
        c00 = _mm256_fmadd_pd(av, b0, c00); c01 = _mm256_fmadd_pd(av, b1, c01);
        av = _mm256_broadcast_sd(a + 1);
        c10 = _mm256_fmadd_pd(av, b0, c10); c11 = _mm256_fmadd_pd(av, b1, c11);
        av = _mm256_broadcast_sd(a + 2);
        c20 = _mm256_fmadd_pd(av, b0, c20); c21 = _mm256_fmadd_pd(av, b1, c21);
        av = _mm256_broadcast_sd(a + 3);
        c30 = _mm256_fmadd_pd(av, b0, c30); c31 = _mm256_fmadd_pd(av, b1, c31);
        av = _mm256_broadcast_sd(a + 4);
        c40 = _mm256_fmadd_pd(av, b0, c40); c41 = _mm256_fmadd_pd(av, b1, c41);
        av = _mm256_broadcast_sd(a + 5);
        c50 = _mm256_fmadd_pd(av, b0, c50); c51 = _mm256_fmadd_pd(av, b1, c51);
    }
    __m256d r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (beta == 0) {
        for (int i = 0; i < 6; i++) {
            _mm256_storeu_pd(c + i * ldc, r[2 * i]);
            _mm256_storeu_pd(c + i * ldc + 4, r[2 * i + 1]);
        }
    } else {
        __m256d bv = _mm256_set1_pd(beta);
        for (int i = 0; i < 6; i++) {
            double *ci = c + i * ldc;
            _mm256_storeu_pd(ci, _mm256_fmadd_pd(bv, _mm256_loadu_pd(ci), r[2 * i]));
            _mm256_storeu_pd(ci + 4, _mm256_fmadd_pd(bv, _mm256_loadu_pd(ci + 4), r[2 * i + 1]));
        }
    }
}
#else
DEFINE_REF_UKR(ukr_f32, float, MR_F32, NR_F32)
DEFINE_REF_UKR(ukr_f64, double, MR_F64, NR_F64)
#endif

#if defined(MG_GEMM_AVX512) || defined(MG_GEMM_AVX2)
/* A panel `width` floats wide (NR for B, MR for A) whose nr <= width lines are rows in
   memory: out[p*width + j] = rows[j][p], zeros for j >= nr. For B read transposed
   (x @ W.T: row j of W is column j of B; the implicit B of a conv's dW) and for A read
   as stored (its MR rows; Winograd's dw: Z's rows are tiles in memory). 8x8 blocks are
   transposed in registers, so each source row is read 8 floats at a time instead of
   the panel being written one float per store, 4*width bytes apart (that scalar form
   took a fifth of the Winograd dw's time). */
static void pack_t_f32(long kc, int nr, int width, const float *const *rows,
                       float *restrict out) {
    long p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int g = 0; g < width; g += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = g + i < nr ? _mm256_loadu_ps(rows[g + i] + p) : _mm256_setzero_ps();
            mg_transpose8_ps(r);
            float *o = out + p * width + g;
            if (width - g >= 8)
                for (int q = 0; q < 8; q++) _mm256_storeu_ps(o + q * width, r[q]);
            else if (width - g == 4)
                for (int q = 0; q < 8; q++)
                    _mm_storeu_ps(o + q * width, _mm256_castps256_ps128(r[q]));
            else
                for (int q = 0; q < 8; q++) {
                    float lane[8];
                    _mm256_storeu_ps(lane, r[q]);
                    for (int j = 0; j < width - g; j++) o[q * width + j] = lane[j];
                }
        }
    }
    for (; p < kc; p++)
        for (int j = 0; j < width; j++) out[p * width + j] = j < nr ? rows[j][p] : 0;
}
#define MG_PACK_T_F32 pack_t_f32
#endif

#define T float
#define SFX f32
#define GEMM mg_gemm_f32
#define GEMM_BATCH mg_gemm_batch_f32
#define GEMM_SERIAL mg_gemm_serial_f32
#define GEMM_THREADED mg_gemm_threaded_f32
#define GEMM_IMPLICIT_B mg_gemm_implicit_b_f32
#define GEMM_PACKED_AB mg_gemm_packed_ab_f32
#define GEMM_PACK_A mg_gemm_pack_a_f32
#define GEMM_PACKED_A_LEN mg_gemm_packed_a_len_f32
#define MR MR_F32
#define NR NR_F32
#define MC MC_F32
#define KC MG_GEMM_KC_F32
#define NC NC_ALL
#define UKR ukr_f32
#include "gemm_impl.h"
#undef T
#undef SFX
#undef MR
#undef NR
#undef MC
#undef KC
#undef NC
#undef UKR

#define T double
#define SFX f64
#define GEMM mg_gemm_f64
#define GEMM_BATCH mg_gemm_batch_f64
#define GEMM_SERIAL mg_gemm_serial_f64
#define GEMM_THREADED mg_gemm_threaded_f64
#define GEMM_IMPLICIT_B mg_gemm_implicit_b_f64
#define GEMM_PACKED_AB mg_gemm_packed_ab_f64
#define GEMM_PACK_A mg_gemm_pack_a_f64
#define GEMM_PACKED_A_LEN mg_gemm_packed_a_len_f64
#define MR MR_F64
#define NR NR_F64
#define MC MC_F64
#define KC MG_GEMM_KC_F64
#define NC NC_ALL
#define UKR ukr_f64
#include "gemm_impl.h"

void mg_gemm_pack_bytes(size_t *bytes_a, size_t *bytes_b) {
    /* float32's blocks (the training type); a float64 product grows them on first use */
    *bytes_a = (size_t)MC_F32 * MG_GEMM_KC_F32 * sizeof(float);
    *bytes_b = (size_t)MG_GEMM_KC_F32 * NC_ALL * sizeof(float);
}
