"""Datasets (IDX, MNIST, Fashion-MNIST), DataLoader, samplers and transforms."""
