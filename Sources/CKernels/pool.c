// A small pool of persistent worker threads for fork-join loops whose parts last microseconds (the products of one
// decode step). Waking a sleeping thread costs ~10 µs here (measured with DispatchQueue.concurrentPerform), as
// much as a small matrix-vector product; these workers instead spin for a short while after each job before they
// sleep, so back-to-back jobs start within a fraction of a microsecond.
//
// Protocol. Job g (the generation counter's value) opens part w by storing g in part_open[w]; whoever moves it from
// g to 0 first (its worker thread, or the caller once its own part is done) runs the part, and a worker that ran it
// stores g in part_done[w] when finished. The caller waits only for parts a worker has claimed, never for a worker
// that has not shown up: on a busy machine a worker can be descheduled for milliseconds. A worker that arrives late
// finds its part closed (or open for a later job, which it may then run: the job's task and context were written
// before the part was opened).
//
// Contention. When another process competes for the cores, a spinning worker takes CPU time from the caller and is
// itself descheduled often; the pool then runs at about half the speed of threads that sleep between jobs (measured:
// SmolLM2 bf16 batch-1 decode 27-31 against 51-59 tok/s). So the caller counts jobs in which a worker that was
// neither asleep nor new arrived late (its part taken by the caller) or a worker held the caller waiting for about a
// scheduler slice (preempted in its part; a worker merely slower than the caller, as one core of a virtual machine
// often is, is not counted: the pool is still faster then); after LATE_LIMIT such jobs in
// a window of WINDOW_JOBS, the pool declines jobs for a back-off period (the caller then uses ordinary threads). The
// period doubles with each contended window and halves with each clean one, within BACKOFF_MIN_NS ... BACKOFF_MAX_NS.
#define _GNU_SOURCE
#include "CKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define POOL_MAX_THREADS 64
#define SPIN_NS 100000L  // a worker spins this long after its last job before it sleeps
#define YIELD_AFTER_NS 20000L  // the caller, waiting for workers, yields the core after this long
#define WINDOW_JOBS 64
#define LATE_LIMIT 4
#define LATE_WAIT_NS 500000L  // a wait beyond twice the caller's own part time plus this counts as late
#define BACKOFF_MIN_NS 100000000L
#define BACKOFF_MAX_NS 5000000000L

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;  // guards sleeping and thread creation
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static atomic_int pool_busy;  // 1 while a job runs (a nested or concurrent caller falls back)
static atomic_uint_fast64_t pool_generation;  // bumped once per job
static atomic_int pool_sleepers;
static atomic_int worker_asleep[POOL_MAX_THREADS];  // 1 while worker w sleeps (or is waking up)
static int pool_threads;  // worker threads created (indices 1 ... pool_threads)
static atomic_uint_fast64_t part_open[POOL_MAX_THREADS];  // g while part w of job g is unclaimed, else 0
static atomic_uint_fast64_t part_done[POOL_MAX_THREADS];  // g once a worker has finished part w of job g
static ck_pool_task pool_task;
static void *pool_context;
static uint_fast64_t pool_start_generation[POOL_MAX_THREADS];  // the generation each thread was created at

