/// The syntax tree of a parsed template.
indirect enum JinjaNode {
    case text(String)
    case output(JinjaExpr)
    case ifBlock(branches: [(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode])
    case forBlock(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode])
    /// `{% set a = x %}`, `{% set a, b = x %}`, `{% set ns.attr = x %}`.
    case set(targets: [String], attribute: String?, value: JinjaExpr)
    /// `{% set a %}...{% endset %}`
    case setBlock(name: String, body: [JinjaNode])
    case macro(name: String, parameters: [(String, JinjaExpr?)], body: [JinjaNode])
    case breakLoop
    case continueLoop
}

indirect enum JinjaExpr {
    case literal(JinjaValue)
    case name(String, line: Int)
    case list([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    case attribute(JinjaExpr, String, line: Int)
    case item(JinjaExpr, JinjaExpr, line: Int)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?, line: Int)
    case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)], line: Int)
    case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)], line: Int)
    case test(JinjaExpr, String, [JinjaExpr], negated: Bool, line: Int)
    case not(JinjaExpr)
    case negate(JinjaExpr, line: Int)
    case binary(String, JinjaExpr, JinjaExpr, line: Int)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case conditional(JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
}
