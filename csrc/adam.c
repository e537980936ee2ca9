/* Adam / AdamW over many tensors in one call: the multi-tensor step of
   minigrad/optim (one call per step instead of one per parameter, whose Python
   dispatch costs as much as the update of a bias).

   Operands: for k in [0, count), p[k], g[k], m[k], v[k] (and vmax[k] under amsgrad)
   point to size[k] contiguous elements each, entry i of one being entry i of the
   others (one parameter, its gradient, its first and second moments). h holds the
   step's scalars in the element type: (step_size, bc2_sqrt, beta2, keep1 = 1 -
   beta1, keep2 = 1 - beta2, eps, wd, shrink = 1 - lr * wd). Per element, in this
   order and with these roundings (the numpy rule of adam.py and the Numba kernel
   adam_step, to the bit):
       decoupled: p <- shrink * p          coupled: g <- wd * p + g
       m <- m + keep1 * (g - m)            v <- beta2 * v + keep2 * g^2
       amsgrad: vmax <- max(vmax, v) (a NaN v propagates), used for v below
       p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
   p, m, v, vmax are overwritten in place; g is only read. Every k shares h: the
   caller groups the tensors by step count. Threads: a tensor of at least
   MG_ADAM_PARALLEL_MIN elements is cut into one contiguous share per thread (each
   core's cache and bandwidth take a share of this memory-bound pass); smaller ones
   run on the calling thread.
   Errors: MG_EINVAL for count < 0, a negative size or a NULL array. */
#include <math.h>
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"

/* a * b + c stays two roundings, as in numpy and Numba (the build contracts to FMA
   elsewhere). sqrt is vectorised only without errno: build_ffi passes
   -fno-math-errno, which this pragma could not set. */
#pragma GCC optimize("fp-contract=off")

/* Below this many elements one thread finishes before a team would start. */
#define MG_ADAM_PARALLEL_MIN (1L << 15)

#define T float
#define SFX f32
#define SQRT sqrtf
#define ADAM_MULTI mg_adam_multi_f32
#include "adam_impl.h"
#undef T
#undef SFX
#undef SQRT
#undef ADAM_MULTI
#define T double
#define SFX f64
#define SQRT sqrt
#define ADAM_MULTI mg_adam_multi_f64
#include "adam_impl.h"
