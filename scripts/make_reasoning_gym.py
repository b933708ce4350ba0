#!/usr/bin/env python3
"""Writes reasoning-gym problems as training JSONL for `tinylora train --data FILE` / `tinylora eval --data FILE`.

    python3 scripts/make_reasoning_gym.py --out gsm_symbolic.jsonl                       # 1000 gsm_symbolic problems
    python3 scripts/make_reasoning_gym.py --generator basic_arithmetic --size 500 --seed 1 --out arith.jsonl.gz
    python3 scripts/make_reasoning_gym.py --generator chain_sum --config min_terms=2 --config max_terms=4 --out c.jsonl

Each line is {"id", "question", "answer"} in GSM8K style: "answer" is the generator's worked solution when it has
one (gsm_symbolic's metadata.answer_cot, which ends "#### N"), else "#### <answer>". A name ending in .gz is
gzipped. Needs reasoning-gym==0.1.25: when it is not importable here, the script makes a venv of its own in
$TINYLORA_HOME/venv-reasoning-gym (default ~/.cache/tinylora/venv-reasoning-gym), pip-installs the pinned version
there, and re-runs itself with it. Python is needed only to make the file; tinylora reads it without Python.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

VERSION = "0.1.25"


def ensure_reasoning_gym():
    try:
        import reasoning_gym  # noqa: F401
        from importlib.metadata import version
        if version("reasoning-gym") == VERSION:
            return
    except Exception:
        pass
    if os.environ.get("MAKE_REASONING_GYM_REEXEC"):
        sys.exit(f"reasoning-gym=={VERSION} is still not importable after installing it into the venv")
    home = os.environ.get("TINYLORA_HOME") or os.path.expanduser("~/.cache/tinylora")
    venv = os.path.join(home, "venv-reasoning-gym")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {venv}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    check = f"from importlib.metadata import version; assert version('reasoning-gym') == '{VERSION}'"
    if subprocess.run([python, "-c", check], capture_output=True).returncode != 0:
        print(f"installing reasoning-gym=={VERSION} into {venv}", file=sys.stderr)
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               f"reasoning-gym=={VERSION}"])
    env = dict(os.environ, MAKE_REASONING_GYM_REEXEC="1")
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


def config_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="gsm_symbolic", help="reasoning-gym dataset name (default gsm_symbolic)")
    parser.add_argument("--size", type=int, default=1000, help="number of problems (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="extra generator setting (value read as JSON when it parses, else a string); repeatable")
    parser.add_argument("--out", required=True, help="output .jsonl or .jsonl.gz")
    args = parser.parse_args()
    if args.size < 1:
        parser.error("--size must be >= 1")
    extra = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--config takes KEY=VALUE, not {item!r}")
        extra[key] = config_value(value)

    ensure_reasoning_gym()
    import reasoning_gym

    data = reasoning_gym.create_dataset(args.generator, size=args.size, seed=args.seed, **extra)
    opener = gzip.open if args.out.endswith(".gz") else open
    tmp = args.out + ".tmp"
    count = 0
    with opener(tmp, "wt", encoding="utf-8") as f:
        for i, item in enumerate(data):
            answer = str(item["answer"]).strip()
            cot = (item.get("metadata") or {}).get("answer_cot")
            if isinstance(cot, str) and cot.rstrip().endswith("#### " + answer):
                text = cot.rstrip()
            else:
                text = "#### " + answer
            record = {"id": f"{args.generator}-{args.seed}-{i}", "question": item["question"], "answer": text}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, args.out)
    print(f"wrote {count} {args.generator} problems to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
