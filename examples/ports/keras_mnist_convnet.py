"""The Keras "simple MNIST convnet" example, ported to minigrad.

Keras's compile / fit / evaluate / summary run as they are; the model lines name the
input channels (minigrad layers do not infer them) and use NCHW. What differs, and
why, is listed in keras_mnist_convnet.md. PORT_DATASET=fashion-mnist trains on
Fashion-MNIST; PORT_SAMPLES=n and PORT_EPOCHS=e are the slow test's small budget.
"""

"""
## Setup
"""

import os

import numpy as np
import minigrad as keras  # the port: minigrad answers to the Keras names used here
from minigrad import nn as layers

"""
## Prepare the data
"""

# Model / data parameters
num_classes = 10
input_shape = (1, 28, 28)  # channels first (NCHW)

# The data source: minigrad's loaders, split into train and test as in Keras
fashion = os.environ.get("PORT_DATASET") == "fashion-mnist"
load = keras.data.load_fashion_mnist if fashion else keras.data.load_mnist
(x_train, y_train), (x_test, y_test) = load()
n = int(os.environ.get("PORT_SAMPLES", len(x_train)))
(x_train, y_train), (x_test, y_test) = (x_train[:n], y_train[:n]), (x_test[:n], y_test[:n])

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Give the images their channel axis: (1, 28, 28)
x_train = np.expand_dims(x_train, 1)
x_test = np.expand_dims(x_test, 1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# class labels as one-hot rows
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

"""
## Build the model
"""

model = layers.Sequential(
    [
        layers.Conv2d(1, 32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPool2d(kernel_size=(2, 2)),
        layers.Conv2d(32, 64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPool2d(kernel_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Linear(1600, num_classes), layers.Softmax(),
    ]
)

model.build((None,) + input_shape)
model.summary()

"""
## Train the model
"""

batch_size = 128
epochs = int(os.environ.get("PORT_EPOCHS", 15))

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

"""
## Evaluate the trained model
"""

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
