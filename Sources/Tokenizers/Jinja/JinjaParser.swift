/// Parses lexed template parts into a tree (a recursive-descent parser with Jinja2's operator precedence:
/// `x if c else y` < or < and < not < comparisons and `in` < `+ -` < `~` < `* / // %` < `**` < unary `-`
/// < filters `|`, tests `is` < postfix `.a [i] (args)` < literals).
struct JinjaParser {
    private let parts: [JinjaLexer.Part]
    private var index = 0
    /// Nesting of blocks, bounded so a hostile template cannot exhaust the stack.
    private var depth = 0
    static let maxDepth = 200

    init(_ parts: [JinjaLexer.Part]) {
        self.parts = parts
    }

    static func parse(_ source: String) throws -> [JinjaNode] {
        var p = JinjaParser(try JinjaLexer.lex(source))
        let (nodes, end) = try p.parseBlock(until: [])
        if let end { throw TokenizerError("chat template line \(end.line): unexpected {% \(end.word) %}") }
        return nodes
    }

    /// Parses nodes until a statement whose first word is in `until` (returned, not consumed further).
    private mutating func parseBlock(until: Set<String>) throws -> ([JinjaNode], (word: String, tokens: ExprTokens, line: Int)?) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw TokenizerError("chat template: blocks nested more than \(Self.maxDepth) deep") }
        var nodes: [JinjaNode] = []
        while index < parts.count {
            let part = parts[index]
            index += 1
            switch part {
            case .text(let s):
                nodes.append(.text(s))
            case .output(let tokens, let line):
                var t = ExprTokens(tokens, line: line)
                let e = try t.parseExpression()
                try t.expectEnd()
                nodes.append(.output(e))
            case .statement(let tokens, let line):
                var t = ExprTokens(tokens, line: line)
                guard case .name(let word)? = t.peek?.kind else {
                    throw TokenizerError("chat template line \(line): a {% %} tag must start with a keyword")
                }
                if until.contains(word) {
                    t.advance()
                    return (nodes, (word, t, line))
                }
                t.advance()
                nodes.append(try parseStatement(word, &t, line: line))
            }
        }
        if !until.isEmpty {
            throw TokenizerError("chat template: missing {% \(until.sorted().joined(separator: " / ")) %} at the end of the template")
        }
        return (nodes, nil)
    }

    private mutating func parseStatement(_ word: String, _ t: inout ExprTokens, line: Int) throws -> JinjaNode {
        switch word {
        case "if":
            var branches: [(JinjaExpr, [JinjaNode])] = []
            var cond = try t.parseExpression()
            try t.expectEnd()
            while true {
                let (body, end) = try parseBlock(until: ["elif", "else", "endif"])
                branches.append((cond, body))
                guard var end else { throw TokenizerError("chat template line \(line): {% if %} is never closed") }
                switch end.word {
                case "elif":
                    cond = try end.tokens.parseExpression()
                    try end.tokens.expectEnd()
                case "else":
                    try end.tokens.expectEnd()
                    let (other, close) = try parseBlock(until: ["endif"])
                    guard close != nil else { throw TokenizerError("chat template line \(line): {% if %} is never closed") }
                    return .ifBlock(branches: branches, otherwise: other)
                default:
                    return .ifBlock(branches: branches, otherwise: [])
                }
            }
        case "for":
            var targets = [try t.expectName()]
            while t.accept(",") { targets.append(try t.expectName()) }
            try t.expectKeyword("in")
            let iterable = try t.parseExpression(allowConditional: false)
            var filter: JinjaExpr?
            if t.acceptKeyword("if") { filter = try t.parseExpression(allowConditional: false) }
            _ = t.acceptKeyword("recursive")
            try t.expectEnd()
            let (body, end) = try parseBlock(until: ["else", "endfor"])
            guard let end else { throw TokenizerError("chat template line \(line): {% for %} is never closed") }
            var otherwise: [JinjaNode] = []
            if end.word == "else" {
                let (other, close) = try parseBlock(until: ["endfor"])
                guard close != nil else { throw TokenizerError("chat template line \(line): {% for %} is never closed") }
                otherwise = other
            }
            return .forBlock(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case "set":
            let first = try t.expectName()
            if t.accept(".") {
                let attr = try t.expectName()
                try t.expect("=")
                let value = try t.parseExpression()
                try t.expectEnd()
                return .set(targets: [first], attribute: attr, value: value)
            }
            var targets = [first]
            while t.accept(",") { targets.append(try t.expectName()) }
            if t.accept("=") {
                var value = try t.parseExpression()
                if t.peekOp(",") {
                    var items = [value]
                    while t.accept(",") { items.append(try t.parseExpression()) }
                    value = .list(items)
                }
                try t.expectEnd()
                return .set(targets: targets, attribute: nil, value: value)
            }
            try t.expectEnd()
            let (body, end) = try parseBlock(until: ["endset"])
            guard end != nil else { throw TokenizerError("chat template line \(line): {% set %} block is never closed") }
            return .setBlock(name: first, body: body)
        case "macro":
            let name = try t.expectName()
            try t.expect("(")
            var params: [(String, JinjaExpr?)] = []
            if !t.accept(")") {
                repeat {
                    let p = try t.expectName()
                    params.append((p, t.accept("=") ? try t.parseExpression() : nil))
                } while t.accept(",")
                try t.expect(")")
            }
            try t.expectEnd()
            let (body, end) = try parseBlock(until: ["endmacro"])
            guard end != nil else { throw TokenizerError("chat template line \(line): {% macro %} is never closed") }
            return .macro(name: name, parameters: params, body: body)
        case "break":
            try t.expectEnd()
            return .breakLoop
        case "continue":
            try t.expectEnd()
            return .continueLoop
        case "generation":
            // transformers' {% generation %} marks assistant text; rendering is unchanged.
            try t.expectEnd()
            let (body, end) = try parseBlock(until: ["endgeneration"])
            guard end != nil else { throw TokenizerError("chat template line \(line): {% generation %} is never closed") }
            return .ifBlock(branches: [(.literal(.bool(true)), body)], otherwise: [])
        default:
            throw TokenizerError("chat template line \(line): unknown or misplaced tag {% \(word) %}")
        }
    }
}

