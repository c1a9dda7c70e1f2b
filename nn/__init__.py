"""Neural networks on adjit graphs: layers (configuration + ``init`` + a graph from params and
inputs), models, losses, optimizers, one compiled training step, a trainer, datasets offline;
text basics, word vectors and word2vec; seq2seq, a character-level language model, and what a CNN
sees (feature maps, class activation maps)."""
from . import (activation_maps, charlm, data, gradient_study, initializers, losses, metrics, models, optim, recurrent,
               seq2seq, text, vectors, word2vec)
from .history import History
from .io import load, save
from .layers import (Activation, AvgPool2D, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAvgPool2D,
                     Layer, MaxPool2D, Param)
from .model import Model, Sequential
from .recurrent import GRU, LSTM, SimpleRNN
from .tbptt import TBPTT, tbptt_fit
from .train import Evaluator, TrainStep, fit, predict, train_step

__all__ = ["Activation", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Embedding", "Evaluator", "Flatten", "GRU",
           "GlobalAvgPool2D", "History", "LSTM", "Layer", "MaxPool2D", "Model", "Param", "Sequential",
           "SimpleRNN", "TBPTT", "TrainStep", "activation_maps", "charlm", "data", "fit", "gradient_study",
           "initializers", "load", "losses", "metrics", "models", "optim", "predict", "recurrent", "save",
           "seq2seq", "tbptt_fit", "text", "train_step", "vectors", "word2vec"]
