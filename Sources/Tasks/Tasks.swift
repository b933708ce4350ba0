/// Tasks: datasets of prompts with verifiable answers (JSONL files, built-in sources, the built-in generator of
/// arithmetic word problems) and the rewards that score a completion against its gold answer.
public enum Tasks {}
