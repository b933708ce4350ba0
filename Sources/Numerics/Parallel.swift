import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A minimal parallel-for over `count` independent chunks of work.
///
/// With `threads <= 1` or a single chunk the body runs inline on the caller's thread; otherwise the chunks are
/// spread over `min(threads, count)` workers, worker `w` taking chunks `w, w + workers, w + 2·workers, ...` (so
/// work that grows with the index, like causal attention, stays balanced), on `DispatchQueue.concurrentPerform`.
///
/// By default worker 0 is the calling thread and the others are persistent threads of `ck_pool_run` that spin
/// briefly between jobs: a decode step runs hundreds of products of tens of microseconds each, and waking a
/// sleeping thread per product costs ~10 µs, so on a quiet machine this is up to ~1.4x faster at batch 1. When
/// another process competes for the cores, spinning workers are descheduled and arrive late; the pool notices and
/// declines jobs for a while (doubling while the contention lasts), and the calls then run on
/// `DispatchQueue.concurrentPerform`, which sleeps between jobs. `TINYLORA_THREAD_POOL=dispatch` uses Dispatch
/// always. A call made while the pool is busy (nested, or from another thread) uses Dispatch.
public enum Parallel {
    /// Whether `ck_pool_run` may serve the calls: not with `TINYLORA_THREAD_POOL=dispatch` at start.
    nonisolated(unsafe) public static var usesSpinningPool: Bool = {
        guard let value = getenv("TINYLORA_THREAD_POOL") else { return true }
        return String(cString: value) != "dispatch"
    }()

    /// How many times the pool has stepped aside for a competing process (diagnostics).
    public static var poolBackoffs: Int { ck_pool_backoffs() }

    /// Turns the pool's contention back-off on (the default) or off, and ends a back-off in progress (tests).
    public static func setPoolBackoff(enabled: Bool) { ck_pool_set_adaptive(enabled ? 1 : 0) }

    /// One job's state, reached by the pool's C workers through a pointer.
    private struct Job {
        let body: (Int) -> Void
        let count: Int
        let workers: Int
    }

    private static let runPart: ck_pool_task = { context, w in
        let job = context!.assumingMemoryBound(to: Job.self)
        let count = job.pointee.count, workers = job.pointee.workers
        for i in stride(from: Int(w), to: count, by: workers) { job.pointee.body(i) }
    }

    /// Calls `body(i)` exactly once for every `i` in `0 ..< count`.
    public static func forEach(count: Int, threads: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(max(threads, 1), count)
        if workers == 1 {
            for i in 0 ..< count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body, count: count, workers: workers)
            if usesSpinningPool, ck_pool_run(Int32(workers), runPart, &job) != 0 { return }
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in stride(from: w, to: count, by: workers) { body(i) }
            }
        }
    }

    /// Splits `0 ..< total` into `parts` contiguous ranges of near-equal size, rounding boundaries to multiples
    /// of `alignment` (the last range takes the remainder), and calls `body(range)` for each non-empty one in
    /// parallel.
    public static func forRanges(total: Int, parts: Int, alignment: Int = 1, threads: Int,
                                 _ body: (Range<Int>) -> Void) {
        guard total > 0 else { return }
        let parts = max(1, min(parts, (total + alignment - 1) / alignment))
        var bounds = [0]
        for p in 1 ..< parts {
            let b = (total * p / parts) / alignment * alignment
            bounds.append(max(b, bounds[bounds.count - 1]))
        }
        bounds.append(total)
        forEach(count: parts, threads: threads) { p in
            let r = bounds[p] ..< bounds[p + 1]
            if !r.isEmpty { body(r) }
        }
    }
}
