/* max-pool and average-pool, forward and backward (no padding, floor mode).

   Layouts (row-major, contiguous): x and dx (N, C, H, W); y, dy and argmax
   (N, C, OH, OW) with OH = (H - KH) / sh + 1, OW = (W - KW) / sw + 1.
   maxpool forward: y = max of each window; argmax (int64) = flat index ih * W + iw of
   that maximum inside its (n, c) plane. The first maximum in row-major window order
   wins ties; a NaN wins over every number (the first NaN), so NaN propagates as in
   PyTorch. y and argmax are overwritten.
   maxpool backward: dx is overwritten with zeros, then dy is accumulated at argmax
   (overlapping windows may pick one input twice). An argmax outside [0, H*W) returns
   MG_EINVAL before anything is written.
   avgpool forward: y = mean of each window (overwritten). avgpool backward: dx is
   overwritten with zeros, then each dy / (KH*KW) is accumulated over its window.
   (n, c) planes are spread over OpenMP threads. Errors: MG_EINVAL (-1) for
   non-positive sizes or a window larger than the input. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <string.h>

static int pool_sizes_ok(long n, long c, long h, long w, long kh, long kw, long sh,
                         long sw) {
    return n >= 1 && c >= 1 && h >= 1 && w >= 1 && kh >= 1 && kw >= 1 && sh >= 1 &&
           sw >= 1 && kh <= h && kw <= w;
}

#define T float
#define SFX f32
#include "pool_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#include "pool_impl.h"
