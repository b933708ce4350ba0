"""Writes the tokenizer golden fixtures beside this script.

Run with the reference env: /root/.cache/tinylora/venv-ref/bin/python make_tokenizer_fixtures.py
Needs the two GGUF models in $TINYLORA_HOME/models (default ~/.cache/tinylora).

Outputs
- tokenizer_golden.json: for each corpus string (tokenizer_corpus.py) and each model, the token ids from
  llama.cpp (llama-cpp-python, vocab_only, special=True, no BOS) and from transformers (AutoTokenizer on the
  GGUF, add_special_tokens=False). `ids` is llama.cpp's answer (transformers' if llama.cpp is missing);
  `disagreements` lists the strings where the two references differ.
- tokenizer_json/<model>/tokenizer.json (+ tokenizer_config.json): the tokenizer transformers saves with
  save_pretrained, with model.vocab and model.merges removed to keep the fixture small (the test puts them
  back from the GGUF file, which this script checks holds exactly the same vocabulary and merges).
  `qwen2.5-coder-0.5b-nfc` adds an NFC normalizer, as the official Qwen2 tokenizer.json has;
  `smollm2-135m-strip` sets rstrip on <|im_start|> and lstrip on <|im_end|>; `smollm2-135m-bos` has a
  post-processor that adds the BOS (ids_add_special_tokens: encode(add_special_tokens=True), first 40 strings).
  tokenizer_json_golden.json: transformers' ids for each of those on the corpus.
- chat_golden.json: apply_chat_template(tokenize=False) with each model's own template, and the ids of the
  rendered text; plus extra templates exercising more of Jinja, rendered by transformers' Jinja environment.
"""
import copy  # noqa: I001
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tokenizer_corpus import corpus, random_corpus  # noqa: E402

import transformers  # noqa: E402
from tokenizers import Tokenizer, normalizers, pre_tokenizers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.integrations.gguf import gguf_tokenizer_mapping as gtm  # noqa: E402

MODELS_DIR = os.path.join(os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora")), "models")
MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct.gguf",
}

# transformers' GGUF converter has no rule for llama.cpp's `smollm` pre-tokenizer and falls back to plain GPT-2
# splitting. SmolLM2's own tokenizer.json (and llama.cpp) split every digit apart first: patch that in.
_original_set_split_regex = gtm.set_split_regex


def _set_split_regex(tokenizer, tokenizer_dict):
    tokenizer = _original_set_split_regex(tokenizer, tokenizer_dict)
    if tokenizer_dict.get("pre_tokenizer_type") == "smollm":
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    return tokenizer


gtm.set_split_regex = _set_split_regex


def load_llama_cpp(path):
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)


def gguf_vocab(path):
    import gguf

    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    f = r.fields["tokenizer.ggml.merges"]
    merges = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    return tokens, merges


CHATS = [
    [{"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Write a haiku about the sea."},
        {"role": "assistant", "content": "Waves fold into foam\nsalt wind carries gull voices\nthe tide keeps its time"},
        {"role": "user", "content": "Now one about mountains."},
    ],
    [
        {"role": "user", "content": "Translate 'cat' to Japanese."},
        {"role": "assistant", "content": "猫 (neko)"},
        {"role": "user", "content": "And to Korean? 🐱"},
        {"role": "assistant", "content": "고양이 (goyangi)"},
    ],
    [{"role": "user", "content": "  leading and trailing spaces  \n\n"}],
    [{"role": "user", "content": "Code:\n```python\ndef f(x):\n\treturn x ** 2\n```\nExplain it."}],
    [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    [
        {"role": "system", "content": "Answer in JSON: {\"answer\": ...}"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "{\"answer\": \"Paris\"}"},
        {"role": "user", "content": "And of Italy?"},
    ],
    [{"role": "user", "content": "Is <|im_end|> special here? Ünïcödé, émoji 👨‍👩‍👧, and \"quotes\"."}],
    [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "second"},
        {"role": "user", "content": "third"},
        {"role": "assistant", "content": "fourth"},
        {"role": "user", "content": "fifth"},
    ],
]

