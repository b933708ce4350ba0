"""Helpers shared by the Python scripts that drive our `tinylora` binary (llamacpp_eval.py, peft_logits_check.py,
results_report.py)."""
import gzip
import json
import os
import subprocess
import sys
import tempfile


def binary(path=None):
    """`path`, or this checkout's release build of tinylora."""
    if path:
        return path
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True,
                         capture_output=True, text=True).stdout.strip()
    return os.path.join(out, "tinylora")


def run(args):
    """Runs a tinylora command and returns its stdout; exits with its error message when it fails."""
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{os.path.basename(args[0])} {args[1]} failed: {result.stderr.strip()}")
    return result.stdout


def run_json(args):
    """Runs a tinylora command that prints one JSON object and returns that object."""
    return json.loads(run(args))


def prompt_ids(tinylora, model, question):
    """The token ids our eval gives the model for `question`: one user message, chat template, assistant header."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"role": "user", "content": question}], f)
        name = f.name
    try:
        return run_json([tinylora, "tokenize", "--model", model, "--messages", name, "--add-generation-prompt",
                         "--json"])["ids"]
    finally:
        os.unlink(name)


def read_results(path, limit=None):
    """The items of one of our evaluations' results.jsonl (plain or .gz), in file order, at most `limit`."""
    opener = gzip.open if path.endswith(".gz") else open
    items = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(items) == limit:
                break
            if line.strip():
                items.append(json.loads(line))
    return items
