/* batch norm forward and backward, statistics per channel.

   Layout: x, y, dy, dx are (N, C, S) row-major: S = H*W for (N, C, H, W) input and
   S = 1 for (N, C). gamma, beta, running_mean, running_var, mean, invstd, dgamma,
   dbeta are (C,). count = N*S values per channel.
   forward, training: mean and biased variance of each channel from one pass of sums of
   x - x[0, c, 0] (short runs summed in T, then in double; the shift keeps the variance
   accurate when |mean| >> std); y = (x - mean) * invstd * gamma + beta with invstd = 1/sqrt(var+eps);
   running_mean and running_var are updated in place:
   r = (1 - momentum) * r + momentum * batch_stat, the variance unbiased
   (count / (count - 1)); count < 2 is MG_EINVAL. Not training: running_mean and
   running_var normalise x and are only read. y, mean, invstd are overwritten.
   backward: dbeta = sum dy, dgamma = sum dy * xhat (one pass over dy and x), then
   training: dx = gamma*invstd * (dy - (dbeta + xhat*dgamma) / count); otherwise
   dx = gamma*invstd*dy (second pass). dx, dgamma, dbeta are overwritten.
   Threads: channels are spread over the pool's threads (for S == 1, contiguous channel
   ranges, so the inner loop runs along C and vectorises). Errors: MG_EINVAL (-1). */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <math.h>

#define T float
#define SFX f32
#define BATCHNORM_FORWARD mg_batchnorm_forward_f32
#define BATCHNORM_BACKWARD mg_batchnorm_backward_f32
#include "batchnorm_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define BATCHNORM_FORWARD mg_batchnorm_forward_f64
#define BATCHNORM_BACKWARD mg_batchnorm_backward_f64
#include "batchnorm_impl.h"
