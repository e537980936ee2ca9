/* Fused bias + ReLU for one element type T, included by bias_act.c once per type (T,
   SFX, and the names BIAS_RELU_FORWARD, BIAS_RELU_BACKWARD).

   Contract: bias_act.c's header. z, y, dy, dz (N, F, S) contiguous, b and db (F,) or
   NULL. forward overwrites z in place; backward overwrites dz and db.
   Loop nests: S == 1 (Linear): rows i over threads, then f; db in a second sweep (a
   second job, after the first has finished) by 64-column blocks over threads (no two
   threads add into one entry). S > 1 (conv):
   channels f over threads, then images n, then the S pixels of the plane, so each
   thread owns its db entries. Edges: any N, F, S >= 0 (nothing to do when one is 0);
   a NaN propagates through relu. */

static int FN(bias_act_sizes_ok_)(long n, long f, long s) {
    long t;
    return !MG_PRODUCT(&t, n, f, s, (long)sizeof(T));  /* negative factors too */
}

/* The arguments of a bias + ReLU pass, shared by the threads' parts. */
typedef struct {
    T *z, *dz, *db;
    const T *b, *dy, *y;
    long n, f, s;
} FN(bias_act_job_);

/* Forward, S == 1: rows [lo, hi). */
static int FN(relu_rows_)(void *p, long lo, long hi) {
    const FN(bias_act_job_) *q = p;
    const T *b = q->b;
    long f = q->f;
    for (long i = lo; i < hi; i++) {
        T *row = q->z + i * f;
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

/* Forward, S > 1: (n, f) planes [lo, hi). */
static int FN(relu_planes_)(void *p, long lo, long hi) {
    const FN(bias_act_job_) *q = p;
    long f = q->f, s = q->s;
    T *z = q->z;
    const T *b = q->b;
    for (long pl = lo; pl < hi; pl++) {
        T *plane = z + pl * s, bias = b ? b[pl % f] : 0;
        for (long k = 0; k < s; k++) {
            T v = plane[k] + bias;
            plane[k] = v < 0 ? 0 : v;
        }
    }
    return 0;
}

int BIAS_RELU_FORWARD(T *z, const T *b, long n, long f, long s) {
    if (!FN(bias_act_sizes_ok_)(n, f, s) || !z) return MG_EINVAL;
    int nt = n * f * s >= MG_ACT_PARALLEL_MIN ? mg_threads_avail() : 1;
    FN(bias_act_job_) q = {.z = z, .b = b, .n = n, .f = f, .s = s};
    if (s == 1) return mg_parallel_for(nt, n, FN(relu_rows_), &q);
    return mg_parallel_for(nt, n * f, FN(relu_planes_), &q);
}

/* Backward, S == 1: dz for rows [lo, hi). */
static int FN(relu_grad_rows_)(void *p, long lo, long hi) {
    const FN(bias_act_job_) *q = p;
    /* locals, not q->: with -fno-strict-aliasing a store through q->dz could change
       q itself, so GCC reloaded every pointer per element and vectorized nothing
       (the conv case took 30 ms instead of 5) */
    const T *dy = q->dy, *y = q->y;
    T *dz = q->dz;
    long f = q->f;
    for (long i = lo; i < hi; i++)
        for (long j = 0; j < f; j++)
            dz[i * f + j] = dy[i * f + j] * (T)(y[i * f + j] > 0);
    return 0;
}

/* Backward, S == 1: db for the 64-column blocks [lo, hi) of dz. */
static int FN(bias_grad_cols_)(void *p, long lo, long hi) {
    const FN(bias_act_job_) *q = p;
    long n = q->n, f = q->f;
    T *db = q->db;
    const T *dz = q->dz;   /* a local: see relu_grad_rows_ */
    for (long j0 = lo * 64; j0 < f && j0 < hi * 64; j0 += 64) {
        long j1 = j0 + 64 < f ? j0 + 64 : f;
        for (long j = j0; j < j1; j++) db[j] = 0;
        for (long i = 0; i < n; i++)
            for (long j = j0; j < j1; j++) db[j] += dz[i * f + j];
    }
    return 0;
}

/* Backward, S > 1: channels [lo, hi), each with its db entry. */
static int FN(relu_grad_channels_)(void *p, long lo, long hi) {
    const FN(bias_act_job_) *q = p;
    long n = q->n, f = q->f, s = q->s;
    const T *dy = q->dy, *y = q->y;   /* locals: see relu_grad_rows_ */
    T *dz = q->dz, *db = q->db;
    for (long c = lo; c < hi; c++) {
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

int BIAS_RELU_BACKWARD(const T *dy, const T *y, T *dz, T *db, long n, long f,
                               long s) {
    if (!FN(bias_act_sizes_ok_)(n, f, s) || !dy || !y || !dz) return MG_EINVAL;
    int nt = n * f * s >= MG_ACT_PARALLEL_MIN ? mg_threads_avail() : 1;
    FN(bias_act_job_) q = {.dz = dz, .db = db, .dy = dy, .y = y, .n = n, .f = f, .s = s};
    if (s > 1)  /* each thread owns whole channels, so its db entries */
        return mg_parallel_for(nt, f, FN(relu_grad_channels_), &q);
    /* Rows in parallel; the column sums for db in a second, cache-warm sweep over dz
       by column blocks, so no two threads add into one db entry. */
    mg_parallel_for(nt, n, FN(relu_grad_rows_), &q);
    if (db) mg_parallel_for(nt, (f + 63) / 64, FN(bias_grad_cols_), &q);
    return 0;
}

#undef BIAS_RELU_FORWARD
#undef BIAS_RELU_BACKWARD