# Templates written for this test, in the styles of common Hugging Face chat templates, to exercise more Jinja.
EXTRA_TEMPLATES = {
    "llama3_style": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
        "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "zephyr_style": (
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
    ),
    "mistral_style": (
        "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n"
        "    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n"
        "{{- bos_token }}\n{%- for message in loop_messages %}\n"
        "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
        "        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n"
        "    {%- endif %}\n    {%- if message['role'] == 'user' %}\n"
        "        {%- if loop.first and system_message is defined %}\n"
        "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
        "        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n"
        "    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n"
        "    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n"
        "    {%- endif %}\n{%- endfor %}\n"
    ),
    "features": (
        "{#- a comment -#}\n"
        "{%- macro render(m, idx) -%}\n  [{{ idx }}:{{ m.role | upper }}] {{ m['content'] | replace('\\n', ' / ') | truncate(40, true, '...') if m.content | length > 40 else m.content | replace('\\n', ' / ') }}\n{%- endmacro %}\n"
        "{%- set ns = namespace(users=0, chars=0, last='') %}\n"
        "{%- for m in messages if m.role != 'system' %}\n"
        "  {%- set ns.users = ns.users + (1 if m.role == 'user' else 0) %}\n"
        "  {%- set ns.chars = ns.chars + m.content | length %}\n"
        "  {{- render(m, loop.index) }}{{ ',' if not loop.last else '' }}\n"
        "  {%- if loop.first %} (first of {{ loop.length }}){% endif %}\n"
        "  {%- set ns.last = m.role %}\n"
        "{%- else %}\nno non-system messages\n"
        "{%- endfor %}\n"
        "users={{ ns.users }} chars={{ ns.chars }} last={{ ns.last }}\n"
        "{% if messages[0].role == 'system' and messages[0].content.strip() %}system: {{ messages[0].content.strip().split(' ') | join('_') }}{% endif %}\n"
        "{{ messages | length }} {{ messages | map(attribute='role') | join(',') }} {{ (messages | first).role }} {{ (messages | last)['role'] }}\n"
        "{{ {'n': messages | length, 'roles': messages | map(attribute='role') | list} | tojson }}\n"
        "{{ messages[-1].content[:5] }}|{{ messages[-1].content[-3:] }}|{{ 'abc'[::-1] }}|{{ [1, 2, 3][1:] }}\n"
        "{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 5 }} {{ 7 / 2 }} {{ -3 + 10 * 2 }} {{ 'x' ~ 5 ~ none }} {{ 'ab' * 3 }}\n"
        "{{ 'user' in messages | map(attribute='role') | list }} {{ 'zzz' not in 'abc' }} {{ none is none }} {{ 3 is odd }} {{ messages is defined }} {{ foo is not defined }}\n"
        "{{ 'Hello World'.lower() }} {{ 'hello'.upper() }} {{ 'a-b-c'.replace('-', '+') }} {{ '  pad  '.strip() }}| {{ 'x,y'.split(',') }} {{ 'title case'.title() }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }}\n"
        "{{ ['b', 'a', 'c'] | sort | join }} {{ [3, 1, 2] | max }} {{ [3, 1, 2] | min }} {{ [1, 2, 3] | sum }} {{ range(3) | list }} {{ [1, 1, 2] | unique | list }} {{ 'abc' | reverse | join }}\n"
        "{%- for k, v in {'a': 1, 'b': [2, 3]}.items() %} {{ k }}={{ v }}{% endfor %}\n"
        "{%- for k, v in {'z': true, 'y': false} | items %} {{ k }}:{{ v | string | lower }}{% endfor %}\n"
        "{{ undefined_var | default('dflt') }} {{ '' | default('empty', true) }} {{ 3.0 | int }} {{ '42' | int + 1 }} {{ 2 | float }} {{ 'abc' | length }} {{ 'word' | capitalize }}\n"
        "{%- if add_generation_prompt %}\n<gen>\n{%- endif %}\n"
    ),
}