/// A cursor over the tokens of one tag, with the expression grammar.
struct ExprTokens {
    private let tokens: [JinjaToken]
    private var p = 0
    let line: Int
    private var depth = 0

    init(_ tokens: [JinjaToken], line: Int) {
        self.tokens = tokens
        self.line = line
    }

    var peek: JinjaToken? { p < tokens.count ? tokens[p] : nil }
    mutating func advance() { p += 1 }
    private var currentLine: Int { peek?.line ?? line }

    func error(_ what: String) -> TokenizerError {
        TokenizerError("chat template line \(currentLine): \(what)")
    }

    private func describe(_ t: JinjaToken?) -> String {
        guard let t else { return "end of tag" }
        switch t.kind {
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string \(String(reflecting: s))"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .op(let o): return "'\(o)'"
        }
    }

    func peekOp(_ op: String) -> Bool { peek?.kind == .op(op) }
    func peekKeyword(_ k: String) -> Bool { peek?.kind == .name(k) }

    mutating func accept(_ op: String) -> Bool {
        if peekOp(op) { p += 1; return true }
        return false
    }

    mutating func acceptKeyword(_ k: String) -> Bool {
        if peekKeyword(k) { p += 1; return true }
        return false
    }

    mutating func expect(_ op: String) throws {
        guard accept(op) else { throw error("expected '\(op)' but found \(describe(peek))") }
    }

