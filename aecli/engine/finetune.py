"""Supervised fine-tuning: an encoder plus a linear softmax head, trained end to end.

The stacked autoencoder's last step in the lecture ("fine-tune the entire model for
classification"), and its control: the same architecture from random weights
(`fresh_copy`) on the same labels and budget. The loop is the training loop's shape —
forward, loss, backward, step — with the data on the device and batched by index.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

# Rows pushed through the network at once when scoring: bounds activation memory only.
_EVAL_ROWS = 4096


@dataclass
class ClassifierResult:
    """The outcome of `train_classifier`.

    test_acc: accuracy on the test split (fraction in [0, 1]) with the best epoch's weights.
    best_epoch: the epoch (1-based) with the highest validation accuracy, the first on a tie.
    val_acc: validation accuracy after each epoch, (epochs,) fractions.
    train_loss: mean cross-entropy over each epoch's batches, nats per sample, (epochs,).
    model: the encoder + head (nn.Sequential) holding the best epoch's weights, in eval mode.
    """

    test_acc: float
    best_epoch: int
    val_acc: list[float]
    train_loss: list[float]
    model: nn.Sequential

    @property
    def best_val_acc(self) -> float:
        return self.val_acc[self.best_epoch - 1]


def fresh_copy(encoder: nn.Module, seed: int | None = None) -> nn.Module:
    """A copy of `encoder` with every parameter re-initialised: the same architecture, untrained.

    Calls `reset_parameters()` on every submodule that has one (torch's own initialisation for
    Linear, Conv, norms ...). Refuses with ValueError when some parameter belongs to no such
    module, rather than silently leaving pretrained weights in a "from scratch" baseline.
    `encoder` itself is not touched. With `seed`, the new weights repeat from call to call and
    the caller's random state is left as it was; they are drawn on the CPU and then moved to
    the encoder's device, so one seed gives the same weights on every device.
    """
    device = next(encoder.parameters(), torch.empty(0)).device
    fresh = copy.deepcopy(encoder).to("cpu")
    resettable = [module for module in fresh.modules() if callable(getattr(module, "reset_parameters", None))]
    covered = {id(parameter) for module in resettable for parameter in module.parameters()}
    stale = [name for name, parameter in fresh.named_parameters() if id(parameter) not in covered]
    if stale:
        raise ValueError(
            f"cannot re-initialise {', '.join(stale)}: no module holding them has reset_parameters()"
        )
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.default_generator.manual_seed(seed)
        for module in resettable:
            module.reset_parameters()
    return fresh.to(device)


def train_classifier(
    encoder: nn.Module,
    code_dim: int,
    num_classes: int,
    train_x: Tensor | np.ndarray,
    train_y: Tensor | np.ndarray,
    val_x: Tensor | np.ndarray,
    val_y: Tensor | np.ndarray,
    test_x: Tensor | np.ndarray,
    test_y: Tensor | np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device | str,
) -> ClassifierResult:
    """Train a copy of `encoder` followed by a Linear(code_dim, num_classes) softmax head on
    (train_x, train_y) with Adam and cross-entropy, keep the epoch with the best validation
    accuracy, and score it on the test split.

    `encoder` maps a batch (B, *sample_shape) to codes (B, code_dim); it is copied, never
    trained in place, so one pretrained encoder can serve several label budgets. Inputs are
    tensors or arrays in the encoder's own input shape; labels are integers 0 .. num_classes-1.
    The head's initialisation and the batch order come from `seed` (the caller's random state
    is restored afterwards); randomness drawn on an accelerator itself (dropout on a GPU) is
    the caller's to seed.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    device = torch.device(device)
    train_x, train_y = _on_device(train_x, train_y, num_classes, device)
    val_x, val_y = _on_device(val_x, val_y, num_classes, device)
    test_x, test_y = _on_device(test_x, test_y, num_classes, device)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        model = nn.Sequential(copy.deepcopy(encoder), nn.Linear(code_dim, num_classes)).to(device)
        _check_code_dim(model[0], train_x, code_dim)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        train_loss, val_acc, best_state = [], [], None
        for _ in range(epochs):
            train_loss.append(_train_epoch(model, optimizer, train_x, train_y, batch_size))
            val_acc.append(_accuracy(model, val_x, val_y))
            if best_state is None or val_acc[-1] > max(val_acc[:-1]):
                # A copy, not a reference: the next step would overwrite the tensors in place.
                best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    best_epoch = 1 + int(np.argmax(val_acc))  # argmax keeps the first of equal accuracies
    return ClassifierResult(_accuracy(model, test_x, test_y), best_epoch, val_acc, train_loss, model)


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, batch_size: int) -> float:
    """One pass over (x, y) in a random order; the mean cross-entropy, nats per sample."""
    model.train()
    order = torch.randperm(len(x)).to(x.device)  # CPU generator: the order repeats on any device
    total = torch.zeros((), device=x.device)
    starts = list(range(0, len(x), batch_size))
    if len(starts) > 1 and len(x) - starts[-1] == 1:
        starts.pop()  # the one left over joins the batch before: batch norm cannot train on a batch of one
    for start, end in zip(starts, [*starts[1:], len(x)]):
        batch = order[start:end]
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(batch)  # summed on the device: one host sync per epoch
    return float(total) / len(x)


def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of rows of `x` whose highest logit is the label in `y`; eval mode, no gradients."""
    model.eval()
    with torch.no_grad():
        correct = sum(
            (model(x[start : start + _EVAL_ROWS]).argmax(dim=1) == y[start : start + _EVAL_ROWS]).sum()
            for start in range(0, len(x), _EVAL_ROWS)
        )
    return float(correct) / len(x)


def _check_code_dim(encoder: nn.Module, x: Tensor, code_dim: int) -> None:
    encoder.eval()
    with torch.no_grad():
        shape = tuple(encoder(x[:1]).shape)
    if shape != (1, code_dim):
        raise ValueError(
            f"the encoder maps a sample to shape {shape[1:]}, not the code_dim={code_dim} the head expects"
        )


def _on_device(
    x: Tensor | np.ndarray, y: Tensor | np.ndarray, num_classes: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """One split as float32 inputs and int64 labels on `device`, checked once here."""
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).to(torch.int64).reshape(-1)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(
            f"every split needs as many labels as samples, at least one: got {len(x)} samples, {len(y)} labels"
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must lie in 0 .. {num_classes - 1}, got {int(y.min())} .. {int(y.max())}")
    return x.to(device), y.to(device)
