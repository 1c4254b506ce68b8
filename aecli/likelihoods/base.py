"""The decoder likelihood interface: what the decoder's output means and the reconstruction loss.

Every loss here is a negative log-likelihood in nats *per sample*: summed over the
data dimensions, one value per batch element (the trainer averages over the batch).
"""

from __future__ import annotations

from torch import Tensor

from aecli.data import Dataset


def sum_per_sample(values: Tensor) -> Tensor:
    return values.flatten(1).sum(1)


class Likelihood:
    """The interface: `num_params` decoder outputs per data dimension, `nll` and `mean`
    (and `std` where the decoder learns its spread)."""

    name: str = ""
    num_params: int = 1
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

    def check_data(self, data: Dataset) -> None:
        """Raise a UserError when this likelihood cannot model `data`."""
