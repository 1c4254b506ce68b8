"""The reference: a training loop written the way most PyTorch scripts are.

A torchvision-style MNIST Dataset (uint8 images, each converted on access as
`transforms.ToTensor()` does: PIL image -> float tensor in [0, 1]), a DataLoader with
shuffling, a per-step `loss.item()`, and the default `torch.optim.Adam`. The model is
aecli's own (same class, same initial weights) and the objective is the same one aecli
minimizes, written out by hand: Bernoulli negative log-likelihood summed over pixels,
plus the KL for a VAE (plus aecli's own contractive penalty for the contractive AE: there
is no more common way to write an exact Jacobian norm), averaged over the batch.
It needs neither torchvision nor anything else beyond torch, numpy and Pillow.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from aecli.data import Split
from aecli.models.jacobian import squared_jacobian_norm
from aecli.models import Autoencoder


class MNISTLike(Dataset):
    """What torchvision.datasets.MNIST with transforms.ToTensor() returns, one sample at a time."""

    def __init__(self, split: Split):
        # Stored like torchvision stores MNIST: a uint8 (N, 28, 28) tensor and int64 labels.
        self.data = torch.cat([(chunk.squeeze(1).cpu() * 255).round().to(torch.uint8) for chunk in split.x.split(4096)])
        self.targets = split.labels.cpu() if split.labels is not None else torch.zeros(len(split), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = Image.fromarray(self.data[index].numpy())  # torchvision: Image.fromarray(img.numpy(), mode="L")
        return to_tensor(image), int(self.targets[index])


def to_tensor(image: Image.Image) -> Tensor:
    """torchvision.transforms.functional.to_tensor for a greyscale PIL image."""
    array = np.array(image, np.uint8, copy=True)
    tensor = torch.from_numpy(array).view(image.size[1], image.size[0], 1)
    return tensor.permute(2, 0, 1).contiguous().to(torch.get_default_dtype()).div(255)


def reference_loss(model: Autoencoder, x: Tensor, contractive_weight: float | None) -> Tensor:
    """The per-sample objective written out the usual way (nats, averaged over the batch)."""
    forward = model(x)
    loss = F.binary_cross_entropy_with_logits(forward.output, x, reduction="sum")
    if model.variational:
        mean, logvar = forward.stats["mean"], forward.stats["logvar"]
        loss = loss - 0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp())
    loss = loss / len(x)
    if contractive_weight is not None:
        loss = loss + contractive_weight * squared_jacobian_norm(model, x, create_graph=torch.is_grad_enabled()).mean()
    return loss


class ReferenceLoop:
    """One epoch at a time: a pass over the training loader, then one over the validation loader."""

    def __init__(
        self, model: Autoencoder, train: Split, val: Split, batch_size: int, device: torch.device,
        contractive_weight: float | None = None, seed: int = 0,
    ):
        self.model, self.device, self.contractive_weight = model, device, contractive_weight
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        # pytorch/examples' settings: worker processes and pinned memory only when training on CUDA.
        extra = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
        generator = torch.Generator().manual_seed(seed)
        self.train_loader = DataLoader(MNISTLike(train), batch_size=batch_size, shuffle=True, generator=generator, **extra)
        self.val_loader = DataLoader(MNISTLike(val), batch_size=batch_size, shuffle=False, **extra)
        self.num_train, self.num_val = len(train), len(val)

    def epoch(self, max_batches: int | None = None) -> tuple[float, float]:
        """Train for one epoch and validate; the mean train and validation losses."""
        self.model.train()
        train_loss = 0.0
        for batch, (x, _) in enumerate(self.train_loader):
            if max_batches is not None and batch >= max_batches:
                break
            x = x.to(self.device)
            self.optimizer.zero_grad()
            loss = reference_loss(self.model, x, self.contractive_weight)
            loss.backward()
            self.optimizer.step()
            train_loss += loss.item() * len(x)
        self.model.eval()
        val_loss = 0.0
        with torch.no_grad():
            for x, _ in self.val_loader:
                x = x.to(self.device)
                val_loss += reference_loss(self.model, x, self.contractive_weight).item() * len(x)
        return train_loss / self.num_train, val_loss / self.num_val
