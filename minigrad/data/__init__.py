"""Datasets (IDX, MNIST, Fashion-MNIST), DataLoader, samplers, standardization and
batch augmentations; numpy only (nothing here imports nn/optim/train)."""
from . import transforms
from .dataset import Dataset, TensorDataset
from .download import ChecksumError
from .idx import read_idx, write_idx
from .labels import to_categorical
from .loader import DataLoader
from .mnist import DatasetNotFoundError, load_fashion_mnist, load_mnist
from .samplers import (BalancedSampler, RandomSampler, Sampler, SequentialSampler,
                       train_test_split, validation_split)
from .standardize import Standardizer
from .transforms import (Compose, GaussianNoise, RandomCrop, RandomHorizontalFlip,
                         RandomRotation, RandomShift)

__all__ = ["BalancedSampler", "ChecksumError", "Compose", "DataLoader", "Dataset",
           "DatasetNotFoundError", "GaussianNoise", "RandomCrop", "RandomHorizontalFlip",
           "RandomRotation", "RandomSampler", "RandomShift", "Sampler", "SequentialSampler",
           "Standardizer", "TensorDataset", "load_fashion_mnist", "load_mnist", "read_idx",
           "to_categorical", "train_test_split", "transforms", "validation_split", "write_idx"]
