"""The decoder likelihood interface: what the decoder's output means and the reconstruction loss.

Every loss here is a negative log-likelihood in nats *per sample*: summed over the
data dimensions, one value per batch element (the trainer averages over the batch).
"""

from __future__ import annotations

from torch import Tensor

from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder


def sum_per_sample(values: Tensor) -> Tensor:
    return values.flatten(1).sum(1)


class Likelihood:
    """The interface: `outputs_per_dim` decoder outputs per data dimension, `nll` and `mean`
    (and `std` where the decoder learns its spread)."""

    name: str = ""
    outputs_per_dim: int = 1
    squared_error: bool = False  # True when the loss is half the squared error plus a constant (fixed-variance Gaussian)
    # True when `nll` is a density over real values, comparable with a Gaussian baseline's (PPCA);
    # False for a probability of discrete values (Bernoulli), where such a comparison means nothing.
    continuous: bool = True

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        """Negative log-likelihood of `x` under the decoder `output`, nats per sample, shape (B,)."""
        raise NotImplementedError

    def mean(self, output: Tensor) -> Tensor:
        """The reconstruction in data space (the distribution's mean)."""
        raise NotImplementedError

    def std(self, output: Tensor) -> Tensor | None:
        """The decoder's standard deviation per data dimension where it is learned, else None.

        Pictures draw it beside the mean: on variance-MNIST the digit lives only there.
        """
        return None

    def refusal(self, data: Dataset, model: Autoencoder | None = None) -> str | None:
        """Why this likelihood cannot model `data` (through `model`'s decoder, when given): one
        line naming the problem and the fix; None when it can. `likelihood=auto` takes the first
        of its candidates that accepts the data and the model (aecli.likelihoods.AUTO)."""
        return None if model is None else model.likelihood_refusal(self)

    def accepts(self, data: Dataset, model: Autoencoder | None = None) -> bool:
        return self.refusal(data, model) is None

    def check(self, data: Dataset, model: Autoencoder | None = None) -> None:
        """Raise the refusal as a UserError, before any training."""
        problem = self.refusal(data, model)
        if problem is not None:
            raise UserError(problem)
