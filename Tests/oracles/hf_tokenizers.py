#!/usr/bin/env python3
"""Oracle for Hone's tokenizer tests: Hugging Face `tokenizers`, driven from the Swift tests.

  pretokenize TEXTS.json             -> JSON: for each text, HF ByteLevel(add_prefix_space=False) pieces
  train CORPUS VOCAB MINFREQ OUT.json -> trains HF's byte-level BPE as ../shared/bench/hf_bpe.py does
  encode TOKENIZER.json TEXTS.json   -> JSON: for each text, the ids HF gives (no special tokens added)
  train-pre KIND CORPUS VOCAB OUT.json -> trains with another pre-tokenizer: llama3 (Split + ByteLevel
                                        without regex) or digits (Digits(individual) + ByteLevel)

Exit 3 with a message when `tokenizers` is not installed (the Swift test then skips).
"""
import json
import sys

try:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
except ImportError:
    print("tokenizers not installed", file=sys.stderr)
    sys.exit(3)


def main():
    cmd = sys.argv[1]
    if cmd == "pretokenize":
        texts = json.load(open(sys.argv[2], encoding="utf-8"))
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        print(json.dumps([[p for p, _ in pre.pre_tokenize_str(t)] for t in texts]))
    elif cmd == "train":
        corpus, vocab, min_freq, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=min_freq, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=["<|endoftext|>"])
        tok.train([corpus], trainer)
        tok.save(out)
    elif cmd == "train-pre":
        kind, corpus, vocab, out = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        from tokenizers import Regex
        tok = Tokenizer(models.BPE())
        if kind == "llama3":
            pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                       r"|\s*[\r\n]+|\s+(?!\S)|\s+")
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        else:
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=["<|endoftext|>"])
        tok.train([corpus], trainer)
        tok.save(out)
    elif cmd == "encode":
        tok = Tokenizer.from_file(sys.argv[2])
        texts = json.load(open(sys.argv[3], encoding="utf-8"))
        print(json.dumps([e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
