/* The kernels' own thread pool (mg_parallel, mg_parallel_for; mg_internal.h).

   Why not OpenMP: libgomp's idle workers spin GOMP_SPINCOUNT (300000 pauses, some
   milliseconds) after every parallel region, so between the kernels of a training
   step the worker never sleeps and takes a core from data loaders, BLAS, Numba or
   other processes; only environment variables read when libgomp loads change that,
   and importing minigrad must change nothing outside it.

   Workers: started on the first call that needs them (never at import), up to the
   thread count - 1; each reserves its GEMM packing buffers (no page faults inside later
   kernels), then waits for jobs: spinning briefly, then yielding its core to anyone
   else who wants it, then asleep on a futex (the three stages below). A job's nt parts
   are claimed by whichever thread comes first, the caller included (see CLAIM below):
   a worker that wakes after the caller ran every part finds nothing left, one that
   wakes midway makes the job end with its part (the cost measured below). Each
   part is independent of the thread that runs it (its own workspace) and of the others
   (no part waits for another), which makes the rest simple:
   one job at a time: a second caller (another Python thread) that finds the pool busy
   runs all the parts itself, tid 0 to nt-1 in order (the same result, no waiting
   behind the other caller's job, no deadlock); nested calls, from inside a part, run
   on their thread the same way (mg_threads_avail() is 1 there, so kernels pick their
   serial paths).
   Fork: the child has none of the workers; an atfork handler forgets them and frees
   the lock, so the child's first parallel call starts its own. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

/* An idle worker waits for the next job in three stages (mg_internal.h's times):
   - MG_POOL_SPIN_US polling with pause: the next kernel of the same op. Measured, the
     gaps from the end of one job to the start of the next, training on Fashion-MNIST
     at 2 threads (50 steps of batch 128, Emerald Rapids, 2 cores shared), log2 bins:
       MLP     19% under 33 us (two kernels of one op, a wrapper call apart),
               then none until 65 us; 81% from 65 us to 2 ms (ops with Python between);
       MLP-BN  20% under 33 us, 80% from 65 us up;
       CNN     none under 33 us, 6% 33-65 us, 94% from 65 us up (each op one job).
   - up to MG_POOL_YIELD_US polling with sched_yield between looks: the ops of a
     Python training step. Being woken from the futex took 65-500 us on this VM, longer
     than an MLP's GEMM (a 2-thread x @ W.T, 128x784x300, with 100 us of Python
     between calls: 714 us with workers asleep by then, 616 us on one thread, 435 us
     with libgomp's spinning workers); a worker that yields stays ready without taking
     the core from anyone: any other runnable thread on it (a data loader, BLAS, Numba
     workers, another process) runs first.
   - then it sleeps on the futex: no CPU at all while Python does anything longer. */
#define SPIN_NS ((uint64_t)MG_POOL_SPIN_US * 1000u)
#define YIELD_NS ((uint64_t)MG_POOL_YIELD_US * 1000u)

/* The parts of a job are claimed, not assigned: the claim word holds the job's part
   count (high 16 bits) and the next unclaimed part (low 16 bits); whoever takes a part
   (the caller or any worker) raises it by compare-and-swap, then runs that part. A
   worker that wakes late finds the parts taken (the caller runs the unclaimed ones once
   it is done with its own), so a job never waits for a sleeping worker to wake up. The
   claim word always describes the current job: a part is claimed only while it is
   there to take, and the job cannot end before that part is done, so job_fn and
   job_ctx, read after the claim, are that job's. */
#define CLAIM(nt) ((unsigned)(nt) << 16)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;  /* one job at a time */
static int pool_size = 0;           /* workers started, under lock */
static unsigned start_word[MG_POOL_MAX], start_every[MG_POOL_MAX]; /* at a worker's start */
static unsigned job_word = 0;       /* bumped for every job: the workers' futex word */
static unsigned job_claim = 0;
static unsigned job_every = 0;      /* bumped for a job every worker runs once itself */
static void (*every_fn)(void);
static mg_task_fn job_fn;
static void *job_ctx;
static int job_err;                 /* OR of the parts' results */
static int job_left;                /* parts not finished yet (the caller's futex word) */
static int sleepers;                /* workers asleep on job_word */
static int caller_asleep;           /* the caller asleep on job_left */
static __thread int tls_inside = 0; /* this thread runs a part (or is a worker) */

