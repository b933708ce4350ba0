// A small pool of persistent worker threads for fork-join loops whose parts last microseconds (the products of one
// decode step). Waking a sleeping thread costs ~10 µs here (measured with DispatchQueue.concurrentPerform), as
// much as a small matrix-vector product; these workers instead spin for a short while after each job before they
// sleep, so back-to-back jobs start within a fraction of a microsecond.
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

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;  // guards sleeping and thread creation
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static atomic_int pool_busy;  // 1 while a job runs (a nested or concurrent caller falls back)
static atomic_uint_fast64_t pool_generation;  // bumped once per job
static atomic_int pool_sleepers;
static atomic_int pool_remaining;  // worker threads of the current job still running
static int pool_threads;  // worker threads created (indices 1 ... pool_threads)
static int pool_active;  // worker threads taking part in the current job
static atomic_int pool_claimed[POOL_MAX_THREADS];  // part w of the current job taken (by its thread or the caller)
static ck_pool_task pool_task;
static uint_fast64_t pool_start_generation[POOL_MAX_THREADS];  // the generation each thread was created at
static void *pool_context;

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
                atomic_fetch_add(&pool_sleepers, 1);
                pthread_mutex_lock(&pool_mutex);
                while (atomic_load(&pool_generation) == seen) pthread_cond_wait(&pool_wake, &pool_mutex);
                pthread_mutex_unlock(&pool_mutex);
                atomic_fetch_sub(&pool_sleepers, 1);
            }
        }
        seen = atomic_load_explicit(&pool_generation, memory_order_acquire);
        // A part the caller has already taken (this thread was late: descheduled, or waking) is skipped.
        if (index < pool_active && atomic_exchange(&pool_claimed[index], 1) == 0) pool_task(pool_context, index);
        atomic_fetch_sub_explicit(&pool_remaining, 1, memory_order_release);
    }
    return NULL;
}

int ck_pool_run(int workers, ck_pool_task task, void *context) {
    if (workers < 2 || workers >= POOL_MAX_THREADS) return 0;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool_busy, &expected, 1)) return 0;
    if (pool_threads < workers - 1) {
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
    pool_task = task;
    pool_context = context;
    pool_active = workers;
    for (int w = 1; w < workers; w++) atomic_store_explicit(&pool_claimed[w], 0, memory_order_relaxed);
    atomic_store_explicit(&pool_remaining, pool_threads, memory_order_relaxed);
    // Every created worker passes through the job (those beyond `workers` only acknowledge it).
    atomic_fetch_add(&pool_generation, 1);
    if (atomic_load(&pool_sleepers) > 0) {
        pthread_mutex_lock(&pool_mutex);
        pthread_cond_broadcast(&pool_wake);
        pthread_mutex_unlock(&pool_mutex);
    }
    task(context, 0);
    // Parts whose threads have not started them yet (on a busy machine a worker may not be running) are done here,
    // so the caller only ever waits for parts in progress.
    for (int w = 1; w < workers; w++)
        if (atomic_exchange(&pool_claimed[w], 1) == 0) task(context, w);
    long start = 0;
    unsigned spins = 0;
    while (atomic_load_explicit(&pool_remaining, memory_order_acquire) > 0) {
        cpu_relax();
        if ((++spins & 255) == 0) {
            if (start == 0) start = now_ns();
            else if (now_ns() - start > YIELD_AFTER_NS) sched_yield();
        }
    }
    atomic_store(&pool_busy, 0);
    return 1;
}
