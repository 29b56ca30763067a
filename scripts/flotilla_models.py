"""PyTorch twins of flotilla's registered models (src/model/models.cpp).

Each model is an nn.Sequential with the same layers in the same order as its C++ twin, so
its state_dict keys ("0.weight", "0.bias", ...) and shapes are the ones flotilla writes to
runs/<run>/models/*.pt and reads from model.init:

    import torch, flotilla_models
    m = flotilla_models.build("cnn")
    m.load_state_dict(torch.load("runs/<run>/models/global.pt"), strict=True)

    torch.save(m.state_dict(), "start.pt")   # then: flotilla run model.init=start.pt

Inputs are normalized images, N x C x H x W (INPUT_SHAPES), or feature vectors for mclr and mlp
(any shape: they flatten); outputs are one logit per class. Models take the data's classes, and
mclr/mlp its flattened sample size, as flotilla does (model.hidden gives mlp's layer sizes):

    m = flotilla_models.build("mlp", features=60, classes=10, hidden=(200, 200))
"""
from torch import nn


def cnn(classes=10):
    """Two 5x5 conv layers, 80,202 parameters: seconds per MNIST round."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, classes))


def mcmahan_cnn(classes=10):
    """McMahan et al. 2017's MNIST CNN, 1,663,370 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.Linear(512, classes))


def cifar_cnn(classes=10):
    """Three 3x3 conv blocks for 32x32 RGB, 188,810 parameters."""
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, classes))


# Same names, same order as the table in src/model/models.cpp.
def wide_mlp(classes=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 100000), nn.ReLU(), nn.Linear(100000, classes))


def mclr(features=28 * 28, classes=10):
    """Multinomial logistic regression on the flattened sample (FedProx's convex model)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(features, classes))


def mlp(features=28 * 28, classes=10, hidden=(200, 200)):
    """Fully connected ReLU layers of model.hidden's sizes on the flattened sample."""
    layers = [nn.Flatten()]
    for h in hidden:
        layers += [nn.Linear(features, h), nn.ReLU()]
        features = h
    return nn.Sequential(*layers, nn.Linear(features, classes))


MODELS = {"cnn": cnn, "mcmahan_cnn": mcmahan_cnn, "cifar_cnn": cifar_cnn, "wide_mlp": wide_mlp, "mclr": mclr,
          "mlp": mlp}

# (channels, height, width) each fixed-shape model takes; mclr and mlp take any (features=...).
INPUT_SHAPES = {"cnn": (1, 28, 28), "mcmahan_cnn": (1, 28, 28), "cifar_cnn": (3, 32, 32), "wide_mlp": (1, 28, 28),
                "mclr": None, "mlp": None}


def names():
    """The registered model names."""
    return list(MODELS)


def build(name, **shape):
    """A fresh model by flotilla's name, with PyTorch's default initialization. `shape`: classes=,
    and for mclr/mlp features= (the flattened sample size) and, for mlp, hidden=."""
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    return MODELS[name](**shape)
