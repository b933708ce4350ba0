import XCTest
import Generation

final class GenerationSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
