/* Fused bias + ReLU for one element type T, included by bias_act.c once per type (T,
   SFX, and the names BIAS_RELU_FORWARD, BIAS_RELU_BACKWARD).

   Contract: bias_act.c's header. z, y, dy, dz (N, F, S) contiguous, b and db (F,) or
   NULL. forward overwrites z in place; backward overwrites dz and db.
   Loop nests: S == 1 (Linear): rows i over threads, then f; db in a second sweep by
   64-column blocks over threads (no two threads add into one entry). S > 1 (conv):
   channels f over threads, then images n, then the S pixels of the plane, so each
   thread owns its db entries. Edges: any N, F, S >= 0 (nothing to do when one is 0);
   a NaN propagates through relu. */

static int FN(bias_act_sizes_ok_)(long n, long f, long s) {
    long t;
    return !MG_PRODUCT(&t, n, f, s, (long)sizeof(T));  /* negative factors too */
}

int BIAS_RELU_FORWARD(T *z, const T *b, long n, long f, long s) {
    if (!FN(bias_act_sizes_ok_)(n, f, s) || !z) return MG_EINVAL;
    long total = n * f * s;
    int nt = total >= MG_ACT_PARALLEL_MIN ? mg_threads_avail() : 1;
    if (s == 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (long i = 0; i < n; i++) {
            T *row = z + i * f;
            if (b)
                for (long j = 0; j < f; j++) {
                    T v = row[j] + b[j];
                    row[j] = v < 0 ? 0 : v;
                }
            else
                for (long j = 0; j < f; j++) row[j] = row[j] < 0 ? 0 : row[j];
        }
        return 0;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long p = 0; p < n * f; p++) {
        T *plane = z + p * s, bias = b ? b[p % f] : 0;
        for (long k = 0; k < s; k++) {
            T v = plane[k] + bias;
            plane[k] = v < 0 ? 0 : v;
        }
    }
    return 0;
}

int BIAS_RELU_BACKWARD(const T *dy, const T *y, T *dz, T *db, long n, long f,
                               long s) {
    if (!FN(bias_act_sizes_ok_)(n, f, s) || !dy || !y || !dz) return MG_EINVAL;
    long total = n * f * s;
    int nt = total >= MG_ACT_PARALLEL_MIN ? mg_threads_avail() : 1;
    if (s == 1) {
        /* Rows in parallel; the column sums for db in a second, cache-warm sweep over
           dz by column blocks, so no two threads add into one db entry. */
#pragma omp parallel num_threads(nt)
        {
#pragma omp for schedule(static)
            for (long i = 0; i < n; i++)
                for (long j = 0; j < f; j++)
                    dz[i * f + j] = dy[i * f + j] * (T)(y[i * f + j] > 0);
            if (db) {
#pragma omp for schedule(static)
                for (long j0 = 0; j0 < f; j0 += 64) {
                    long j1 = j0 + 64 < f ? j0 + 64 : f;
                    for (long j = j0; j < j1; j++) db[j] = 0;
                    for (long i = 0; i < n; i++)
                        for (long j = j0; j < j1; j++) db[j] += dz[i * f + j];
                }
            }
        }
        return 0;
    }
    /* Channels in parallel: each thread owns whole channels, so its db entries. */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long c = 0; c < f; c++) {
        double sum = 0;  /* per-plane sums in T, their total in double */
        for (long i = 0; i < n; i++) {
            long off = (i * f + c) * s;
            T part = 0;
            for (long k = 0; k < s; k++) {
                T g = dy[off + k] * (T)(y[off + k] > 0);
                dz[off + k] = g;
                part += g;
            }
            sum += part;
        }
        if (db) db[c] = (T)sum;
    }
    return 0;
}

#undef BIAS_RELU_FORWARD
#undef BIAS_RELU_BACKWARD
