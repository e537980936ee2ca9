/* max-pool and average-pool, forward and backward (no padding, floor mode).

   Layouts (row-major, contiguous): x and dx (N, C, H, W); y, dy and argmax
   (N, C, OH, OW) with OH = (H - KH) / sh + 1, OW = (W - KW) / sw + 1.
   maxpool forward: y = max of each window; argmax (int64) = flat index ih * W + iw of
   that maximum inside its (n, c) plane. The first maximum in row-major window order
   wins ties; a NaN wins over every number (the first NaN), so NaN propagates as in
   PyTorch. y and argmax are overwritten.
   maxpool backward: dx is overwritten with zeros, then dy is accumulated at argmax
   (overlapping windows may pick one input twice). An argmax outside [0, H*W) is never
   used as an index: the call returns MG_EINVAL, with dx partly written (the Python
   wrapper raises and drops it). The check runs per plane, where each plane is used,
   not as a separate pass over all of argmax.
   avgpool forward: y = mean of each window (overwritten). avgpool backward: dx is
   overwritten with zeros, then each dy / (KH*KW) is accumulated over its window.
   (n, c) planes are spread over the pool's threads. Errors: MG_EINVAL (-1) for
   non-positive sizes or a window larger than the input. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <string.h>

/* Positive sizes, a window inside the input, and x and y whose sizes in bytes (of the
   widest element) fit in a long, so no plane offset can wrap. */
static int pool_sizes_ok(long n, long c, long h, long w, long kh, long kw, long sh,
                         long sw) {
    long t, e = (long)sizeof(double);
    return n >= 1 && c >= 1 && h >= 1 && w >= 1 && kh >= 1 && kw >= 1 && sh >= 1 &&
           sw >= 1 && kh <= h && kw <= w && !MG_PRODUCT(&t, n, c, h, w, e);
}

/* The AVX2 2x2 paths keep in-plane offsets in 32-bit lanes. */
#define MG_AVX2_MAX_W (1L << 29)

#if defined(__AVX2__)
#include <immintrin.h>
/* 2x2 / stride 2 max-pool of one float plane, 8 outputs per step: the even and odd
   columns of two input rows are split by shuffles, then three compare-and-blend steps
   apply the rule "strictly greater, or NaN over a number" in window order. The row
   tail uses masked loads and stores, so no row is read or written past its end. */
static void maxpool_2x2_avx2(const float *xp, float *yp, int64_t *ap, long w, long oh,
                             long ow) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long i = 0; i < oh; i++) {
        const float *r0 = xp + 2 * i * w, *r1 = r0 + w;
        for (long j = 0; j < ow; j += 8) {
            long len = ow - j < 8 ? ow - j : 8;
            __m256i m_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(2 * len)), lanes);
            __m256i m_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(2 * len - 8)), lanes);
            __m256 a0 = _mm256_maskload_ps(r0 + 2 * j, m_lo);
            __m256 a1 = _mm256_maskload_ps(r0 + 2 * j + 8, m_hi);
            __m256 b0 = _mm256_maskload_ps(r1 + 2 * j, m_lo);
            __m256 b1 = _mm256_maskload_ps(r1 + 2 * j + 8, m_hi);
            /* even/odd split, then fix the 128-bit lane order */
            __m256 v0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(
                _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
            __m256 v1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(
                _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
            __m256 v2 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(
                _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
            __m256 v3 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(
                _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
            __m256 best = v0;
            __m256i at = _mm256_setzero_si256();
            const __m256 cand[3] = {v1, v2, v3};
            const long offs[3] = {1, w, w + 1};
            for (int c = 0; c < 3; c++) {
                __m256 take = _mm256_or_ps(
                    _mm256_cmp_ps(cand[c], best, _CMP_GT_OQ),
                    _mm256_and_ps(_mm256_cmp_ps(cand[c], cand[c], _CMP_UNORD_Q),
                                  _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
                best = _mm256_blendv_ps(best, cand[c], take);
                at = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(at),
                    _mm256_castsi256_ps(_mm256_set1_epi32((int)offs[c])), take));
            }
            __m256i out_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)len), lanes);
            _mm256_maskstore_ps(yp + i * ow + j, out_mask, best);
            /* flat index 2i*w + 2(j + lane) + at, widened to int64 */
            __m256i base = _mm256_set1_epi64x(2 * i * w + 2 * j);
            __m256i lo = _mm256_add_epi64(base, _mm256_cvtepi32_epi64(
                _mm256_castsi256_si128(_mm256_add_epi32(at, _mm256_add_epi32(lanes, lanes)))));
            __m256i hi = _mm256_add_epi64(base, _mm256_cvtepi32_epi64(
                _mm256_extracti128_si256(_mm256_add_epi32(at, _mm256_add_epi32(lanes, lanes)), 1)));
            int64_t idx[8];
            _mm256_storeu_si256((__m256i *)idx, lo);
            _mm256_storeu_si256((__m256i *)(idx + 4), hi);
            for (long t = 0; t < len; t++) ap[i * ow + j + t] = idx[t];
        }
    }
}
#define MG_MAXPOOL_2X2_F32 maxpool_2x2_avx2

/* Backward of the above when every argmax lies in its own 2x2 window: each input is
   written once (dy where it won, else 0), 8 windows per step; returns 0 as soon as an
   argmax points elsewhere (the caller then takes the general zero-and-scatter path). */
