import Foundation
import Tokenizers
import XCTest

/// Small templates on Jinja details (whitespace control, trim/lstrip blocks, loops, filters, literals and
/// errors), each rendered by transformers' own Jinja environment (Fixtures/chat_golden.json "jinja_cases").
final class JinjaCasesTests: XCTestCase {
    func testCasesMatchTransformersJinja() throws {
        let golden = try TestSupport.json("chat_golden.json")
        let context = try XCTUnwrap(golden["jinja_context"] as? [String: Any])
        var globals: [String: JinjaValue] = [:]
        for (k, v) in context { globals[k] = JinjaValue.fromJSON(v) }
        // Message dicts must keep role before content, as Python's do.
        if let messages = context["messages"] as? [[String: String]] {
            globals["messages"] = .array(messages.map {
                .dict(JinjaDict([("role", .string($0["role"]!)), ("content", .string($0["content"]!))]))
            })
        }
        let cases = try XCTUnwrap(golden["jinja_cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        for c in cases {
            let source = try XCTUnwrap(c["template"] as? String)
            if let want = c["text"] as? String {
                do {
                    let got = try ChatTemplate(source).render(globals: globals)
                    XCTAssertEqual(got, want, "template \(String(reflecting: source))")
                } catch {
                    XCTFail("template \(String(reflecting: source)) threw \(error)")
                }
            } else {
                XCTAssertThrowsError(try ChatTemplate(source).render(globals: globals), "template \(String(reflecting: source)) should fail") { error in
                    let message = "\(error)"
                    XCTAssertTrue(message.contains("chat template"), "error should say where it comes from: \(message)")
                }
            }
        }
    }

    func testSyntaxErrorNamesTheLine() {
        XCTAssertThrowsError(try ChatTemplate("line one\n{{ 'ok' }}\n{% if x %}\n{{ a + }}\n{% endif %}")) { error in
            XCTAssertTrue("\(error)".contains("line 4"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate("{% for x in y %}never closed")) { error in
            XCTAssertTrue("\(error)".contains("endfor"), "\(error)")
        }
    }

    func testRaiseExceptionCarriesTheMessage() throws {
        let t = try ChatTemplate("{{ raise_exception('Roles must alternate') }}")
        XCTAssertThrowsError(try t.render(messages: [], addGenerationPrompt: false)) { error in
            XCTAssertTrue("\(error)".contains("Roles must alternate"), "\(error)")
        }
    }

    func testHostileTemplatesFailCleanly() throws {
        // Deep nesting, endless recursion and huge output each end in an error, not a crash or a hang.
        XCTAssertThrowsError(try ChatTemplate("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}"))
        XCTAssertThrowsError(try ChatTemplate(String(repeating: "{% if x %}", count: 5000) + String(repeating: "{% endif %}", count: 5000)))
        XCTAssertThrowsError(try ChatTemplate("{{ " + String(repeating: "not ", count: 5000) + "x }}"))
        let recursive = try ChatTemplate("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}")
        XCTAssertThrowsError(try recursive.render(globals: [:])) { error in
            XCTAssertTrue("\(error)".contains("macro f"), "\(error)")
        }
        let huge = try ChatTemplate("{% for i in range(1000) %}{{ 'x' * 1000000 }}{% endfor %}")
        XCTAssertThrowsError(try huge.render(globals: [:])) { error in
            XCTAssertTrue("\(error)".contains("MiB"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate("{{ range(100000000) | length }}").render(globals: [:]))
    }

    func testExtremeValuesNeverCrash() throws {
        // Each either renders or throws a TokenizerError; none may trap on overflow or allocate without bound.
        let expressions = [
            "-9223372036854775807 - 1", "(-9223372036854775807 - 1) // -1", "(-9223372036854775807 - 1) % -1",
            "'abc'[::9223372036854775807]", "'abc'[-9223372036854775807:9223372036854775807:-9223372036854775807]",
            "1e308 * 10 | int", "'nan' | float | int", "'1e400' | int", "(-9223372036854775807 - 1) | abs",
            "-(-9223372036854775807 - 1)", "range(-9223372036854775807, 9223372036854775807) | length",
            "range(0, 9223372036854775807, 4611686018427387904) | list", "'x' | center(99999999999)",
            "[1, 2] * 99999999", "'%d' % 1e300", "'ab' * 9223372036854775807", "2 ** 9999", "2.0 ** 99999",
            "[1] | tojson(indent=99999999)", "'x' | indent(99999999)", "(-7) is odd", "(-9223372036854775807 - 1) is even",
            "99999999999999999999", "1 / 0", "1 // 0", "1.5 % 0",
        ]
        for e in expressions {
            do {
                _ = try ChatTemplate("{{ \(e) }}").render(globals: [:])
            } catch is TokenizerError {
                // a clear error is fine
            }
        }
    }
}
