import Adapters
import Foundation
import XCTest

/// Module order and `--weight-tying` groups against PEFT's TinyLoRA (fixture by Fixtures/make_peft_tying.py).
final class PEFTTyingTests: XCTestCase {
    struct Fixture: Decodable {
        struct Module: Decodable { let layer: Int; let kind: String; let group: Int }
        struct Case: Decodable { let targets: [String]; let weight_tying: Double; let modules: [Module] }
        let layers: Int
        let cases: [Case]
    }

    func testGroupsEqualPEFT() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("peft_tying.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 9)
        let shapes: [ModuleKind: (out: Int, in: Int)] = [.q: (32, 32), .k: (16, 32), .v: (16, 32), .o: (32, 32),
                                                         .gate: (48, 32), .up: (48, 32), .down: (32, 48)]
        for c in fixture.cases {
            let targets = try c.targets.map { try ModuleKind(parsing: $0) }
            let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, tying: .ratio(c.weight_tying), targets: targets),
                                       layerCount: fixture.layers, shapes: shapes)
            XCTAssertEqual(plan.modules.map { "\($0.layer).\($0.kind)" }, c.modules.map { "\($0.layer).\($0.kind)" },
                           "module order, targets \(c.targets)")
            XCTAssertEqual(plan.groupOfModule, c.modules.map(\.group), "targets \(c.targets), weight_tying \(c.weight_tying)")
            XCTAssertEqual(plan.groupCount, Set(c.modules.map(\.group)).count)
        }
    }
}
