/* Winograd F(2x2, 3x3) convolution forward (Lavin & Gray, "Fast Algorithms for
   Convolutional Neural Networks", 2016): a 3x3, stride-1 cross-correlation with zero
   padding, as PyTorch's conv2d, optionally with the bias and a ReLU fused.

   Layouts (row-major, contiguous): x (N, C, H, W); w (F, C, 3, 3); b (F,) or NULL;
   y (N, F, OH, OW) with OH = H + 2*ph - 2, OW = W + 2*pw - 2, overwritten.

   Algorithm: the output is cut into 2x2 tiles, tile (i, j) reading the 4x4 input patch
   d at rows 2i - ph .. 2i - ph + 3 and columns 2j - pw .. (stride 2, overlapping by 2).
     U = G g G^T    (4x4 per filter f and channel c, once per call)
     V = B^T d B    (4x4 per tile and channel)
     M[e] = U[e] (F x C) @ V[e] (C x tiles), e = 0..15: 16 GEMMs over the channels,
                    run by our blocked GEMM (mg_gemm_serial, gemm.c)
     Y = A^T M A (+ b, then max(., 0) when relu): the 2x2 outputs of each tile.
   Tiles are numbered over all images (n, i, j) and processed in blocks of TB (a
   multiple of the GEMM's 16-column panels, 16 to 512, from WINO_BLOCK_BYTES for V and
   M of one block, 16 * (C + F) * TB elements); OpenMP threads take whole blocks
   (static schedule), each with its V and M in its own workspace (mg_workspace);
   U lives in the calling thread's MG_WS_WEIGHTS.
   Edges: patch elements outside the image (padding, and the bottom/right rows of the
   last tiles when OH or OW is odd) are read as zeros; outputs of those last tiles
   past OH or OW are dropped, never written.
   Error (float32 vs the direct method in float64, random normal x and w, 14x14, pad 1,
   measured max |y - y_exact| / max |y_exact|): 1.7e-7 (C = 1), 2.4e-7 (C = 32),
   7.9e-7 (C = 256), 5.4e-7 (C = 1024); the implicit GEMM and PyTorch's conv give
   1.2e-7 to 4.8e-7 on the same data. The transforms have entries 0, +-1, +-1/2 (exact
   scalings), so F(2x2, 3x3) adds only a few roundings per output. Tested at <= 1e-4
   of the output's scale (tests/test_kernels_winograd.py).
   Only the forward is here: dx of a 3x3 stride-1 conv is this forward applied to dy
   with the flipped, transposed weights and padding 2 - p, for p <= 2 (Conv2d.backward
   in minigrad/ops/conv.py; a larger padding keeps conv2d.c's dx). dw stays on the
   implicit-GEMM / im2col path of conv2d.c: a Winograd dw (transforms of x and dy, 16
   GEMMs over the tiles) is not written.
   Errors: MG_EINVAL (-1) for non-positive sizes, negative padding, an empty output, a
   NULL operand or a size whose byte count overflows a long, before anything is
   written; MG_ENOMEM (-2) when a workspace cannot be mapped. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Bytes of V + M for one block, which sets TB. Measured (32->64, 14x14, N=128, 1
   thread, noisy shared machine): 192 KB (TB = 32, the whole block in L2) ran at
   0.85-0.9x the implicit GEMM's time, 2 MB (TB = 336) at 0.6-0.65x: the 16 GEMMs want
   wide B panels more than the block wants L2; one GEMM's operands (C x TB, F x TB)
   still fit in L2. */
#define WINO_BLOCK_BYTES (2048L * 1024)
#define WINO_MAX_TB 512

typedef struct {
    long n, c, h, w, f, ph, pw, oh, ow, th, tw, tiles, tb;
} wino_dims;

/* Fills d or returns MG_EINVAL (see the contract). Every buffer is counted in bytes of
   double, so no index below can wrap. */
static int wino_dims_init(wino_dims *d, long n, long c, long h, long w, long f,
                          long ph, long pw) {
    const long e = (long)sizeof(double);
    long t;
    if (n < 1 || c < 1 || h < 1 || w < 1 || f < 1 || ph < 0 || pw < 0)
        return MG_EINVAL;
    if (MG_PRODUCT(&t, 2, ph) || mg_sum(&t, t, h) || t < 3) return MG_EINVAL;
    d->oh = t - 2;
    if (MG_PRODUCT(&t, 2, pw) || mg_sum(&t, t, w) || t < 3) return MG_EINVAL;
    d->ow = t - 2;
    d->n = n; d->c = c; d->h = h; d->w = w; d->f = f; d->ph = ph; d->pw = pw;
    d->th = (d->oh + 1) / 2;
    d->tw = (d->ow + 1) / 2;
    if (MG_PRODUCT(&t, n, c, h, w, e) || MG_PRODUCT(&t, n, f, d->oh, d->ow, e) ||
        MG_PRODUCT(&t, f, c, 16, e) || MG_PRODUCT(&d->tiles, n, d->th, d->tw) ||
        mg_sum(&t, c, f) || mg_sum(&t, t, 1) || MG_PRODUCT(&t, t, 16, WINO_MAX_TB, e))
        return MG_EINVAL;
    d->tb = WINO_BLOCK_BYTES / (16 * (c + f) * (long)sizeof(float)) / 16 * 16;
    if (d->tb < 16) d->tb = 16;
    if (d->tb > WINO_MAX_TB) d->tb = WINO_MAX_TB;
    return 0;
}

#define T float
#define SFX f32
#define WINO_FORWARD mg_conv2d_winograd_forward_f32
#define GEMM_SERIAL mg_gemm_serial_f32
#include "winograd_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define WINO_FORWARD mg_conv2d_winograd_forward_f64
#define GEMM_SERIAL mg_gemm_serial_f64
#include "winograd_impl.h"
