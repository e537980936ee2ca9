"""Datasets (IDX, MNIST, Fashion-MNIST), DataLoader, samplers, standardization and
batch augmentations; numpy only (nothing here imports nn/optim/train)."""
from . import transforms
from .dataset import Dataset, TensorDataset
from .download import ChecksumError
from .idx import read_idx, write_idx
from .labels import to_categorical
from .loader import DataLoader
from .mnist import DatasetNotFoundError, load_fashion_mnist, load_mnist
from .samplers import (BalancedSampler, RandomOverSampler, RandomSampler, Sampler,
                       SequentialSampler, train_test_split, validation_split)
from .standardize import Standardizer, Whitening
from .transforms import (ColorJitter, Compose, GaussianNoise, RandomAffine, RandomCrop,
                         RandomErasing, RandomHorizontalFlip, RandomRotation, RandomShift,
                         RandomZoom)

__all__ = ["BalancedSampler", "ChecksumError", "ColorJitter", "Compose", "DataLoader",
           "Dataset", "DatasetNotFoundError", "GaussianNoise", "RandomAffine", "RandomCrop",
           "RandomErasing", "RandomHorizontalFlip", "RandomZoom",
           "RandomOverSampler", "RandomRotation", "RandomSampler", "RandomShift", "Sampler",
           "SequentialSampler",
           "Standardizer", "TensorDataset", "Whitening", "load_fashion_mnist", "load_mnist",
           "read_idx",
           "to_categorical", "train_test_split", "transforms", "validation_split", "write_idx"]