// Contention back-off (the window's fields are only touched by the caller holding pool_busy).
static atomic_int pool_adaptive = 1;
static atomic_long pool_resume_ns;  // the pool declines jobs until this time
static int window_jobs, window_late;
static long backoff_ns = BACKOFF_MIN_NS;  // the next back-off's length
static atomic_long pool_backoffs;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *worker_main(void *arg) {
    const int index = (int)(intptr_t)arg;
    // Created inside ck_pool_run before it bumps the generation: the job of that bump is this thread's first.
    uint_fast64_t seen = pool_start_generation[index];
    for (;;) {
        // Wait for the next job: spin, then sleep.
        long start = now_ns();
        unsigned spins = 0;
        while (atomic_load_explicit(&pool_generation, memory_order_acquire) == seen) {
            cpu_relax();
            if ((++spins & 255) == 0 && now_ns() - start > SPIN_NS) {
                atomic_store(&worker_asleep[index], 1);
                atomic_fetch_add(&pool_sleepers, 1);
                pthread_mutex_lock(&pool_mutex);
                while (atomic_load(&pool_generation) == seen) pthread_cond_wait(&pool_wake, &pool_mutex);
                pthread_mutex_unlock(&pool_mutex);
                atomic_fetch_sub(&pool_sleepers, 1);
                atomic_store(&worker_asleep[index], 0);
            }
        }
        seen = atomic_load_explicit(&pool_generation, memory_order_acquire);
        uint_fast64_t expected = seen;
        if (atomic_compare_exchange_strong_explicit(&part_open[index], &expected, 0, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            pool_task(pool_context, index);
            atomic_store_explicit(&part_done[index], seen, memory_order_release);
        }
    }
    return NULL;
}

void ck_pool_set_adaptive(int adaptive) {
    atomic_store(&pool_adaptive, adaptive ? 1 : 0);
    atomic_store(&pool_resume_ns, 0);
}

long ck_pool_backoffs(void) { return atomic_load(&pool_backoffs); }

/// Counts one job in the contention window; declines jobs for a while when too many were late.
static void note_job(int late, long now) {
    window_jobs += 1;
    window_late += late;
    if (window_late >= LATE_LIMIT) {
        if (atomic_load(&pool_adaptive)) {
            atomic_store(&pool_resume_ns, now + backoff_ns);
            atomic_fetch_add(&pool_backoffs, 1);
            backoff_ns = backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : backoff_ns * 2;
        }
        window_jobs = 0;
        window_late = 0;
    } else if (window_jobs >= WINDOW_JOBS) {
        backoff_ns = backoff_ns / 2 < BACKOFF_MIN_NS ? BACKOFF_MIN_NS : backoff_ns / 2;
        window_jobs = 0;
        window_late = 0;
    }
}

int ck_pool_run(int workers, ck_pool_task task, void *context) {
    if (workers < 2 || workers >= POOL_MAX_THREADS) return 0;
    if (atomic_load_explicit(&pool_resume_ns, memory_order_relaxed) > 0 && now_ns() < atomic_load(&pool_resume_ns))
        return 0;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool_busy, &expected, 1)) return 0;
    int sleeping = 0;  // a job's worker was asleep or new: then its part taken by the caller is no sign of contention
    if (pool_threads < workers - 1) {
        sleeping = 1;
        pthread_mutex_lock(&pool_mutex);
        while (pool_threads < workers - 1) {
            pthread_t thread;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pool_start_generation[pool_threads + 1] = atomic_load(&pool_generation);
            int failed = pthread_create(&thread, &attr, worker_main, (void *)(intptr_t)(pool_threads + 1));
            pthread_attr_destroy(&attr);
            if (failed) break;
            pool_threads += 1;
        }
        pthread_mutex_unlock(&pool_mutex);
        if (pool_threads < workers - 1) {
            atomic_store(&pool_busy, 0);
            return 0;
        }
    }
    const uint_fast64_t g = atomic_load(&pool_generation) + 1;
    pool_task = task;
    pool_context = context;
    for (int w = 1; w < workers; w++) atomic_store_explicit(&part_open[w], g, memory_order_release);
    for (int w = 1; w < workers; w++) sleeping |= atomic_load(&worker_asleep[w]);
    atomic_store(&pool_generation, g);
    if (atomic_load(&pool_sleepers) > 0) {  // read after the bump: a worker going to sleep sees the bump or is woken
        pthread_mutex_lock(&pool_mutex);
        pthread_cond_broadcast(&pool_wake);
        pthread_mutex_unlock(&pool_mutex);
    }
    const long start = now_ns();
    task(context, 0);
    const long own = now_ns() - start;
    // Parts whose threads have not started them yet are done here.
    unsigned long claimed_by_workers = 0;  // bit w: part w runs on its worker
    int late = 0;
    for (int w = 1; w < workers; w++) {
        uint_fast64_t open = g;
        if (atomic_compare_exchange_strong_explicit(&part_open[w], &open, 0, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            task(context, w);
            late |= !sleeping;
        } else {
            claimed_by_workers |= 1UL << w;
        }
    }
    const long wait_start = now_ns();
    long waited = 0;
    for (int w = 1; w < workers; w++) {
        if (!(claimed_by_workers & (1UL << w))) continue;
        unsigned spins = 0;
        while (atomic_load_explicit(&part_done[w], memory_order_acquire) != g) {
            cpu_relax();
            if ((++spins & 255) == 0 && (waited = now_ns() - wait_start) > YIELD_AFTER_NS) sched_yield();
        }
    }
    if (claimed_by_workers) waited = now_ns() - wait_start;
    if (waited > 2 * own + LATE_WAIT_NS) late = 1;  // far beyond a wake-up's latency
    note_job(late, wait_start + waited);
    atomic_store(&pool_busy, 0);
    return 1;
}
