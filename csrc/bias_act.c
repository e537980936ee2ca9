/* Fused bias-add + ReLU, forward and backward: the epilogue of a Linear or Conv2d
   layer followed by ReLU, in one pass over the activations instead of two or three.

   Layout (row-major, contiguous): z, y, dy, dz are (N, F, S): S = 1 for a Linear
   output (N, F), S = OH*OW for a conv output (N, F, OH, OW). b and db are (F,).
   forward: z[n, f, s] = relu(z[n, f, s] + b[f]) in place (b may be NULL: no bias).
   relu(v) = v < 0 ? 0 : v, so a NaN propagates, as np.maximum(v, 0) and PyTorch do.
   backward: dz = dy * (y > 0), the gradient ReLU passes back given its output y
   (overwritten); when db is not NULL, db[f] = sum of dz over n and s (overwritten),
   which is the bias gradient of the layer, taken in the same pass.
   Threads: rows (S == 1) or channels (S > 1) are spread over the pool's threads once the
   array is large enough to pay for waking them. Errors: MG_EINVAL (-1) for negative
   sizes or NULL arrays. */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"

/* Below this many elements one thread finishes before a team would start. */
#define MG_ACT_PARALLEL_MIN (1L << 16)

#define T float
#define SFX f32
#define BIAS_RELU_FORWARD mg_bias_relu_forward_f32
#define BIAS_RELU_BACKWARD mg_bias_relu_backward_f32
#include "bias_act_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define BIAS_RELU_FORWARD mg_bias_relu_forward_f64
#define BIAS_RELU_BACKWARD mg_bias_relu_backward_f64
#include "bias_act_impl.h"
