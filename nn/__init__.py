"""Neural networks on adjit graphs: layers (configuration + ``init`` + a graph from params and
inputs), models, losses, optimizers, one compiled training step, a trainer, datasets offline."""
from . import data, initializers, losses, metrics, models, optim
from .history import History
from .io import load, save
from .layers import (Activation, AvgPool2D, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAvgPool2D,
                     Layer, MaxPool2D, Param)
from .model import Model, Sequential
from .train import Evaluator, TrainStep, fit, predict, train_step

__all__ = ["Activation", "AvgPool2D", "Conv2D", "Dense", "Dropout", "Embedding", "Evaluator", "Flatten",
           "GlobalAvgPool2D", "History", "Layer", "MaxPool2D", "Model", "Param", "Sequential", "TrainStep",
           "data", "fit", "initializers", "load", "losses", "metrics", "models", "optim", "predict", "save",
           "train_step"]
