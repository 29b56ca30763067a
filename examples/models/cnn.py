#!/usr/bin/env python3
"""Flotilla's built-in `cnn` written in PyTorch, saved as TorchScript.

    /usr/bin/python3 examples/models/cnn.py cnn.pt
    build/flotilla run model.name=torchscript model.file=cnn.pt

The same layers as the built-in model (two 5x5 conv layers, 80,202 parameters), named. Flotilla
trains the module natively (libtorch), one deep copy per trainer; models/*.pt of the run are
state_dicts that load back into CNN() with strict=True:

    net = CNN(); net.load_state_dict(torch.load("runs/.../models/global.pt"), strict=True)
"""
import argparse

import torch
from torch import nn


class CNN(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=5)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.fc1 = nn.Linear(32 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Flotilla sends [batch, channels, height, width] float batches; return [batch, classes].
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="where to write the TorchScript module")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.jit.save(torch.jit.script(CNN(a.classes)), a.out)


if __name__ == "__main__":
    main()