static int maxpool_2x2_backward_avx2(const float *dyp, const int64_t *ap, float *dxp,
                                     long w, long oh, long ow) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lanes64 = _mm256_setr_epi64x(0, 2, 4, 6);
    const __m256i w1 = _mm256_set1_epi32((int)w), w2 = _mm256_set1_epi32((int)w + 1);
    const __m256i one = _mm256_set1_epi32(1);
    for (long i = 0; i < oh; i++) {
        float *r0 = dxp + 2 * i * w, *r1 = r0 + w;
        for (long j = 0; j < ow; j += 8) {
            long len = ow - j < 8 ? ow - j : 8;
            __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)len), lanes);
            __m256 g = _mm256_maskload_ps(dyp + i * ow + j, m);
            /* offset of each argmax inside its window: at - (2i*w + 2(j + lane)) */
            __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(2 * i * w + 2 * j), lanes64);
            __m256i m64lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m));
            __m256i m64hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1));
            __m256i lo = _mm256_sub_epi64(_mm256_maskload_epi64((const long long *)(ap + i * ow + j), m64lo), base);
            __m256i hi = _mm256_sub_epi64(_mm256_maskload_epi64((const long long *)(ap + i * ow + j + 4), m64hi),
                                          _mm256_add_epi64(base, _mm256_set1_epi64x(8)));
            /* a lane whose offset is outside [0, w + 1] cannot be in its window */
            __m256i lim = _mm256_set1_epi64x(w + 1), zero = _mm256_setzero_si256();
            __m256i bad_lo = _mm256_or_si256(_mm256_cmpgt_epi64(lo, lim),
                                             _mm256_cmpgt_epi64(zero, lo));
            __m256i bad_hi = _mm256_or_si256(_mm256_cmpgt_epi64(hi, lim),
                                             _mm256_cmpgt_epi64(zero, hi));
            if (!_mm256_testz_si256(bad_lo, m64lo) || !_mm256_testz_si256(bad_hi, m64hi))
                return 0;
            /* in range: narrow the offsets to int32 */
            __m256i idx32 = _mm256_permutevar8x32_epi32(
                _mm256_castsi128_si256(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
                    lo, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)))),
                lanes);
            idx32 = _mm256_blend_epi32(idx32, _mm256_permutevar8x32_epi32(
                hi, _mm256_setr_epi32(1, 3, 5, 7, 0, 2, 4, 6)), 0xF0);
            __m256i e0 = _mm256_cmpeq_epi32(idx32, _mm256_setzero_si256());
            __m256i o0 = _mm256_cmpeq_epi32(idx32, one);
            __m256i e1 = _mm256_cmpeq_epi32(idx32, w1);
            __m256i o1 = _mm256_cmpeq_epi32(idx32, w2);
            __m256i any = _mm256_or_si256(_mm256_or_si256(e0, o0), _mm256_or_si256(e1, o1));
            if (!_mm256_testc_si256(any, m)) return 0;   /* some lane in no corner */
            __m256 ev0 = _mm256_and_ps(g, _mm256_castsi256_ps(e0));
            __m256 od0 = _mm256_and_ps(g, _mm256_castsi256_ps(o0));
            __m256 ev1 = _mm256_and_ps(g, _mm256_castsi256_ps(e1));
            __m256 od1 = _mm256_and_ps(g, _mm256_castsi256_ps(o1));
            /* interleave even/odd columns back: lanes (0..3 | 4..7) -> 16 outputs */
            __m256 l0 = _mm256_unpacklo_ps(ev0, od0), h0 = _mm256_unpackhi_ps(ev0, od0);
            __m256 l1 = _mm256_unpacklo_ps(ev1, od1), h1 = _mm256_unpackhi_ps(ev1, od1);
            __m256 s00 = _mm256_permute2f128_ps(l0, h0, 0x20), s01 = _mm256_permute2f128_ps(l0, h0, 0x31);
            __m256 s10 = _mm256_permute2f128_ps(l1, h1, 0x20), s11 = _mm256_permute2f128_ps(l1, h1, 0x31);
            __m256i m_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(2 * len)), lanes);
            __m256i m_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(2 * len - 8)), lanes);
            _mm256_maskstore_ps(r0 + 2 * j, m_lo, s00);
            _mm256_maskstore_ps(r0 + 2 * j + 8, m_hi, s01);
            _mm256_maskstore_ps(r1 + 2 * j, m_lo, s10);
            _mm256_maskstore_ps(r1 + 2 * j + 8, m_hi, s11);
        }
    }
    return 1;
}
#define MG_MAXPOOL_2X2_BWD_F32 maxpool_2x2_backward_avx2
#endif

#define T float
#define SFX f32
#define MAXPOOL2D_FORWARD mg_maxpool2d_forward_f32
#define MAXPOOL2D_BACKWARD mg_maxpool2d_backward_f32
#define AVGPOOL2D_FORWARD mg_avgpool2d_forward_f32
#define AVGPOOL2D_BACKWARD mg_avgpool2d_backward_f32
#include "pool_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define MAXPOOL2D_FORWARD mg_maxpool2d_forward_f64
#define MAXPOOL2D_BACKWARD mg_maxpool2d_backward_f64
#define AVGPOOL2D_FORWARD mg_avgpool2d_forward_f64
#define AVGPOOL2D_BACKWARD mg_avgpool2d_backward_f64
#include "pool_impl.h"
