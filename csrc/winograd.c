/* Winograd convolution F(m x m, 3x3), m = 2 or 4 (Lavin & Gray, "Fast Algorithms for
   Convolutional Neural Networks", 2016): a 3x3, stride-1 cross-correlation with zero
   padding, as PyTorch's conv2d; the forward (bias and ReLU fused) and the filter
   gradient dw.

   Layouts (row-major, contiguous): x (N, C, H, W); w, dw (F, C, 3, 3); b (F,) or NULL;
   y, dy (N, F, OH, OW) with OH = H + 2*ph - 2, OW = W + 2*pw - 2.

   Algorithm, with a = m + 2: the output is cut into m x m tiles, tile (i, j) reading
   the a x a input patch d at rows m*i - ph .. m*i - ph + a - 1 and columns likewise
   (stride m, overlapping by 2).
     forward:  U = G g G^T        (a x a per filter f and channel c, once per call)
               V = B^T d B        (a x a per tile and channel)
               M[e] = U[e] (F x C) @ V[e] (C x tiles), e < a*a: a*a GEMMs over the
                                  channels, run by our blocked GEMM (mg_gemm_serial)
               Y = A^T M A (+ b, then max(., 0) when relu): the tile's m x m outputs.
     dw, the transpose of the forward's linear map in g: with Z = A dY A^T (a x a per
     tile and filter, dY the tile's m x m upstream gradient, zero past OH or OW),
               dU[e] = sum over tiles Z[e] (F x tiles) @ V[e]^T (tiles x C): a*a GEMMs
                       over the tiles,
               dw[f][c] = G^T dU[f][c] G,
     since <dY, A^T (U . V) A> = <(A dY A^T) . V, G g G^T> = <G^T ((A dY A^T) . V) G, g>.
   dx of a 3x3 stride-1 conv is the forward applied to dy with the flipped, transposed
   weights and padding 2 - p, for p <= 2 (minigrad/ops/conv.py).
   Tiles are numbered over all images (n, i, j) and processed in blocks of TB, from
   WINO_BLOCK_BYTES for V and M (or Z) of one block; the pool's threads take whole blocks,
   each with its buffers in its own workspace (mg_workspace); U lives in the calling
   thread's MG_WS_WEIGHTS, dw's per-thread partial sums of dU in its MG_WS_PARTIAL.
   Edges: patch elements outside the image are read as zeros; outputs of the last
   tiles past OH or OW are dropped (forward) or read as zeros (dw).

   Error (float32 vs the direct method in float64, random normal x and w, 14x14, pad 1,
   max over 5 seeds of max |y - y_exact| / max |y_exact|, 64 filters):
     F(2x2, 3x3) forward: 2.1e-7 (C = 1), 2.6e-7 (C = 32), 7.1e-7 (C = 256);
     F(4x4, 3x3) forward: 3.7e-6 (C = 1), 4.3e-6 (C = 32), 1.3e-5 (C = 256), 7.1e-6
       (C = 1024, 16 filters);
     PyTorch's conv: 1.3e-7, 3.6e-7, 3.5e-7 (C = 1024: 2.6e-7); our implicit GEMM alike.
     dw, 32->64 N=128: F(2x2) 5.0e-7, F(4x4) 4.4e-6, PyTorch 4.1e-6, our GEMM 3.2e-7.
   F(2, 3)'s transforms have entries 0, +-1, +-1/2 (exact scalings); F(4, 3)'s, from
   the points 0, +-1, +-2 and infinity, have 4, 5, 8 and 1/4, 1/6, 1/12, 1/24: the
   transformed tiles cancel large terms, so its forward error is 10-40x PyTorch's,
   still 10x under the 1e-4 of the output's scale that tests/test_kernels_winograd.py
   checks. U is formed in double (once per call), which keeps G's 1/6 and 1/24 from
   adding their own rounding.
   Errors: MG_EINVAL (-1) for non-positive sizes, negative padding, an empty output, a
   tile other than 2 or 4, a NULL operand or a size whose byte count overflows a long,
   before anything is written; MG_ENOMEM (-2) when a workspace cannot be mapped. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"

/* Bytes of V + M for one block, which sets TB. Measured for F(2, 3) (32->64, 14x14,
   N=128, 1 thread, noisy shared machine): 192 KB (TB = 32, the whole block in L2) ran
   at 0.85-0.9x the implicit GEMM's time, 2 MB (TB = 336) at 0.6-0.65x: the GEMMs want
   wide B panels more than the block wants L2. For F(4, 3) (36 products, so a third
   of the tiles per byte), CPU time of forward / dw, 32->64: TB = 64 7.1 / 8.5 ms, 128
   7.3 / 9.1, 256 7.7 / 9.7 (interleaved medians of 15; 64->64 alike within noise):
   1 MB, which gives TB = 64 there. Rechecked with the transforms in registers and V
   in packed panels (interleaved medians of 40, forward / dx / dw against 1 MB): 2 MB
   (TB = 128) 1.25 / 1.3 / 1.16x the time, 512 KB (TB = 32) 0.96 / 0.92 / 1.02x,
   within the machine's noise. */
