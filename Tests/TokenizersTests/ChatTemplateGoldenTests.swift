import Foundation
import Tokenizers
import XCTest

/// Chat templates render exactly as transformers' apply_chat_template (Fixtures/chat_golden.json, written by
/// Fixtures/make_tokenizer_fixtures.py): each model's own template, and extra templates in the style of common
/// Hugging Face templates that exercise more of Jinja.
final class ChatTemplateGoldenTests: XCTestCase {
    func loadChats() throws -> ([[ChatMessage]], [String: Any]) {
        let golden = try TestSupport.json("chat_golden.json")
        let chats = try XCTUnwrap(golden["chats"] as? [[[String: String]]]).map { chat in
            chat.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
        }
        XCTAssertGreaterThanOrEqual(chats.count, 8)
        return (chats, golden)
    }

    func checkModel(_ model: String) throws {
        let (chats, golden) = try loadChats()
        let entry = try XCTUnwrap((golden["models"] as? [String: Any])?[model] as? [String: Any])
        let renders = try XCTUnwrap(entry["renders"] as? [[String: Any]])
        XCTAssertEqual(renders.count, chats.count * 2)
        let tok = try TestSupport.tokenizer(model)
        // The bos_token / eos_token texts the template gets are transformers' own.
        XCTAssertEqual(tok.bosToken, entry["bos_token"] as? String)
        XCTAssertEqual(tok.eosToken, entry["eos_token"] as? String)
        for (i, r) in renders.enumerated() {
            let chat = chats[i / 2]
            let agp = try XCTUnwrap(r["add_generation_prompt"] as? Bool)
            let text = try tok.applyChatTemplate(chat, addGenerationPrompt: agp)
            XCTAssertEqual(text, r["text"] as? String, "\(model) chat \(i / 2) add_generation_prompt=\(agp)")
            let wantIds = try XCTUnwrap((r["llama_cpp_ids"] as? [Int]) ?? (r["ids"] as? [Int]))
            XCTAssertEqual(try tok.encodeChat(chat, addGenerationPrompt: agp), wantIds, "\(model) chat \(i / 2) ids")
        }
    }

    func testSmolLMTemplate() throws { try checkModel("smollm2-135m") }
    func testQwenTemplate() throws { try checkModel("qwen2.5-coder-0.5b") }

    func testExtraTemplates() throws {
        let (chats, golden) = try loadChats()
        let extras = try XCTUnwrap(golden["extra_templates"] as? [String: [String: Any]])
        XCTAssertGreaterThanOrEqual(extras.count, 4)
        for (name, entry) in extras.sorted(by: { $0.key < $1.key }) {
            let template = try ChatTemplate(try XCTUnwrap(entry["template"] as? String))
            let renders = try XCTUnwrap(entry["renders"] as? [[String: Any]])
            for (i, r) in renders.enumerated() {
                let agp = try XCTUnwrap(r["add_generation_prompt"] as? Bool)
                let render = {
                    try template.render(
                        messages: chats[i / 2], addGenerationPrompt: agp, bosToken: entry["bos_token"] as? String,
                        eosToken: entry["eos_token"] as? String)
                }
                if let want = r["text"] as? String {
                    XCTAssertEqual(try render(), want, "\(name) chat \(i / 2) add_generation_prompt=\(agp)")
                } else {
                    let message = try XCTUnwrap(r["error"] as? String)
                    XCTAssertThrowsError(try render(), "\(name) chat \(i / 2) should raise") { error in
                        XCTAssertTrue("\(error)".contains(message), "\(error) does not carry \(message)")
                    }
                }
            }
        }
    }
}