# Small templates for Jinja details (whitespace control, loops, filters, literals, errors), rendered by
# transformers' own Jinja environment with JINJA_CONTEXT.
JINJA_CONTEXT = {
    "x": True, "name": "World", "n": 7, "items": [3, 1, 2], "text": "  Mixed Case text  ",
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                 {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}],
}
JINJA_CASES = [
    "{% if true %}\n  yes\n{% endif %}\nend",
    "  {% if x %}\n    a\n  {% endif %}\n",
    "{{- ' a ' -}}  {{ 'b' }}  \n",
    "   {%+ if true %}x{% endif %}",
    "a {# c #} b\n  {#- c -#}  d\n  {# only #}\ne",
    "{% for i in range(3) %}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{% for i in range(1, 10, 3) %}{{ i }}/{{ loop.revindex }}/{{ loop.length }} {% endfor %}",
    "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% set v %}hello {{ name }}{% endset %}[{{ v | upper }}]",
    "{% macro m(a, b='B') %}<{{ a }}|{{ b }}>{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}{{ m('z', 'y') }}",
    "{{ {'a': [1, 2.5, none, true], 'b': 'x\"y\\n', 'c': '\u00e9\u4e2d'} | tojson }}",
    "{{ [1, {'k': 'v', 'e': []}] | tojson(indent=2) }}",
    "{{ messages[1] | tojson }}",
    "{{ ['a', \"b'c\", 'd\\n', 1, 2.0, none, true] }} {{ {'k': [1]} }}",
    "{{ 1 / 3 }} {{ 10 / 4 }} {{ 2 ** 10 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 1e3 }} {{ 0.1 + 0.2 }} {{ 4 / 2 }} {{ 2.5 * 2 }}",
    "{{ 'a' if x else 'b' }}|{{ 'c' if not x }}|{{ 'd' if x }}",
    "{{ x is defined }}{{ y is defined }}{{ none is none }}{{ 4 is divisibleby 2 }}{{ 'a' is string }}{{ 1 is number }}{{ x is not none }}",
    "line\n",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('|') }}",
    "{% raw %}{{ not rendered }} {% if %}{% endraw %}after",
    "{% for a in [1, 2] %}{% set outer = loop.index %}{% for b in 'xy' %}{{ outer }}{{ b }}{{ loop.index0 }} {% endfor %}{% endfor %}",
    "{{ '  a b  '.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}{{ 'Hello'.replace('l', 'L', 1) }}{{ 'abc'.find('c') }}{{ ' x '.rstrip() }}|",
    "{% set d = {'k': 1, 'j': 'two'} %}{{ d.get('k') }}{{ d.get('z', 'no') }}{{ 'k' in d }}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}{{ d | length }}",
    "{{ 'n=' ~ n ~ '!' }} {{ '-' * 5 }} {{ n * 2 + 1 }} {{ (n - 10) | abs }} {{ n > 5 and n < 10 }} {{ not x or n }}",
    "  {{ 'x' }}\n  {{ 'y' }}",
    "{% if true -%}\n\n  a  \n{%- endif %}",
    "\n{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n",
    "{% set ns = namespace(count=0, seen=[]) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.seen = ns.seen + [m.content] %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.seen }}",
    "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 1 == 1.0 }}{{ 'a' < 'b' }}{{ [1, 2] == [1, 2] }}",
    "{{ 'hello world' | title }} {{ items | sort(reverse=true) }} {{ 'a b c' | wordcount }} [{{ 'abc' | center(7) }}] {{ 'x\ny' | indent(2, true) }}",
    "{{ text | trim | lower }}|{{ text.strip().upper() }}|{{ text | length }}|{{ items | first }}{{ items | last }}{{ items | min }}{{ items | max }}{{ items | sum }}",
    "{{ messages[-1].content }} {{ messages[1:3] | map(attribute='role') | list }} {{ messages[::2] | length }} {{ 'abcdef'[1:-1] }} {{ 'abcdef'[::-2] }}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.content }}{{ ';' if not loop.last }}{% endfor %}",
    "{% if n == 1 %}one{% elif n == 7 %}seven{% else %}other{% endif %}",
    "{%- for m in messages -%}\n    {{ m.role[0] | upper }}\n{%- endfor -%}\n",
    "{{ 'a' 'b' }} {{ \"q\" + 'r' }} {{ '\\t' | length }} {{ none | default('d') }} {{ undefined_name | default('u') }}",
    "{{ items | join(', ') }} {{ items | reverse | list }} {{ [1, 2, 2, 3] | unique | list }} {{ items | map('string') | join }}",
    "{{ range(3) | select('odd') | list }} {{ range(5) | reject('even') | list }} {{ messages | rejectattr('role', 'equalto', 'user') | list | length }}",
    "{{ '%d items' | replace('%d', n | string) }} {{ n | float }} {{ '3' | int + 1 }} {{ 3.7 | int }} {{ 2.5 | round }} {{ 2.567 | round(2) }}",
    "{% set c = 0 %}{% for i in range(3) %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}",
    "{% for i in range(3) %}{% if i == 0 %}{% set y = 'a' %}{% endif %}[{{ y }}]{% endfor %}",
    "{% if true %}{% set z = 1 %}{% endif %}{{ z }}",
    "{% set g = 5 %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}",
    "{% for i in range(2) %}{% set last = i %}{% endfor %}[{{ last }}]",
    "{{ 0 is sameas false }}{{ 1 == true }}{{ [] is iterable }}{{ none is sameas none }}",
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
    "{{ '%s-%d' % ('a', 3) }} {{ '%s!' % name }}",
    "{{ raise_exception('custom failure') }}",
    "{% if x %}unclosed",
    "{{ x + }}",
    "{% endfor %}",
    "{{ 'unclosed }}",
    "{% frobnicate %}",
    "{{ undefined_thing.attr }}",
    "{{ x | no_such_filter }}",
]


