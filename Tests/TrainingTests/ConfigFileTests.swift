import Foundation
import Training
import XCTest

final class ConfigFileTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory("configfile") }
    override func tearDown() { dir.remove() }

    func testYAMLEntriesBecomeTokensInFileOrder() throws {
        let url = try dir.file("run.yaml", """
        # a comment
        method: grpo
        learning_rate: 1e-3      # underscores become dashes; the text is kept as written
        steps: 40
        resume: true
        shuffle: false
        quiet: false
        reward: [exact, format]
        prompt: "-starts with a dash"
        name: 'true'             # quoted: a string, not a flag
        """)
        let tokens = try ConfigFile.arguments(from: url, negatableFlags: ["shuffle"])
        XCTAssertEqual(tokens, ["--method=grpo", "--learning-rate=1e-3", "--steps=40", "--resume", "--no-shuffle",
                                "--reward=exact,format", "--prompt=-starts with a dash", "--name=true"])
        let repeated = try ConfigFile.arguments(from: url, repeatedKeys: ["reward"])
        XCTAssertEqual(repeated.filter { $0.hasPrefix("--reward") }, ["--reward=exact", "--reward=format"])
        XCTAssertEqual(try ConfigFile.arguments(from: url, listStyle: .repeated), repeated)
        XCTAssertFalse(repeated.contains("--no-shuffle"), "false without a known inversion is left out")
        let comma = try dir.file("comma.yaml", "stop: [\"a,b\", c]\n")
        XCTAssertThrowsError(try ConfigFile.arguments(from: comma)) {
            XCTAssertTrue(String(describing: $0).contains("key 'stop': list item 'a,b' contains a comma"), "\($0)")
        }
        XCTAssertEqual(try ConfigFile.arguments(from: comma, repeatedKeys: ["stop"]), ["--stop=a,b", "--stop=c"])
    }

    func testJSONEntriesSortedByKey() throws {
        let url = try dir.file("run.json", #"{"steps": 40, "lr": 0.001, "resume": true, "json": false, "keys": ["a", "b"], "out_dir": "runs/x"}"#)
        XCTAssertEqual(try ConfigFile.arguments(from: url, repeatedKeys: ["keys"]),
                       ["--keys=a", "--keys=b", "--lr=0.001", "--out-dir=runs/x", "--resume", "--steps=40"])
    }

    func testExpandSplicesBeforeConfigAndCommandLineWins() throws {
        let url = try dir.file("c.yml", "steps: 40\nseed: 7\nkeys: [a, b]\nout: runs/a\nshuffle: true\n")
        let argv = ["train", "--steps", "5", "--config", url.path, "--keys=z", "-o", "runs/b", "--no-shuffle", "data.jsonl"]
        let e = try ConfigFile.expansion(argv, shortNames: ["o": "out"], repeatedKeys: ["keys"])
        XCTAssertEqual(e.arguments, ["train", "--steps", "5", "--seed=7", "--config", url.path, "--keys=z", "-o", "runs/b",
                                     "--no-shuffle", "data.jsonl"])
        XCTAssertEqual(e.keys, ["seed"])
        XCTAssertEqual(e.file?.path, url.path)
        // --config=FILE form; nothing given on the command line.
        XCTAssertEqual(try ConfigFile.expand(["train", "--config=\(url.path)"]),
                       ["train", "--steps=40", "--seed=7", "--keys=a,b", "--out=runs/a", "--shuffle", "--config=\(url.path)"])
        // No --config: unchanged; after `--` it is not an option.
        XCTAssertEqual(try ConfigFile.expand(["train", "--", "--config", "x"]), ["train", "--", "--config", "x"])
    }

    func testExplainNamesTheFileForItsKeysOnly() throws {
        let url = try dir.file("c.yaml", "stpes: 4\nsteps: x\n")
        let e = try ConfigFile.expansion(["train", "--config", url.path, "--seed", "q"])
        XCTAssertEqual(e.explain(parseError: "Unknown option '--stpes'. Did you mean '--steps'?"),
                       "config file \(url.path): unknown key 'stpes' (there is no option --stpes)")
        XCTAssertEqual(e.explain(parseError: "The value 'x' is invalid for '--steps <steps>'"),
                       "config file \(url.path): key 'steps': The value 'x' is invalid for '--steps <steps>'")
        XCTAssertNil(e.explain(parseError: "The value 'q' is invalid for '--seed <seed>'"))
        XCTAssertNil(e.explain(parseError: "Unknown option '--steps-per-eval'"), "a longer option name is a different option")
        XCTAssertNil(e.explain(parseError: "USAGE: tinylora train [--steps <steps>]\n\nOPTIONS:\n  --steps <steps>\n"), "help text")
    }

    func testBadFilesAreClearErrors() throws {
        func message(_ name: String, _ text: String) -> String {
            do {
                _ = try ConfigFile.arguments(from: try dir.file(name, text))
                return "no error"
            } catch {
                return String(describing: error)
            }
        }
        XCTAssertTrue(message("a.yaml", "optim:\n  lr: 1\n").contains("key 'optim' holds a mapping"))
        XCTAssertTrue(message("b.yaml", "steps:\n").contains("key 'steps' has no value"))
        XCTAssertTrue(message("c.yaml", "- a\n- b\n").contains("top level must be a mapping"))
        XCTAssertTrue(message("d.yaml", "steps: [1\n").contains("not valid YAML"))
        XCTAssertTrue(message("e.yaml", "learning_rate: 1\nlearning-rate: 2\n").contains("given twice"))
        XCTAssertTrue(message("f.yaml", "config: other.yaml\n").contains("'config' is not allowed"))
        XCTAssertTrue(message("g.yaml", "\"bad key\": 1\n").contains("is not an option name"))
        XCTAssertTrue(message("h.json", "{\"steps\": }").contains("not valid JSON"))
        XCTAssertTrue(message("i.json", "[1, 2]").contains("top level must be a JSON object"))
        XCTAssertTrue(message("j.json", "{\"a\": {\"b\": 1}}").contains("key 'a' holds an object"))
        XCTAssertTrue(message("k.toml", "a = 1").contains("unknown extension '.toml'"))
        for m in [message("a.yaml", "optim:\n  lr: 1\n"), message("h.json", "{\"steps\": }")] {
            XCTAssertTrue(m.contains(dir.url.path), "the message names the file: \(m)")
        }
        XCTAssertThrowsError(try ConfigFile.expand(["train", "--config", dir.url.appendingPathComponent("missing.yaml").path])) {
            XCTAssertTrue(String(describing: $0).contains("cannot read config file"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigFile.expand(["train", "--config"]))
        XCTAssertThrowsError(try ConfigFile.expand(["train", "--config", "a.yaml", "--config=b.yaml"]))
        XCTAssertEqual(try ConfigFile.arguments(from: try dir.file("empty.yaml", "# nothing\n")), [])
    }
}
