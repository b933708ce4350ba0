import XCTest
import Transformer

final class TransformerSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