#define WINO_BLOCK_BYTES (1024L * 1024)
/* TB is a multiple of WINO_TB_STEP, which any GEMM panel width (NR: 8, 16 or 32)
   divides, so no GEMM over a block has a ragged last panel but the very last block's. */
#define WINO_TB_STEP 32
#define WINO_MAX_TB 512
#define WINO_MAX_A 6

/* The transform matrices, the one place they are written in C (the numpy reference,
   backend/winograd_ref.py, holds the same). F(m, 3) interpolates at the points
   0, 1, -1 (m = 2: and infinity) or 0, 1, -1, 2, -2, infinity (m = 4).
   The filter transforms read G from here; the tile transforms, hot, spell out the
   rows of B^T and A^T below as sums (WINO_BT4/6 below, at_ and a_ in
   winograd_transforms_impl.h). */
static const double WINO_G2[4][3] = {
    {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double WINO_G4[6][3] = {
    {1. / 4, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
    {1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
/*  B^T (m = 2): [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
    A^T (m = 2): [1 1 1 0; 0 1 -1 -1]
    B^T (m = 4): [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
                  0 2 -1 -2 1 0; 0 4 0 -5 0 1]
    A^T (m = 4): [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */

/* o = B^T x for a column x of 4 or 6 values (the rows of B^T above as sums), for
   scalars and for GCC vectors alike (a scalar factor applies to every lane): the tile
   streams' bt_ and the float gather's registers use the same sums, in the same order,
   so both give the same bits. */
#define WINO_BT4(x, o) \
    ((o)[0] = (x)[0] - (x)[2], (o)[1] = (x)[1] + (x)[2], (o)[2] = (x)[2] - (x)[1], \
     (o)[3] = (x)[1] - (x)[3])
#define WINO_BT6(x, o)                                                               \
    ((o)[0] = 4 * (x)[0] - 5 * (x)[2] + (x)[4],                                      \
     (o)[1] = ((x)[3] + (x)[4]) - 4 * ((x)[1] + (x)[2]),                             \
     (o)[2] = ((x)[4] - (x)[3]) + 4 * ((x)[1] - (x)[2]),                             \
     (o)[3] = ((x)[4] - (x)[2]) + 2 * ((x)[3] - (x)[1]),                             \
     (o)[4] = ((x)[4] - (x)[2]) - 2 * ((x)[3] - (x)[1]),                             \
     (o)[5] = 4 * (x)[1] - 5 * (x)[3] + (x)[5])

/* o = A^T x (a -> m values), likewise: at_ and the float output's registers. */
#define WINO_AT4(x, o) ((o)[0] = (x)[0] + (x)[1] + (x)[2], (o)[1] = (x)[1] - (x)[2] - (x)[3])
#define WINO_AT6(x, o)                                                               \
    ((o)[0] = (x)[0] + ((x)[1] + (x)[2]) + ((x)[3] + (x)[4]),                        \
     (o)[1] = ((x)[1] - (x)[2]) + 2 * ((x)[3] - (x)[4]),                             \
     (o)[2] = ((x)[1] + (x)[2]) + 4 * ((x)[3] + (x)[4]),                             \
     (o)[3] = ((x)[1] - (x)[2]) + 8 * ((x)[3] - (x)[4]) + (x)[5])

#if defined(__AVX__)
/* The patches of 8 tiles at once (origins org[0..7], row stride wp), times B, into
   the a*a streams (ld tb) at offset 0: each tile's row i is loaded 8 wide, reading
   8 - a floats past its patch (the padded rows have that slack); one 8x8 transpose
   makes the 8 tiles' column j of row i one vector, and the row's d B is taken in
   registers, so stream (i, j') gets (d B)[i][j'] of the 8 tiles in one store. The
   scalar copy this replaces took 2 memory operations per element, most of the input
   transform, and the separate pass of B over the copy one more store per element. */
static void wino_patches8_f32(const float *const *org, long wp, int a, float *streams,
                              long tb) {
    for (int i = 0; i < a; i++) {
        __m256 r[8], o[6];
        for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(org[q] + i * wp);
        mg_transpose8_ps(r);
        if (a == 6)
            WINO_BT6(r, o);
        else
            WINO_BT4(r, o);
        for (int j = 0; j < a; j++) _mm256_storeu_ps(streams + (a * i + j) * tb, o[j]);
    }
}

/* F(4x4)'s last steps for 4 tiles: (A^T M) A, + bias when add, ReLU when relu, into y
   at dst[k] (row stride ow), tile k cut to rows[k] x cols[k] by OH and OW. s: the
   streams of A^T M, s[(6*i + j) * tb], tiles at s[0..3]. Per output row i the row pass
   runs in registers, then a 4x4 transpose turns its 4 streams into the 4 tiles' rows,
   one masked 4-float store each (masked-off lanes, past OW, are not touched). */
static void wino_out4_f32(const float *s, long tb, int add, float bias, int relu,
                          float *const *dst, const long *rows, const long *cols, long ow) {
    __m128i mask[4];
    for (int k = 0; k < 4; k++)
        mask[k] = _mm_cmpgt_epi32(_mm_set1_epi32((int)cols[k]), _mm_setr_epi32(0, 1, 2, 3));
    for (int i = 0; i < 4; i++) {
        __m128 x[6], r[4];
        for (int j = 0; j < 6; j++) x[j] = _mm_loadu_ps(s + (6 * i + j) * tb);
        WINO_AT6(x, r);
        for (int j = 0; add && j < 4; j++) r[j] = r[j] + _mm_set1_ps(bias);
        for (int j = 0; relu && j < 4; j++)  /* NaN <= 0 is false: NaN is kept */
            r[j] = _mm_andnot_ps(_mm_cmple_ps(r[j], _mm_setzero_ps()), r[j]);
        _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
        for (int k = 0; k < 4; k++)
            if (i < rows[k]) _mm_maskstore_ps(dst[k] + i * ow, mask[k], r[k]);
    }
}

/* The inverse, for dw's dy: the 4x4 tiles of dy at src[k] (row stride ow), cut to
   rows[k] x cols[k] and zero past them, into the 16 streams q[(4*i + j) * tb] at
   q[0..3]: masked loads (masked-off lanes read as 0 and are never touched), one 4x4
   transpose per tile row. */
static void wino_load4_f32(const float *const *src, const long *rows, const long *cols,
                           long ow, float *q, long tb) {
    __m128i mask[4];
    for (int k = 0; k < 4; k++)
        mask[k] = _mm_cmpgt_epi32(_mm_set1_epi32((int)cols[k]), _mm_setr_epi32(0, 1, 2, 3));
    for (int i = 0; i < 4; i++) {
        __m128 r[4];
        for (int k = 0; k < 4; k++)
            r[k] = i < rows[k] ? _mm_maskload_ps(src[k] + i * ow, mask[k]) : _mm_setzero_ps();
        _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
        for (int j = 0; j < 4; j++) _mm_storeu_ps(q + (4 * i + j) * tb, r[j]);
    }
}
#endif

typedef struct {
    long n, c, h, w, f, ph, pw, oh, ow, th, tw, tiles, tb;
    long wp, pb_rows;  /* the zero-padded rows a block gathers from: width, most rows
                          (of all the images the block's tiles lie in) */
    int m, a, aa;      /* tile outputs per side, patch side m + 2, a * a */
} wino_dims;

/* Where a block's tiles lie (winograd_impl.h's tile_offsets_). */
typedef struct {
    long img[WINO_MAX_TB], row[WINO_MAX_TB], col[WINO_MAX_TB], run[WINO_MAX_TB];
} wino_tiles;

/* Fills d or returns MG_EINVAL (see the contract). Every buffer is counted in bytes of
   double, so no index below can wrap. */
static int wino_dims_init(wino_dims *d, long n, long c, long h, long w, long f,
                          long ph, long pw, int tile) {
    const long e = (long)sizeof(double);
    long t;
    if (n < 1 || c < 1 || h < 1 || w < 1 || f < 1 || ph < 0 || pw < 0 ||
        (tile != 2 && tile != 4))
        return MG_EINVAL;
    d->m = tile; d->a = tile + 2; d->aa = d->a * d->a;
    if (MG_PRODUCT(&t, 2, ph) || mg_sum(&t, t, h) || t < 3) return MG_EINVAL;
    d->oh = t - 2;
    if (MG_PRODUCT(&t, 2, pw) || mg_sum(&t, t, w) || t < 3) return MG_EINVAL;
    d->ow = t - 2;
    d->n = n; d->c = c; d->h = h; d->w = w; d->f = f; d->ph = ph; d->pw = pw;
    d->th = (d->oh + tile - 1) / tile;
    d->tw = (d->ow + tile - 1) / tile;
    if (MG_PRODUCT(&t, n, c, h, w, e) || MG_PRODUCT(&t, n, f, d->oh, d->ow, e) ||
        MG_PRODUCT(&t, f, c, d->aa, e) || MG_PRODUCT(&d->tiles, n, d->th, d->tw) ||
        mg_sum(&t, c, f) || mg_sum(&t, t, 2) ||
        MG_PRODUCT(&t, t, d->aa, WINO_MAX_TB, e))
        return MG_EINVAL;
    d->tb = WINO_BLOCK_BYTES / (d->aa * (c + f) * (long)sizeof(float)) / WINO_TB_STEP *
            WINO_TB_STEP;
    if (d->tb < WINO_TB_STEP) d->tb = WINO_TB_STEP;
    if (d->tb > WINO_MAX_TB) d->tb = WINO_MAX_TB;
    /* A block spans at most tb / tw + 2 tile rows (partial first and last ones), each
       image's part of them m rows each plus 2 (the last patch's overlap). */
    long tile_rows = d->tb / d->tw + 2;
    d->wp = tile * d->tw + 2;
    d->pb_rows = (tile + 2) * tile_rows;
    if (MG_PRODUCT(&t, d->wp, d->pb_rows, e)) return MG_EINVAL;
    return 0;
}

#define T float
#define SFX f32
#define WINO_FORWARD mg_conv2d_winograd_forward_f32
#define WINO_DW mg_conv2d_winograd_backward_weight_f32
#define GEMM_SERIAL mg_gemm_serial_f32
#define GEMM_PACKED_AB mg_gemm_packed_ab_f32
#define GEMM_NR MG_GEMM_NR_F32
#define GEMM_PACK_A mg_gemm_pack_a_f32
#define GEMM_PACKED_A_LEN mg_gemm_packed_a_len_f32
#include "winograd_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define WINO_FORWARD mg_conv2d_winograd_forward_f64
#define WINO_DW mg_conv2d_winograd_backward_weight_f64
#define GEMM_SERIAL mg_gemm_serial_f64
#define GEMM_PACKED_AB mg_gemm_packed_ab_f64
#define GEMM_NR MG_GEMM_NR_F64
#define GEMM_PACK_A mg_gemm_pack_a_f64
#define GEMM_PACKED_A_LEN mg_gemm_packed_a_len_f64
#include "winograd_impl.h"