def render_jinja_cases():
    from transformers.utils.chat_template_utils import _compile_jinja_template
    out = []
    for tpl in JINJA_CASES:
        try:
            out.append({"template": tpl, "text": _compile_jinja_template(tpl).render(**JINJA_CONTEXT)})
        except Exception as e:  # syntax errors, undefined errors, raise_exception
            out.append({"template": tpl, "error": type(e).__name__ + ": " + str(e)})
    return out


def main():
    texts = corpus()
    # Also as UTF-8 hex: some JSON readers (Foundation's) drop a U+FEFF inside strings.
    golden = {"source": {}, "corpus": texts, "corpus_utf8_hex": [t.encode("utf-8").hex() for t in texts],
              "models": {}}
    tj_golden = {"models": {}}
    chat_golden = {"chats": CHATS, "models": {}, "extra_templates": {},
                   "jinja_context": JINJA_CONTEXT, "jinja_cases": render_jinja_cases()}
    tj_root = os.path.join(HERE, "tokenizer_json")
    shutil.rmtree(tj_root, ignore_errors=True)
    have_llama_cpp = False

    for name, file_name in MODELS.items():
        path = os.path.join(MODELS_DIR, file_name)
        print("model", name, file=sys.stderr)
        hf = AutoTokenizer.from_pretrained(MODELS_DIR, gguf_file=file_name)
        hf_ids = [hf.encode(t, add_special_tokens=False) for t in texts]
        llm = load_llama_cpp(path)
        if llm is not None:
            have_llama_cpp = True
            cpp_ids = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]
        else:
            cpp_ids = None
        ids = cpp_ids if cpp_ids is not None else hf_ids
        disagreements = []
        if cpp_ids is not None:
            for i, (a, b) in enumerate(zip(cpp_ids, hf_ids)):
                if a != b:
                    disagreements.append({"index": i, "text": texts[i], "llama_cpp": a, "transformers": b})
        # Random strings over all of Unicode: llama.cpp's ids, and where transformers differs.
        rtexts = random_corpus()
        r_hf = [hf.encode(t, add_special_tokens=False) for t in rtexts]
        r_cpp = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in rtexts] if llm else None
        golden["random_utf8_hex"] = [t.encode("utf-8").hex() for t in rtexts]
        golden["models"][name + "/random"] = {
            "ids": r_cpp if r_cpp is not None else r_hf,
            "reference": "llama.cpp" if r_cpp is not None else "transformers",
            "disagreements": [] if r_cpp is None else [
                {"index": i, "llama_cpp": a, "transformers": b} for i, (a, b) in enumerate(zip(r_cpp, r_hf)) if a != b],
        }
        print(name, "random disagreements:", len(golden["models"][name + "/random"]["disagreements"]), file=sys.stderr)
        # The pre-tokenizer's pieces alone (byte-level spelled), from transformers' backend.
        pre = hf.backend_tokenizer.pre_tokenizer
        pieces = [[p for p, _ in pre.pre_tokenize_str(t)] for t in texts]
        golden["models"][name] = {"file": file_name, "ids": ids, "disagreements": disagreements,
                                  "reference": "llama.cpp" if cpp_ids is not None else "transformers",
                                  "pretokenizer_pieces": pieces}
        print(name, "disagreements:", len(disagreements), file=sys.stderr)

        # tokenizer.json as transformers saves it, vocabulary and merges stripped (put back by the test).
        tokens, merges = gguf_vocab(path)
        with tempfile.TemporaryDirectory() as tmp:
            hf.save_pretrained(tmp)
            with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
                tj = json.load(f)
            with open(os.path.join(tmp, "tokenizer_config.json"), encoding="utf-8") as f:
                tcfg = json.load(f)
            vocab = tj["model"]["vocab"]
            assert vocab == {t: i for i, t in enumerate(tokens)}, "saved vocabulary differs from the GGUF's"
            saved_merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
            assert saved_merges == merges, "saved merges differ from the GGUF's"
            merges_as_pairs = not isinstance(tj["model"]["merges"][0], str)
            variants = {name: tj}
            if name.startswith("qwen"):
                nfc = copy.deepcopy(tj)
                nfc["normalizer"] = {"type": "NFC"}
                variants[name + "-nfc"] = nfc
            else:
                # Added-token options: <|im_start|> takes the white space after it, <|im_end|> the one before.
                strip = copy.deepcopy(tj)
                for t in strip["added_tokens"]:
                    if t["content"] == "<|im_start|>":
                        t["rstrip"] = True
                    if t["content"] == "<|im_end|>":
                        t["lstrip"] = True
                variants[name + "-strip"] = strip
                # A post-processor that puts <|im_start|> (the BOS) first, as Llama-style tokenizer.json files do.
                bos = copy.deepcopy(tj)
                bos["post_processor"] = {
                    "type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"Sequence": {"id": "B", "type_id": 1}}],
                    "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}},
                }
                variants[name + "-bos"] = bos
            for vname, vjson in variants.items():
                full_dir = os.path.join(tmp, vname)
                os.makedirs(full_dir, exist_ok=True)
                with open(os.path.join(full_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
                    json.dump(vjson, f, ensure_ascii=False)
                with open(os.path.join(full_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                    json.dump(tcfg, f, ensure_ascii=False, indent=2)
                # The file as written (PreTrainedTokenizerFast = TokenizersBackend runs tokenizer.json as is).
                # AutoTokenizer would rebuild Qwen2Tokenizer's own pipeline (with NFC) from the vocabulary.
                ref = transformers.PreTrainedTokenizerFast(tokenizer_file=os.path.join(full_dir, "tokenizer.json"))
                vids = [ref.encode(t, add_special_tokens=False) for t in texts]
                decoded = [ref.decode(x) for x in vids]
                auto = AutoTokenizer.from_pretrained(full_dir)
                auto_differs = [i for i, t in enumerate(texts) if auto.encode(t, add_special_tokens=False) != vids[i]]
                with_special = [ref.encode(t, add_special_tokens=True) for t in texts[:40]]
                tj_golden["models"][vname] = {"gguf": file_name, "ids": vids, "decoded": decoded,
                                              "ids_add_special_tokens": with_special,
                                              "merges_as_pairs": merges_as_pairs,
                                              "autotokenizer_differs_at": auto_differs}
                stripped = copy.deepcopy(vjson)
                stripped["model"]["vocab"] = {}
                stripped["model"]["merges"] = []
                out_dir = os.path.join(tj_root, vname)
                os.makedirs(out_dir, exist_ok=True)
                with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
                    json.dump(stripped, f, ensure_ascii=False, indent=1)
                with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                    json.dump(tcfg, f, ensure_ascii=False, indent=1)
                # transformers 5 saves the chat template beside the config, as chat_template.jinja.
                if os.path.exists(os.path.join(tmp, "chat_template.jinja")):
                    shutil.copy(os.path.join(tmp, "chat_template.jinja"), out_dir)

        # chat templates
        entries = []
        for chat in CHATS:
            for agp in (False, True):
                text = hf.apply_chat_template(chat, tokenize=False, add_generation_prompt=agp)
                entries.append({"add_generation_prompt": agp, "text": text,
                                "ids": hf.encode(text, add_special_tokens=False),
                                "llama_cpp_ids": (llm.tokenize(text.encode(), add_bos=False, special=True)
                                                  if llm is not None else None)})
        chat_golden["models"][name] = {"bos_token": hf.bos_token, "eos_token": hf.eos_token, "renders": entries}
        if name == "smollm2-135m":
            for tname, tpl in EXTRA_TEMPLATES.items():
                renders = []
                for chat in CHATS:
                    for agp in (False, True):
                        try:
                            text = hf.apply_chat_template(chat, tokenize=False, add_generation_prompt=agp,
                                                          chat_template=tpl)
                            renders.append({"add_generation_prompt": agp, "text": text})
                        except Exception as e:  # raise_exception in the template
                            renders.append({"add_generation_prompt": agp, "error": str(e)})
                chat_golden["extra_templates"][tname] = {"template": tpl, "bos_token": hf.bos_token,
                                                         "eos_token": hf.eos_token, "renders": renders}

    import tokenizers
    golden["source"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                        "llama_cpp_python": None}
    if have_llama_cpp:
        import llama_cpp
        golden["source"]["llama_cpp_python"] = llama_cpp.__version__
    for fname, obj in (("tokenizer_golden.json", golden), ("tokenizer_json_golden.json", tj_golden),
                       ("chat_golden.json", chat_golden)):
        with open(os.path.join(HERE, fname), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        print(fname, os.path.getsize(os.path.join(HERE, fname)), file=sys.stderr)


if __name__ == "__main__":
    main()
