"""Neural networks on adjit graphs: layers (configuration + ``init`` + a graph from params and
inputs), models, losses, optimizers, one compiled training step, a trainer, datasets offline;
text basics, word vectors and word2vec."""
from . import (data, gradient_study, initializers, losses, metrics, models, optim, recurrent, text, vectors,
               word2vec)
from .history import History
from .io import load, save
from .layers import (Activation, AvgPool2D, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAvgPool2D,
                     Layer, MaxPool2D, Param)
from .model import Model, Sequential
from .recurrent import GRU, LSTM, SimpleRNN
from .train import Evaluator, TrainStep, fit, predict, train_step

__all__ = ["Activation", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Embedding", "Evaluator", "Flatten", "GRU",
           "GlobalAvgPool2D", "History", "LSTM", "Layer", "MaxPool2D", "Model", "Param", "Sequential",
           "SimpleRNN", "TrainStep", "data", "fit", "gradient_study", "initializers", "load", "losses",
           "metrics", "models", "optim", "predict", "recurrent", "save", "text", "train_step", "vectors",
           "word2vec"]
