import XCTest
import ModelFiles

final class ModelFilesSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
