import Foundation

/// Renders a parsed template. Variables live in a stack of scopes: each `for` iteration and each macro call
/// gets its own (so a `set` inside a loop lasts only for that iteration, as in Jinja; `namespace()` carries
/// values out), `if` bodies do not.
final class JinjaEvaluator {
    private var scopes: [[String: JinjaValue]]
    private var output = ""
    /// Bounds that keep a hostile template from exhausting the stack, memory or time.
    private var callDepth = 0
    private var steps = 0
    static let maxCallDepth = 64
    static let maxOutputBytes = 64 << 20
    static let maxSteps = 1_000_000

    enum Flow { case normal, breakLoop, continueLoop }

    init(globals: [String: JinjaValue]) {
        scopes = [JinjaBuiltins.globals.merging(globals) { _, new in new }]
    }

    func render(_ nodes: [JinjaNode]) throws -> String {
        output = ""
        _ = try run(nodes)
        return output
    }

    private func checkOutput() throws {
        if output.utf8.count > Self.maxOutputBytes {
            throw TokenizerError("chat template: output larger than \(Self.maxOutputBytes >> 20) MiB; giving up")
        }
    }

    // MARK: scopes

    private func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() {
            if let v = scope[name] { return v }
        }
        return .undefined(name)
    }

    private func assign(_ name: String, _ value: JinjaValue) {
        scopes[scopes.count - 1][name] = value
    }

    // MARK: statements

    private func run(_ nodes: [JinjaNode]) throws -> Flow {
        for node in nodes {
            let flow = try run(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func run(_ node: JinjaNode) throws -> Flow {
        switch node {
        case .text(let s):
            output += s
            try checkOutput()
        case .output(let e):
            output += try eval(e).pythonString
            try checkOutput()
        case .ifBlock(let branches, let otherwise):
            for (cond, body) in branches where try eval(cond).isTruthy {
                return try run(body)
            }
            return try run(otherwise)
        case .forBlock(let targets, let iterable, let filter, let body, let otherwise):
            return try runFor(targets, iterable, filter, body, otherwise)
        case .set(let targets, let attribute, let valueExpr):
            let value = try eval(valueExpr)
            if let attribute {
                guard case .namespace(let ns) = lookup(targets[0]) else {
                    throw TokenizerError("chat template: cannot assign attribute '\(attribute)' of \(targets[0]), which is not a namespace()")
                }
                ns.attributes[attribute] = value
            } else if targets.count == 1 {
                assign(targets[0], value)
            } else {
                let items = try JinjaBuiltins.iterate(value, what: "set")
                guard items.count == targets.count else {
                    throw TokenizerError("chat template: cannot unpack \(items.count) values into \(targets.count) names")
                }
                for (t, v) in zip(targets, items) { assign(t, v) }
            }
        case .setBlock(let name, let body):
            let saved = output
            output = ""
            _ = try run(body)
            let captured = output
            output = saved
            assign(name, .string(captured))
        case .macro(let name, let parameters, let body):
            assign(name, .function(makeMacro(name, parameters, body)))
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func runFor(
        _ targets: [String], _ iterableExpr: JinjaExpr, _ filter: JinjaExpr?, _ body: [JinjaNode], _ otherwise: [JinjaNode]
    ) throws -> Flow {
        let iterable = try eval(iterableExpr)
        var items = try JinjaBuiltins.iterate(iterable, what: "for loop")
        func bind(_ item: JinjaValue) throws {
            if targets.count == 1 {
                assign(targets[0], item)
            } else {
                let parts = try JinjaBuiltins.iterate(item, what: "for loop target")
                guard parts.count == targets.count else {
                    throw TokenizerError("chat template: cannot unpack \(parts.count) values into \(targets.count) loop variables")
                }
                for (t, v) in zip(targets, parts) { assign(t, v) }
            }
        }
        if let filter {
            items = try items.filter { item in
                scopes.append([:])
                defer { scopes.removeLast() }
                try bind(item)
                return try eval(filter).isTruthy
            }
        }
        if items.isEmpty { return try run(otherwise) }
        let n = items.count
        for (i, item) in items.enumerated() {
            steps += 1
            guard steps <= Self.maxSteps else {
                throw TokenizerError("chat template: more than \(Self.maxSteps) loop iterations; giving up")
            }
            // Each iteration has its own scope: a `set` in the body is gone at the next iteration.
            scopes.append([:])
            defer { scopes.removeLast() }
            try bind(item)
            var loop = JinjaDict()
            loop["index"] = .int(i + 1)
            loop["index0"] = .int(i)
            loop["revindex"] = .int(n - i)
            loop["revindex0"] = .int(n - i - 1)
            loop["first"] = .bool(i == 0)
            loop["last"] = .bool(i == n - 1)
            loop["length"] = .int(n)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("loop.previtem")
            loop["nextitem"] = i + 1 < n ? items[i + 1] : .undefined("loop.nextitem")
            loop["cycle"] = .function(JinjaFunction(name: "loop.cycle") { args, _ in
                guard !args.isEmpty else { throw TokenizerError("chat template: loop.cycle() needs arguments") }
                return args[i % args.count]
            })
            assign("loop", .dict(loop))
            if try run(body) == .breakLoop { break }
        }
        return .normal
    }

    private func makeMacro(_ name: String, _ parameters: [(String, JinjaExpr?)], _ body: [JinjaNode]) -> JinjaFunction {
        JinjaFunction(name: name) { [unowned self] args, kwargs in
            guard args.count <= parameters.count else {
                throw TokenizerError("chat template: macro \(name) takes \(parameters.count) arguments, got \(args.count)")
            }
            var frame: [String: JinjaValue] = [:]
            for (i, (pname, dflt)) in parameters.enumerated() {
                if i < args.count {
                    frame[pname] = args[i]
                } else if let kw = kwargs.first(where: { $0.0 == pname }) {
                    frame[pname] = kw.1
                } else if let dflt {
                    frame[pname] = try self.eval(dflt)
                } else {
                    frame[pname] = .undefined(pname)
                }
            }
            for (k, _) in kwargs where !parameters.contains(where: { $0.0 == k }) {
                throw TokenizerError("chat template: macro \(name) has no parameter \(k)")
            }
            guard self.callDepth < Self.maxCallDepth else {
                throw TokenizerError("chat template: macro \(name) calls nested more than \(Self.maxCallDepth) deep")
            }
            let saved = self.output
            self.output = ""
            self.scopes.append(frame)
            self.callDepth += 1
            defer {
                self.scopes.removeLast()
                self.callDepth -= 1
            }
            _ = try self.run(body)
            let result = self.output
            self.output = saved
            return .string(result)
        }
    }

    // MARK: expressions

    func eval(_ e: JinjaExpr) throws -> JinjaValue {
        switch e {
        case .literal(let v):
            return v
        case .name(let n, _):
            return lookup(n)
        case .list(let items):
            return .array(try items.map(eval))
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs { d[try eval(k)] = try eval(v) }
            return .dict(d)
        case .attribute(let base, let name, let line):
            let b = try eval(base)
            if case .undefined(let what) = b {
                throw TokenizerError("chat template line \(line): '\(what)' is undefined (reading .\(name))")
            }
            return JinjaBuiltins.attribute(b, name)
        case .item(let base, let indexExpr, let line):
            let b = try eval(base)
            let index = try eval(indexExpr)
            if case .undefined(let what) = b {
                throw TokenizerError("chat template line \(line): '\(what)' is undefined (reading [\(index.pythonRepr)])")
            }
            return try JinjaBuiltins.item(b, index, line: line)
        case .slice(let base, let a, let b, let c, let line):
            let v = try eval(base)
            return try JinjaBuiltins.slice(v, try a.map(eval), try b.map(eval), try c.map(eval), line: line)
        case .call(let fnExpr, let argExprs, let kwargExprs, let line):
            let fn = try eval(fnExpr)
            let args = try argExprs.map(eval)
            let kwargs = try kwargExprs.map { ($0.0, try eval($0.1)) }
            guard case .function(let f) = fn else {
                if case .undefined(let what) = fn {
                    throw TokenizerError("chat template line \(line): '\(what)' is undefined and cannot be called")
                }
                throw TokenizerError("chat template line \(line): a \(fn.typeName) value is not callable")
            }
            return try f.call(args, kwargs)
        case .filter(let base, let name, let argExprs, let kwargExprs, let line):
            let v = try eval(base)
            let args = try argExprs.map(eval)
            let kwargs = try kwargExprs.map { ($0.0, try eval($0.1)) }
            return try JinjaBuiltins.filter(name, v, args, kwargs, line: line, evaluator: self)
        case .test(let base, let name, let argExprs, let negated, let line):
            let v = try eval(base)
            let args = try argExprs.map(eval)
            let result = try JinjaBuiltins.test(name, v, args, line: line)
            return .bool(negated ? !result : result)
        case .not(let x):
            return .bool(!(try eval(x).isTruthy))
        case .negate(let x, let line):
            switch try eval(x) {
            case .int(let i): return .int(0 &- i)
            case .double(let d): return .double(-d)
            case .bool(let b): return .int(b ? -1 : 0)
            case let v: throw TokenizerError("chat template line \(line): cannot negate a \(v.typeName)")
            }
        case .and(let a, let b):
            let l = try eval(a)
            return l.isTruthy ? try eval(b) : l
        case .or(let a, let b):
            let l = try eval(a)
            return l.isTruthy ? l : try eval(b)
        case .conditional(let cond, let then, let otherwise):
            if try eval(cond).isTruthy { return try eval(then) }
            return try otherwise.map(eval) ?? .undefined("conditional expression")
        case .binary(let op, let a, let b, let line):
            return try JinjaBuiltins.binary(op, try eval(a), try eval(b), line: line)
        }
    }

    /// Calls a filter by name on each item (for `map('upper')`, `select('odd')`).
    func applyFilter(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], line: Int) throws -> JinjaValue {
        try JinjaBuiltins.filter(name, v, args, [], line: line, evaluator: self)
    }
}
