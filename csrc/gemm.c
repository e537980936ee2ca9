/* GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major.
   op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) read transposed when
   trans_a. op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k) when trans_b.
   C is (m, n) with row stride ldc; when beta == 0, C is overwritten and never read
   (so NaN in an uninitialised C cannot leak). Returns 0, or MG_EINVAL for negative
   sizes or strides shorter than a row.
   This first version is the plain i-p-j loop the compiler vectorises; the packed,
   register-blocked kernel replaces it. */
#include "minigrad_api.h"
#include <stddef.h>

#define MG_EINVAL (-1)

#define DEFINE_GEMM(NAME, T)                                                        \
int NAME(int trans_a, int trans_b, long m, long n, long k, T alpha,                 \
         const T *a, long lda, const T *b, long ldb, T beta, T *c, long ldc) {      \
    if (m < 0 || n < 0 || k < 0) return MG_EINVAL;                                 \
    if (ldc < n || lda < (trans_a ? m : k) || ldb < (trans_b ? k : n))              \
        return MG_EINVAL;                                                           \
    _Pragma("omp parallel for schedule(static)")                                    \
    for (long i = 0; i < m; i++) {                                                  \
        T *ci = c + i * ldc;                                                        \
        for (long j = 0; j < n; j++) ci[j] = beta == 0 ? 0 : beta * ci[j];         \
        for (long p = 0; p < k; p++) {                                              \
            T aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);            \
            if (trans_b) {                                                          \
                for (long j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];         \
            } else {                                                                \
                const T *bp = b + p * ldb;                                          \
                for (long j = 0; j < n; j++) ci[j] += aip * bp[j];                  \
            }                                                                       \
        }                                                                           \
    }                                                                               \
    return 0;                                                                       \
}

DEFINE_GEMM(mg_gemm_f32, float)
DEFINE_GEMM(mg_gemm_f64, double)
