"""Sequence to sequence: an LSTM encoder-decoder learns to reverse (or sort) strings of digits.

Generates distinct digit strings of 3 to 8 digits and their answers, trains
``nn.seq2seq.Seq2Seq`` (embedding + LSTM encoder, embedding + LSTM decoder + dense readout) with
teacher forcing, then decodes held-out strings, never seen in training, greedily and by beam
search, and prints the sequence accuracy of each (a string counts only when all of it is right).
Run: ``python examples/seq2seq.py [--task reverse|sort] [--epochs 4] [--beam 3]``.
"""
from __future__ import annotations

import argparse
import time

from adjit.nn import seq2seq


def main(argv=None) -> dict:
    """Run with command-line arguments ``argv``; the accuracies, and the model, its parameters,
    the history and the held-out pairs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(seq2seq.TASKS), default="reverse")
    parser.add_argument("--train", type=int, default=20_000, help="training pairs")
    parser.add_argument("--test", type=int, default=1_000, help="held-out pairs")
    parser.add_argument("--max-len", type=int, default=8, help="the longest string (the shortest has 3 digits)")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--beam", type=int, default=3, help="beam width")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    pairs = seq2seq.digit_task(args.task, args.train + args.test, 3, args.max_len, seed=args.seed)
    train, test = pairs[:args.train], pairs[args.train:]
    model = seq2seq.Seq2Seq(seq2seq.Codec("0123456789"), args.max_len, args.max_len + 1, units=args.units)
    model.model.summary()
    start = time.perf_counter()
    params, history = model.fit(train, epochs=args.epochs, learning_rate=args.lr, seed=args.seed)
    seconds = time.perf_counter() - start
    sources = [s for s, _ in test]
    greedy = model.decode(params, sources)
    beam = model.decode(params, sources, beam_width=args.beam)
    result = {"greedy": seq2seq.accuracy(greedy, test), "beam": seq2seq.accuracy(beam, test),
              "model": model, "params": params, "history": history, "test": test}
    print(f"{args.task}: {len(train):,} training pairs, {args.epochs} epochs in {seconds:.0f} s "
          f"(compile {history.compile_seconds:.0f} s)")
    print(f"held-out sequence accuracy: greedy {result['greedy']:.1%}, beam search (width {args.beam}) "
          f"{result['beam']:.1%}")
    for (source, target), g, b in list(zip(test, greedy, beam))[:8]:
        print(f"  {source:>{args.max_len}} -> greedy {g:<{args.max_len}} beam {b:<{args.max_len}} "
              f"{'ok' if g == target else 'expected ' + target}")
    return result


if __name__ == "__main__":
    main()