#ifdef __linux__
#define MG_POOL_THREADS 1
static void futex_wait(int *addr, int val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(int *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
#else   /* TODO: a condition-variable sleep for other systems; until then one thread */
#define MG_POOL_THREADS 0
static void futex_wait(int *addr, int val) { (void)addr, (void)val; }
static void futex_wake(int *addr, int n) { (void)addr, (void)n; }
#endif

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins until (*addr == val) == equal, at most `ns`; 1 when it came. */
static int spin_until(const int *addr, int val, int equal, uint64_t ns) {
    uint64_t t0 = now_ns();
    for (unsigned i = 1;; i++) {
        if ((__atomic_load_n(addr, __ATOMIC_ACQUIRE) == val) == equal) return 1;
        if (i % 16 == 0 && now_ns() - t0 > ns) return 0;
        cpu_relax();
    }
}

/* Polls job_word with pause for at most `ns`, calling sched_yield every
   YIELD_EVERY_NS: another runnable thread on this core gets it then, and when there
   is none the call returns at once (a yield at every look, a syscall each, made the
   2-thread MLP epoch 10% slower here than pauses alone). 1 when the word changed
   from `seen`. */
#define YIELD_EVERY_NS 20000u
static int yield_until_job(unsigned seen, uint64_t ns) {
    uint64_t t0 = now_ns(), next = t0 + YIELD_EVERY_NS;
    for (unsigned i = 1; __atomic_load_n(&job_word, __ATOMIC_ACQUIRE) == seen; i++) {
        cpu_relax();
        if (i % 16) continue;
        uint64_t t = now_ns();
        if (t - t0 > ns) return 0;
        if (t >= next) {
            sched_yield();
            next = t + YIELD_EVERY_NS;
        }
    }
    return 1;
}

/* The next job's word after `seen`. The sleeper count and the word are each written
   and then the other read, all sequentially consistent: either the publisher sees the
   sleeper and wakes it, or the sleeper sees the new word and does not sleep. */
static unsigned next_job(unsigned seen) {
    int *word = (int *)&job_word;
    if (!spin_until(word, (int)seen, 0, SPIN_NS) && !yield_until_job(seen, YIELD_NS)) {
        __atomic_add_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&job_word, __ATOMIC_SEQ_CST) == seen)
            futex_wait(word, (int)seen);
        __atomic_sub_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
    }
    return __atomic_load_n(&job_word, __ATOMIC_ACQUIRE);
}

static void part_done(int err) {
    if (err) __atomic_or_fetch(&job_err, err, __ATOMIC_RELAXED);
    if (__atomic_sub_fetch(&job_left, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&caller_asleep, __ATOMIC_SEQ_CST))
        futex_wake(&job_left, 1);
}

/* Claims and runs parts of the current job until none is left unclaimed. */
static void run_parts(void) {
    unsigned c = __atomic_load_n(&job_claim, __ATOMIC_ACQUIRE);
    while ((c & 0xffff) < c >> 16) {
        if (!__atomic_compare_exchange_n(&job_claim, &c, c + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;   /* c now holds the current value */
        part_done(job_fn(job_ctx, (int)(c & 0xffff), (int)(c >> 16)));
        c = __atomic_load_n(&job_claim, __ATOMIC_ACQUIRE);
    }
}

static void *worker_main(void *arg) {
    int tid = (int)(intptr_t)arg;
    unsigned seen = start_word[tid], every = start_every[tid];
    tls_inside = 1;                 /* kernels called from a part run serially */
    mg_reserve_gemm_workspaces();   /* a failure shows up as MG_ENOMEM in a kernel */
    for (;;) {
        seen = next_job(seen);
        unsigned e = __atomic_load_n(&job_every, __ATOMIC_ACQUIRE);
        if (e != every) {
            every = e;
            every_fn();
            part_done(0);
        }
        run_parts();
    }
    return NULL;
}

static void pool_after_fork(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pool_lock = fresh;              /* may have been held by a thread the child lacks */
    pool_size = 0;
    job_claim = 0;
    job_left = sleepers = caller_asleep = 0;
}

static void pool_register_fork(void) {
    pthread_atfork(NULL, NULL, pool_after_fork);
}

/* Starts workers until there are `want` (fewer when the system has no thread left:
   the callers then run more of the parts); under pool_lock. */
static void pool_grow(int want) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pool_register_fork);
    while (pool_size < want) {
        pthread_t th;
        pthread_attr_t attr;
        int tid = pool_size + 1;
        start_word[tid] = job_word;
        start_every[tid] = job_every;
        if (pthread_attr_init(&attr)) return;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)tid);
        pthread_attr_destroy(&attr);
        if (err) return;
        pthread_setname_np(th, "minigrad-pool");   /* for top -H, ps -L (<= 15 chars) */
        pool_size = tid;
    }
}

/* All nt parts on the calling thread, in tid order. */
static int run_here(int nt, mg_task_fn fn, void *ctx) {
    int was = tls_inside, err = 0;
    tls_inside = 1;
    for (int t = 0; t < nt; t++) err |= fn(ctx, t, nt);
    tls_inside = was;
    return err;
}

