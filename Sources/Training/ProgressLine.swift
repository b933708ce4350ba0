import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the live progress line shows after a step. Unknown values are nil and left out.
public struct ProgressSnapshot: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var reward: Double?
    public var accuracy: Double?
    public var loss: Double?
    public var tokensPerSecond: Double?
    /// Seconds since the run (or the resumed part of it) started.
    public var elapsed: Double
    /// Steps done before `elapsed` started counting (a resumed run's starting step), for the ETA.
    public var firstStep: Int

    public init(step: Int, totalSteps: Int, reward: Double? = nil, accuracy: Double? = nil, loss: Double? = nil,
                tokensPerSecond: Double? = nil, elapsed: Double, firstStep: Int = 0) {
        self.step = step
        self.totalSteps = totalSteps
        self.reward = reward
        self.accuracy = accuracy
        self.loss = loss
        self.tokensPerSecond = tokensPerSecond
        self.elapsed = elapsed
        self.firstStep = firstStep
    }
}

/// The progress line's text and its output on stderr.
///
///     step 12/200  reward 0.458  acc 0.500  loss 0.0123  tok/s 153  ETA 0:12:34
///
/// ETA = elapsed / (step − firstStep) × (totalSteps − step): the mean time of the steps this process ran.
public enum ProgressLine {
    /// The line for a snapshot (no newline or carriage return).
    public static func format(_ s: ProgressSnapshot) -> String {
        let width = String(s.totalSteps).count
        let step = String(s.step)
        var parts = ["step " + String(repeating: " ", count: max(0, width - step.count)) + step + "/\(s.totalSteps)"]
        if let r = s.reward { parts.append("reward " + fixed(r, 3)) }
        if let a = s.accuracy { parts.append("acc " + fixed(a, 3)) }
        if let l = s.loss { parts.append("loss " + significant(l)) }
        if let t = s.tokensPerSecond { parts.append("tok/s " + (t.isFinite ? String(Int(t.rounded())) : "-")) }
        parts.append("ETA " + (eta(s).map(duration) ?? "-:--:--"))
        return parts.joined(separator: "  ")
    }

    /// Seconds left, or nil before the first step of this process has finished.
    public static func eta(_ s: ProgressSnapshot) -> Double? {
        let done = s.step - s.firstStep
        guard done > 0, s.elapsed.isFinite, s.elapsed >= 0 else { return nil }
        return s.elapsed / Double(done) * Double(max(0, s.totalSteps - s.step))
    }

    /// `h:mm:ss` (hours unbounded: `27:46:40`), rounded to the nearest second.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-:--:--" }
        let total = Int(seconds.rounded())
        let h = total / 3600, m = total / 60 % 60, sec = total % 60
        return "\(h):" + two(m) + ":" + two(sec)
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `digits` decimals; NaN and infinities as `nan`, `inf`, `-inf`.
    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
        return String(format: "%.\(digits)f", x)
    }

    /// Four significant digits (`0.01234`, `1.235`, `1235`, `1.235e-05`).
    static func significant(_ x: Double) -> String {
        guard x.isFinite else { return fixed(x, 0) }
        return String(format: "%.4g", x)
    }
}

/// Writes progress lines to stderr: on a terminal one line rewritten in place (`\r`, cleared to the end),
/// otherwise a plain line at most every `interval` seconds (and for the last step), so logs stay short.
public final class ProgressReporter {
    public let isTerminal: Bool
    public let interval: Double
    private var lastPrinted: Double = -.infinity
    private var shownLength = 0
    private let write: (String) -> Void

    /// `isTerminal` defaults to whether stderr is a TTY; `write` (for tests) defaults to writing to stderr.
    public init(isTerminal: Bool = isatty(2) == 1, interval: Double = 30, write: ((String) -> Void)? = nil) {
        self.isTerminal = isTerminal
        self.interval = interval
        self.write = write ?? { text in
            text.withCString { _ = fputs($0, stderr) }
            fflush(stderr)
        }
    }

    /// Shows a snapshot (a terminal is refreshed every time).
    public func update(_ s: ProgressSnapshot) {
        let line = ProgressLine.format(s)
        if isTerminal {
            write("\r" + line + "\u{1B}[K")
            shownLength = line.count
        } else if s.elapsed - lastPrinted >= interval || s.step >= s.totalSteps {
            write(line + "\n")
            lastPrinted = s.elapsed
        }
    }

    /// Ends the live line (call before printing anything else, and at the end of the run).
    public func finish() {
        if isTerminal, shownLength > 0 { write("\n") }
        shownLength = 0
    }
}
