"""word2vec: skip-gram or CBOW with negative sampling, then neighbours and analogies.

By default trains on the generated corpus of ``nn.word2vec.generated_corpus`` (countries and
capitals, male and female words, singular and plural nouns in templated sentences), whose 396
analogy questions have known answers, and prints the analogy accuracy per relation; with
``--file`` it trains on any UTF-8 text file instead (one sentence per line). Either way it
prints the throughput, the nearest neighbours of a few words and, with ``--save``, writes the
vectors in the ``.vec`` text format.
Run: ``python examples/word2vec.py [--method skipgram|cbow] [--file corpus.txt] [--save vectors.vec]``.
"""
from __future__ import annotations

import argparse

from adjit.nn import word2vec


def main(argv=None) -> dict:
    """Run with command-line arguments ``argv``; the trained model, and the analogy accuracy
    on the generated corpus (None with ``--file``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=["skipgram", "cbow"], default="skipgram")
    parser.add_argument("--file", help="a text file, one sentence per line (default: the generated corpus)")
    parser.add_argument("--sentences", type=int, default=20_000, help="size of the generated corpus")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--query", nargs="*", default=["paris", "king", "dogs"], help="words whose neighbours to print")
    parser.add_argument("--save", help="write the vectors to this .vec file")
    args = parser.parse_args(argv)

    options = dict(dim=args.dim, method=args.method, window=args.window, negatives=args.negatives,
                   epochs=args.epochs, min_count=args.min_count, seed=args.seed)
    if args.file:
        model, questions = word2vec.train_file(args.file, **options), None
    else:
        sentences, questions = word2vec.generated_corpus(seed=args.seed, sentences=args.sentences)
        model = word2vec.Word2Vec(**options).fit(sentences)
    last = model.history[-1]
    print(f"{args.method}: {len(model.wv)} words, dim {args.dim}, {args.epochs} epochs; "
          f"last epoch loss {last['loss']:.3f}, {last['words_per_s']:,.0f} words/s "
          f"(compile {model.compile_seconds:.1f} s)")
    for word in args.query:
        if word in model.wv:
            near = ", ".join(f"{w} {s:.2f}" for w, s in model.wv.most_similar(word, topn=5))
            print(f"nearest to {word!r}: {near}")
    accuracy = None
    if questions is not None:
        accuracy = model.wv.analogy_accuracy(questions)
        parts = ", ".join(f"{k} {accuracy[k]:.0%}" for k in questions)
        print(f"analogy accuracy {accuracy['total']:.1%} of {accuracy['questions']} questions ({parts})")
        print(f"king - man + woman = {model.wv.analogy('king', 'man', 'woman')[0][0]}")
    if args.save:
        print(f"wrote {model.wv.save(args.save)}")
    return {"model": model, "analogy_accuracy": accuracy}


if __name__ == "__main__":
    main()
