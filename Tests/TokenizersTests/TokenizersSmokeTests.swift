import XCTest
import Tokenizers

final class TokenizersSmokeTests: XCTestCase {
    func testModuleLoads() {}
}
