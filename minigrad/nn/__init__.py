"""Neural-network layers, activations, initializers, regularizers and losses."""
