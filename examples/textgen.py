"""Text generation: a character-level LSTM language model, trained on a text file (by default
the docstrings of the Python standard library), then sampled at several temperatures.

Prints the unigram entropy of the text (the bits per character to beat), the training and
validation bits per character as training goes, and samples; writes the curve as a PNG.
Run: ``python examples/textgen.py [--text FILE] [--steps 1200] [--plot bpc.png]``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from adjit.nn import charlm


def main(argv=None) -> dict:
    """Run with command-line arguments ``argv``; the unigram entropy, the history, the samples
    by temperature, and the model and its parameters."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", help="a UTF-8 text file (default: the standard library's docstrings)")
    parser.add_argument("--max-chars", type=int, default=1_000_000, help="read at most this many characters")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--length", type=int, default=64, help="characters per training window")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--prime", default="Return the ")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="bpc.png", help="PNG of the bits per character")
    args = parser.parse_args(argv)

    text = (Path(args.text).read_text(encoding="utf-8")[:args.max_chars] if args.text
            else charlm.stdlib_docstrings(args.max_chars))
    vocab = charlm.CharVocabulary.build(text, min_count=5)
    ids = vocab.encode(text)
    cut = int(0.9 * len(ids))  # the last 10% is held out, 50,000 characters of it for validation
    train, validation = ids[:cut], ids[cut:cut + 50_000]
    unigram = charlm.unigram_entropy(train, len(vocab))
    print(f"{len(text):,} characters ({'the standard library docstrings' if not args.text else args.text}), "
          f"{len(vocab)} distinct (seen 5 times or more); unigram entropy {unigram:.3f} bits/char")
    lm = charlm.CharLM(vocab, units=args.units)
    params, history = lm.fit(train, validation, steps=args.steps, length=args.length, batch_size=args.batch,
                             learning_rate=args.lr, eval_every=args.eval_every, seed=args.seed)
    charlm.plot_bpc(history, unigram, args.plot)
    print(f"validation {history['val_bpc'][-1]:.3f} bits/char against a unigram entropy of {unigram:.3f}; "
          f"curve: {args.plot}")
    samples = {t: lm.sample(params, 400, args.prime, t, seed=args.seed) for t in args.temperatures}
    for t, sample in samples.items():
        print(f"\n--- temperature {t} ---\n{args.prime}{sample}")
    return {"unigram_bits": unigram, "history": history, "samples": samples, "model": lm, "params": params}


if __name__ == "__main__":
    main()