/* Publishes a job of `parts` parts to finish (claim: its claim word), wakes the
   workers, runs parts itself while any is unclaimed, then waits until all are done;
   under pool_lock, with job_fn and job_ctx set. Everything a part reads is written
   before the claim word: a worker still in run_parts from the last job may claim a
   part the moment it is stored. The caller's part 0 is claimed before the job is
   published, so a spinning worker cannot take it first: each thread keeps the same
   part from one job to the next (at 2 threads always), and with it that part's strip
   of the operands in its own L2 (a 2-thread dW = dy^T x of the MLP, 300x784x128:
   391 us with the parts falling to either thread, 303 us with libgomp's fixed ones). */
static int run_job(int parts, unsigned claim) {
    int own_first = (claim >> 16) > 0;
    job_err = 0;
    __atomic_store_n(&job_left, parts, __ATOMIC_RELAXED);
    __atomic_store_n(&job_claim, claim + own_first, __ATOMIC_RELEASE);
    __atomic_add_fetch(&job_word, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sleepers, __ATOMIC_SEQ_CST) > 0) futex_wake((int *)&job_word, INT_MAX);
    uint64_t t0 = now_ns();
    tls_inside = 1;
    if (own_first) part_done(job_fn(job_ctx, 0, (int)(claim >> 16)));
    run_parts();
    tls_inside = 0;
    /* The parts still running are about as long as the caller's own were: wait for
       them spinning (this thread has nothing else to do, and its core is its own)
       that long and up to MG_POOL_YIELD_US more, then sleep. Being woken took 65-500 us
       on this shared VM: sleeping after only as long as its own parts took, the
       2-thread MLP epoch was 10% slower. */
    uint64_t own = now_ns() - t0;
    if (!spin_until(&job_left, 0, 1, own + YIELD_NS)) {
        __atomic_store_n(&caller_asleep, 1, __ATOMIC_SEQ_CST);
        int left;
        while ((left = __atomic_load_n(&job_left, __ATOMIC_SEQ_CST)) != 0)
            futex_wait(&job_left, left);
        __atomic_store_n(&caller_asleep, 0, __ATOMIC_RELAXED);
    }
    return __atomic_load_n(&job_err, __ATOMIC_ACQUIRE);
}

int mg_parallel(int nt, mg_task_fn fn, void *ctx) {
    if (nt <= 1 || nt > 0xffff || tls_inside || !MG_POOL_THREADS)  /* 0xffff: CLAIM */
        return run_here(nt < 1 ? 1 : nt, fn, ctx);
    if (pthread_mutex_trylock(&pool_lock) != 0) return run_here(nt, fn, ctx);
    /* with fewer workers (MG_POOL_MAX, or no thread left) the caller runs more parts */
    pool_grow(nt <= MG_POOL_MAX ? nt - 1 : MG_POOL_MAX - 1);
    job_fn = fn;
    job_ctx = ctx;
    int err = run_job(nt, CLAIM(nt));
    pthread_mutex_unlock(&pool_lock);
    return err;
}

typedef struct { mg_range_fn body; void *ctx; long n; } range_job;

static int range_part(void *p, int tid, int nt) {
    const range_job *r = p;
    long q = r->n / nt, rem = r->n % nt;
    long lo = tid * q + (tid < rem ? tid : rem), hi = lo + q + (tid < rem);
    return lo < hi ? r->body(r->ctx, lo, hi) : 0;
}

int mg_parallel_for(int nt, long n, mg_range_fn body, void *ctx) {
    if (n <= 0) return 0;
    if (nt > n) nt = (int)n;
    if (nt <= 1) return body(ctx, 0, n);
    range_job r = {body, ctx, n};
    return mg_parallel(nt, range_part, &r);
}

void mg_on_every_thread(void (*fn)(void)) {
    if (tls_inside || !MG_POOL_THREADS) {
        fn();
        return;
    }
    pthread_mutex_lock(&pool_lock);   /* wait for a running job: its workers are busy */
    fn();
    if (pool_size > 0) {
        every_fn = fn;
        __atomic_add_fetch(&job_every, 1, __ATOMIC_RELEASE);
        run_job(pool_size, CLAIM(0)); /* nothing to claim: one done per worker */
    }
    pthread_mutex_unlock(&pool_lock);
}

int mg_in_parallel(void) {
    return tls_inside;
}

typedef struct { pthread_t outer; int same; } selftest_job;

static int selftest_inner(void *p, int tid, int nt) {
    (void)tid, (void)nt;
    selftest_job *j = p;
    if (!pthread_equal(pthread_self(), j->outer)) j->same = 0;
    return 0;
}

static int selftest_part(void *p, int tid, int nt) {
    int *out = p;
    selftest_job inner = {pthread_self(), 1};
    int err = mg_parallel(nt, selftest_inner, &inner);
    out[3 * tid] = tid;
    out[3 * tid + 1] = mg_threads_avail();
    out[3 * tid + 2] = inner.same;
    return err;
}

int mg_pool_selftest(int nt, int *out) {
    return mg_parallel(nt, selftest_part, out);
}