    mutating func expectKeyword(_ k: String) throws {
        guard acceptKeyword(k) else { throw error("expected '\(k)' but found \(describe(peek))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n)? = peek?.kind else { throw error("expected a name but found \(describe(peek))") }
        p += 1
        return n
    }

    func expectEnd() throws {
        if p < tokens.count { throw error("unexpected \(describe(peek)) before the end of the tag") }
    }

    // MARK: expressions

    mutating func parseExpression(allowConditional: Bool = true) throws -> JinjaExpr {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JinjaParser.maxDepth else { throw error("expression nested too deeply") }
        let e = try parseOr()
        if allowConditional, acceptKeyword("if") {
            let cond = try parseOr()
            let otherwise = acceptKeyword("else") ? try parseExpression() : nil
            return .conditional(cond, then: e, otherwise: otherwise)
        }
        return e
    }

    private mutating func parseOr() throws -> JinjaExpr {
        var e = try parseAnd()
        while acceptKeyword("or") { e = .or(e, try parseAnd()) }
        return e
    }

    private mutating func parseAnd() throws -> JinjaExpr {
        var e = try parseNot()
        while acceptKeyword("and") { e = .and(e, try parseNot()) }
        return e
    }

    private mutating func parseNot() throws -> JinjaExpr {
        if acceptKeyword("not") {
            depth += 1
            defer { depth -= 1 }
            guard depth <= JinjaParser.maxDepth else { throw error("expression nested too deeply") }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> JinjaExpr {
        let first = try parseMath1()
        var e = first
        var left = first
        var chained: JinjaExpr?
        while true {
            let l = currentLine
            var op: String?
            for candidate in ["==", "!=", "<", ">", "<=", ">="] where accept(candidate) {
                op = candidate
                break
            }
            if op == nil {
                if acceptKeyword("in") {
                    op = "in"
                } else if peekKeyword("not"), p + 1 < tokens.count, tokens[p + 1].kind == .name("in") {
                    p += 2
                    op = "not in"
                }
            }
            guard let op else { break }
            let right = try parseMath1()
            let cmp = JinjaExpr.binary(op, left, right, line: l)
            chained = chained.map { .and($0, cmp) } ?? cmp
            left = right
            e = chained!
        }
        return e
    }

    private mutating func parseMath1() throws -> JinjaExpr {
        var e = try parseConcat()
        while true {
            let l = currentLine
            if accept("+") {
                e = .binary("+", e, try parseConcat(), line: l)
            } else if accept("-") {
                e = .binary("-", e, try parseConcat(), line: l)
            } else {
                return e
            }
        }
    }

    private mutating func parseConcat() throws -> JinjaExpr {
        var e = try parseMath2()
        while true {
            let l = currentLine
            guard accept("~") else { return e }
            e = .binary("~", e, try parseMath2(), line: l)
        }
    }

    private mutating func parseMath2() throws -> JinjaExpr {
        var e = try parsePow()
        while true {
            let l = currentLine
            var matched: String?
            for op in ["*", "/", "//", "%"] where accept(op) {
                matched = op
                break
            }
            guard let op = matched else { return e }
            e = .binary(op, e, try parsePow(), line: l)
        }
    }

    private mutating func parsePow() throws -> JinjaExpr {
        var e = try parseUnary()
        while true {
            let l = currentLine
            guard accept("**") else { return e }
            e = .binary("**", e, try parseUnary(), line: l)
        }
    }

    private mutating func parseUnary() throws -> JinjaExpr {
        let l = currentLine
        depth += 1
        defer { depth -= 1 }
        guard depth <= JinjaParser.maxDepth else { throw error("expression nested too deeply") }
        if accept("-") { return try parseFilters(.negate(try parseUnary(), line: l)) }
        if accept("+") { return try parseFilters(try parseUnary()) }
        return try parseFilters(try parsePostfix(try parsePrimary()))
    }

    private mutating func parseFilters(_ base: JinjaExpr) throws -> JinjaExpr {
        var e = base
        while true {
            let l = currentLine
            if accept("|") {
                let name = try dottedName()
                var args: [JinjaExpr] = []
                var kwargs: [(String, JinjaExpr)] = []
                if accept("(") { (args, kwargs) = try parseArguments() }
                e = try parsePostfix(.filter(e, name, args, kwargs, line: l))
            } else if acceptKeyword("is") {
                let negated = acceptKeyword("not")
                let name = try dottedName()
                var args: [JinjaExpr] = []
                if accept("(") {
                    (args, _) = try parseArguments()
                } else if let t = peek, startsPrimary(t), !["and", "or", "else", "if", "in", "is", "not"].contains(nameOf(t) ?? "") {
                    args = [try parsePostfix(try parsePrimary())]
                }
                e = .test(e, name, args, negated: negated, line: l)
            } else {
                return e
            }
        }
    }

    private func nameOf(_ t: JinjaToken) -> String? {
        if case .name(let n) = t.kind { return n }
        return nil
    }

    private func startsPrimary(_ t: JinjaToken) -> Bool {
        switch t.kind {
        case .name, .string, .int, .double: return true
        case .op(let o): return o == "(" || o == "[" || o == "{"
        }
    }

    private mutating func dottedName() throws -> String {
        var name = try expectName()
        while peekOp("."), p + 1 < tokens.count, case .name(let n) = tokens[p + 1].kind {
            p += 2
            name += "." + n
        }
        return name
    }

    private mutating func parsePostfix(_ base: JinjaExpr) throws -> JinjaExpr {
        var e = base
        while true {
            let l = currentLine
            if accept(".") {
                if case .int(let i)? = peek?.kind {
                    p += 1
                    e = .item(e, .literal(.int(i)), line: l)
                } else {
                    e = .attribute(e, try expectName(), line: l)
                }
            } else if accept("[") {
                var parts: [JinjaExpr?] = [nil]
                var isSlice = false
                while !peekOp("]") {
                    if accept(":") {
                        isSlice = true
                        parts.append(nil)
                    } else {
                        guard parts[parts.count - 1] == nil else { throw error("expected ']' but found \(describe(peek))") }
                        parts[parts.count - 1] = try parseExpression()
                    }
                }
                try expect("]")
                if isSlice {
                    guard parts.count <= 3 else { throw error("a slice has at most three parts") }
                    while parts.count < 3 { parts.append(nil) }
                    e = .slice(e, parts[0], parts[1], parts[2], line: l)
                } else {
                    guard let index = parts[0] else { throw error("empty subscript []") }
                    e = .item(e, index, line: l)
                }
            } else if accept("(") {
                let (args, kwargs) = try parseArguments()
                e = .call(e, args, kwargs, line: l)
            } else {
                return e
            }
        }
    }

    /// Arguments after "(", through the closing ")".
    private mutating func parseArguments() throws -> ([JinjaExpr], [(String, JinjaExpr)]) {
        var args: [JinjaExpr] = []
        var kwargs: [(String, JinjaExpr)] = []
        while !accept(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expect(",") }
            if accept(")") { break }
            if case .name(let n)? = peek?.kind, p + 1 < tokens.count, tokens[p + 1].kind == .op("=") {
                p += 2
                kwargs.append((n, try parseExpression()))
            } else {
                guard kwargs.isEmpty else { throw error("positional argument after a keyword argument") }
                args.append(try parseExpression())
            }
        }
        return (args, kwargs)
    }

    private mutating func parsePrimary() throws -> JinjaExpr {
        guard let t = peek else { throw error("expected an expression but the tag ended") }
        p += 1
        switch t.kind {
        case .string(var s):
            // Adjacent string literals are joined, as in Python.
            while case .string(let more)? = peek?.kind {
                s += more
                p += 1
            }
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .double(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, line: t.line)
            }
        case .op("("):
            if accept(")") { return .list([]) }
            let e = try parseExpression()
            if peekOp(",") {
                var items = [e]
                while accept(",") {
                    if peekOp(")") { break }
                    items.append(try parseExpression())
                }
                try expect(")")
                return .list(items)
            }
            try expect(")")
            return e
        case .op("["):
            var items: [JinjaExpr] = []
            while !accept("]") {
                if !items.isEmpty { try expect(","); if accept("]") { break } }
                items.append(try parseExpression())
            }
            return .list(items)
        case .op("{"):
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !accept("}") {
                if !pairs.isEmpty { try expect(","); if accept("}") { break } }
                let k = try parseExpression()
                try expect(":")
                pairs.append((k, try parseExpression()))
            }
            return .dict(pairs)
        default:
            p -= 1
            throw error("unexpected \(describe(t))")
        }
    }
}
