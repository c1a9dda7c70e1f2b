"""Text basics: bag-of-words and n-gram features with a logistic-regression baseline.

Tokenizes the templated reviews of ``nn.text.sentiment_dataset`` (positive or negative
adjectives, negated with "not" 30% of the time, test sentences built from subjects and templates
no training sentence has), builds word counts, binary presence and 1- to 3-gram counts as scipy
sparse matrices, and trains multinomial logistic regression (one compiled adjit step) on each.
The answer is known: on words alone a linear model can be right on at most 85% of the test
sentences (the label is an exclusive or of the adjective and "not"); with word pairs, on all.
Run: ``python examples/text_baseline.py [--train 2000] [--epochs 20]``.
"""
from __future__ import annotations

import argparse

from adjit import nn
from adjit.nn import text


def main(argv=None) -> dict:
    """Run with command-line arguments ``argv``; ``{features name: (columns, test accuracy)}``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2000, help="training sentences")
    parser.add_argument("--test", type=int, default=500, help="held-out sentences")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (train_texts, y_train), (test_texts, y_test) = text.sentiment_dataset(args.seed, args.train, args.test)
    train_docs, test_docs = [text.tokenize(t) for t in train_texts], [text.tokenize(t) for t in test_texts]
    vocab = text.Vocabulary.build(train_docs)
    print(f"{len(train_docs)} training and {len(test_docs)} test sentences, e.g. {train_texts[0]!r}; "
          f"vocabulary of {len(vocab)} (with <unk>)")
    features = {"word counts": (text.bag_of_words(train_docs, vocab), text.bag_of_words(test_docs, vocab)),
                "word presence": (text.bag_of_words(train_docs, vocab, binary=True),
                                  text.bag_of_words(test_docs, vocab, binary=True))}
    for n in (2, 3):
        X_train, names = text.ngram_counts(train_docs, n)
        features[f"1- to {n}-gram counts"] = (X_train, text.ngram_counts(test_docs, n, features=names)[0])
    results = {}
    for name, (X_train, X_test) in features.items():
        model, params = text.logistic_regression(X_train, y_train, epochs=args.epochs, seed=args.seed)
        accuracy = nn.metrics.accuracy(nn.predict(model, params, X_test.toarray()), y_test)
        results[name] = (X_train.shape[1], accuracy)
        print(f"{name:>20}: {X_train.shape[1]:5d} columns, test accuracy {accuracy:.1%}")
    return results


if __name__ == "__main__":
    main()
