"""W5 word2vec step: skip-gram with negative sampling, one SGD step, float32.

The batch is every (centre, context) pair of the first 256 words of the generated corpus
(``nn.word2vec.generated_corpus``; window 5, reduced per centre as word2vec.c does, 1,019
pairs) with 5 negatives each from the unigram^0.75 table; tables of 100-dimensional vectors
for its vocabulary of 189 words. Each implementation is a pure function
``(w_in, w_out, centres, contexts, negatives) -> (loss, w_in', w_out')``: the summed loss
``-log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c)``, its gradient with respect to both
tables (a scatter-add of the rows used) and the update with learning rate 0.025. The words/s
column is 256 words over the step's median time: the compiled step only, without the host
work of ``Word2Vec.fit`` (subsampling, windows, negative draws), which the README measures.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from adjit.nn import word2vec
from adjit.nn.text import Vocabulary

NAME = "w5"
TITLE = "W5 word2vec step: skip-gram, 256 words (1,019 pairs), 5 negatives, dim 100, float32"
TASKS = ("step",)
TASK_TITLES = {"step": "SGD step"}
ADJIT_TARGETS = ("cpu", "numpy")
TOL = 1e-4  # float32: normwise relative error of the loss and of the implied gradients
LR = 0.025
WORDS, DIM, NEGATIVES, WINDOW = 256, 100, 5, 5


def inputs(quick: bool) -> dict:
    sentences, _ = word2vec.generated_corpus(seed=0, sentences=2000)
    vocab = Vocabulary.build(sentences)
    ids = np.concatenate([vocab.encode(s) for s in sentences])
    sentence = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    rng = np.random.default_rng(0)
    centres, contexts = word2vec.skipgram_pairs(ids[:WORDS], sentence[:WORDS], WINDOW, rng)
    negatives = word2vec.NegativeSampler(vocab.counts).draw(rng, contexts, NEGATIVES)  # counts[0] (<unk>) is 0
    v = len(vocab)
    return {"w_in": rng.uniform(-0.5 / DIM, 0.5 / DIM, (v, DIM)).astype(np.float32),
            "w_out": (rng.normal(size=(v, DIM)) * 0.1).astype(np.float32),
            "centres": centres, "contexts": contexts, "negatives": negatives}


def _args(inp) -> tuple:
    return tuple(inp[k] for k in ("w_in", "w_out", "centres", "contexts", "negatives"))


def _log_sigmoid(x):
    return -np.logaddexp(0, -x)


def _numpy_step(w_in, w_out, centres, contexts, negatives, lr):
    """Forward and backward written out; the reference (in float64) and the numpy peer (float32)."""
    v, u, un = w_in[centres], w_out[contexts], w_out[negatives]
    pos = np.sum(v * u, axis=-1)
    neg = np.einsum("bkd,bd->bk", un, v)
    loss = -np.sum(_log_sigmoid(pos)) - np.sum(_log_sigmoid(-neg))
    d_pos = -1 / (1 + np.exp(pos))   # d loss / d pos = sigmoid(pos) - 1
    d_neg = 1 / (1 + np.exp(-neg))   # d loss / d neg = sigmoid(neg)
    g_in, g_out = np.zeros_like(w_in), np.zeros_like(w_out)
    np.add.at(g_in, centres, d_pos[:, None] * u + np.einsum("bk,bkd->bd", d_neg, un))
    np.add.at(g_out, contexts, d_pos[:, None] * v)
    np.add.at(g_out, negatives, d_neg[:, :, None] * v[:, None, :])
    return loss, w_in - lr * g_in, w_out - lr * g_out


def reference(inp) -> dict:
    args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in _args(inp)]
    return {"step": _numpy_step(*args, LR)}


def error(inp, task, outs, ref) -> float:
    """The largest normwise relative error of the loss and of the gradients implied by the new
    tables, ``(w - w') / lr`` (the update is small next to the tables)."""
    from .harness import relative_error
    errs = [relative_error(outs[0], ref[0])]
    for name, o, r in zip(("w_in", "w_out"), outs[1:], ref[1:]):
        w = inp[name].astype(np.float64)
        errs.append(relative_error((w - np.asarray(o, dtype=np.float64)) / LR, (w - r) / LR))
    return max(errs)


def adjit(inp) -> dict:
    return {"step": (word2vec.step_function("skipgram", NEGATIVES), _args(inp) + (np.float32(LR),))}


def numpy_by_hand(inp) -> dict:
    return {"step": partial(_numpy_step, *_args(inp), np.float32(LR))}


def numba_by_hand(inp) -> dict:
    import numba

    @numba.njit
    def step(w_in, w_out, centres, contexts, negatives, lr):
        g_in, g_out = np.zeros_like(w_in), np.zeros_like(w_out)
        loss = 0.0
        d = w_in.shape[1]
        for b in range(centres.shape[0]):
            c = centres[b]
            for j in range(negatives.shape[1] + 1):
                o = contexts[b] if j == 0 else negatives[b, j - 1]
                s = np.float32(0)
                for i in range(d):
                    s += w_in[c, i] * w_out[o, i]
                if j == 0:  # -log sigmoid(s), and its derivative sigmoid(s) - 1
                    loss += np.log1p(np.exp(-abs(s))) + max(-s, 0)
                    g = np.float32(-1) / (np.float32(1) + np.exp(s))
                else:       # -log sigmoid(-s), and its derivative sigmoid(s)
                    loss += np.log1p(np.exp(-abs(s))) + max(s, 0)
                    g = np.float32(1) / (np.float32(1) + np.exp(-s))
                for i in range(d):
                    g_in[c, i] += g * w_out[o, i]
                    g_out[o, i] += g * w_in[c, i]
        return np.float32(loss), w_in - lr * g_in, w_out - lr * g_out
    return {"step": partial(step, *_args(inp), np.float32(LR))}


def torch_eager(inp) -> dict:
    import torch
    import torch.nn.functional as F
    w_in, w_out = (torch.from_numpy(inp[k]).requires_grad_(True) for k in ("w_in", "w_out"))
    centres, contexts, negatives = (torch.from_numpy(inp[k]) for k in ("centres", "contexts", "negatives"))

    def step():
        v = w_in[centres]
        pos = (v * w_out[contexts]).sum(-1)
        neg = torch.einsum("bkd,bd->bk", w_out[negatives], v)
        loss = -F.logsigmoid(pos).sum() - F.logsigmoid(-neg).sum()
        g_in, g_out = torch.autograd.grad(loss, (w_in, w_out))
        with torch.no_grad():
            return loss.detach(), w_in - LR * g_in, w_out - LR * g_out
    return {"step": step}


PEERS = [("numpy by hand", "numpy", numpy_by_hand), ("numba by hand", "numba", numba_by_hand),
         ("PyTorch eager", "torch", torch_eager)]


def _words_per_second(row) -> str:
    t = row.get("step")
    return "–" if not t else f"{WORDS / t:,.0f}"


COLUMNS = [("words/s (step only)", _words_per_second)]


def targets(results, compile_times) -> list:
    """Issue #7: the adjit step no slower than numpy by hand."""
    from .report import target_row
    rows = []
    for threads, res in results.items():
        a, label = res.adjit("step")
        n = res.time("numpy by hand", "step")
        rows.append(target_row(f"W5: word2vec step no slower than numpy by hand ({label or 'adjit'})", threads,
                               None if a is None or n is None else a / n, 1.0, "x numpy",
                               busy=res.busy(label, "numpy by hand")))
    return rows
