#!/usr/bin/env python3
"""Writes two_members.gz (two gzip members concatenated, as `cat a.gz b.gz` makes) and gzip_fixture.json with
the expected decompressed text. Run with any Python 3: python3 make_gzip_fixture.py"""
import gzip
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
first = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200))
second = "second member ✓ ünïcødé\n" * 3
with open(os.path.join(here, "two_members.gz"), "wb") as f:
    f.write(gzip.compress(first.encode(), compresslevel=9, mtime=0))
    f.write(gzip.compress(second.encode(), compresslevel=1, mtime=0))
with open(os.path.join(here, "gzip_fixture.json"), "w") as f:
    json.dump({"file": "two_members.gz", "text": first + second}, f, ensure_ascii=False)
    f.write("\n")
