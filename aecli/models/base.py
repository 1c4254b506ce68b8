"""The autoencoder every architecture builds: an encoder to the code, a decoder back."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from aecli.errors import UserError
from aecli.models.bottleneck import Bottleneck
from aecli.models.scaling import InputScaling

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise UserError(f"model.activation={name} is unknown; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


@dataclass
class Forward:
    """One pass through an autoencoder.

    code: what the decoder saw, (B, latent_dim) (a sample of q(z|x) for a Gaussian bottleneck).
    output: the decoder's output (the likelihood's parameters).
    stats: anything else a regularizer may need from the pass: empty for a plain
        bottleneck, `mean` and `logvar` of q(z|x) (each (B, latent_dim)) for a Gaussian one.
    labels: the class labels a conditional model was given (B,), else None.
    """

    code: Tensor
    output: Tensor
    stats: dict[str, Tensor] = field(default_factory=dict)
    labels: Tensor | None = None


class Autoencoder(nn.Module):
    """encode: x (B, *sample_shape) -> code (B, latent_dim); decode: code -> decoder output.

    The encoder emits `bottleneck.outputs_per_latent` values per latent dimension
    (one for a plain code, a mean and a log-variance for a Gaussian one). The decoder
    output holds `outputs_per_dim` values per data dimension (what the likelihood needs):
    shape (B, *sample_shape) for one, (B, outputs_per_dim, *sample_shape) for more. Output
    activations belong to the likelihood.

    hidden_layers: the encoder's hidden activation modules, in order (for regularizers
    that look at hidden units). input_gain: the decoder's output is a per-dimension gain
    in (0, 1) applied to the encoder's input (a skip connection, used by denoising
    autoencoders whose best output is the noisy input rescaled pixel by pixel).

    A conditional model (`make_conditional`, model.conditional=true) also takes each sample's
    class label `y` (B,) in encode, decode and forward; any other model ignores `y`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        sample_shape: tuple[int, ...],
        outputs_per_dim: int = 1,
        bottleneck: Bottleneck | None = None,
        hidden_layers: list[nn.Module] | None = None,
        input_gain: bool = False,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.bottleneck = bottleneck if bottleneck is not None else Bottleneck()
        self.latent_dim = latent_dim
        self.sample_shape = tuple(sample_shape)
        self.outputs_per_dim = outputs_per_dim
        self._output_shape = self.sample_shape if outputs_per_dim == 1 else (outputs_per_dim, *self.sample_shape)
        self.hidden_layers = tuple(hidden_layers or ())  # a tuple: these modules are registered in the encoder
        if input_gain and outputs_per_dim != 1:
            raise UserError("model.input_gain=true needs one decoder output per data dimension; set it to false")
        self.input_gain = input_gain
        self.classes = 0  # > 0: conditional on a label of that many classes

    def make_conditional(self, classes: int) -> None:
        """Feed the one-hot class label to the encoder and the decoder (aecli.models.conditional)."""
        from aecli.models.conditional import LabelledSequential

        if not isinstance(self.encoder, nn.Sequential) or not isinstance(self.decoder, nn.Sequential):
            raise UserError(f"model.conditional=true is for model=mlp and model=conv, not {type(self).__name__}")
        self.encoder, self.decoder = LabelledSequential(self.encoder, classes), LabelledSequential(self.decoder, classes)
        self.classes = classes

    @property
    def conditional(self) -> bool:
        return self.classes > 0

    def encoded(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The encoder's output for `x` (and a conditional model's labels `y`), before the code layer."""
        return self.encoder(x, y) if self.classes else self.encoder(x)

    @property
    def variational(self) -> bool:
        """True for a Gaussian bottleneck (a VAE): codes are sampled and a prior p(z) exists.
        The one place this is answered; outside models/ only regularizers/vae asks."""
        return self.bottleneck.variational

    @property
    def is_linear(self) -> bool:
        """True when encoder and decoder are affine maps (a linear autoencoder): its decoder
        then spans a subspace that can be compared with PCA's."""
        return False

    def sample_prior(self, count: int, generator: torch.Generator) -> Tensor | None:
        """`count` codes from the model's prior on its device, or None when it has none (not generative)."""
        codes = self.bottleneck.sample_prior(count, self.latent_dim, generator)
        return None if codes is None else codes.to(next(self.parameters()).device)

    @property
    def needs_input_statistics(self) -> bool:
        """True when the model holds statistics of its training inputs (`fit_input`)."""
        return any(isinstance(module, InputScaling) for module in self.modules())

    def fit_input(self, x: Tensor) -> None:
        """Set the statistics of the training inputs `x` (N, *sample_shape) that the model holds
        (aecli.models.scaling: the linear model's centring and scale); called once when a model is
        built, before training (a checkpoint's own values replace them on load)."""
        for module in self.modules():
            if isinstance(module, InputScaling):
                module.fit(x)

    def stages(self) -> list[Autoencoder]:
        """The shallow autoencoders of greedy layer-wise pretraining (aecli.engine.stacked)."""
        raise UserError("trainer.pretrain=layerwise stacks the layers of model=mlp (not a VAE); use model=mlp and no vae")

    def filters(self) -> tuple[str, Tensor] | None:
        """Pictures of what the model learned, as (TensorBoard tag, weights (units, *shape)): one
        picture per unit, in the data's own sample shape (a dense first layer's rows, a
        dictionary's atoms) or as C x k x k images (a first convolution's kernels); None when
        there is nothing to draw."""
        return None

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The deterministic code of `x`, (B, latent_dim): what plots and probes use
        (the posterior mean for a Gaussian bottleneck)."""
        return self.bottleneck.mean(self.encoded(x, y))

    def decode(self, code: Tensor, x: Tensor | None = None, y: Tensor | None = None) -> Tensor:
        """The decoder's output for `code`; an input-gain decoder also needs the encoder's input `x`,
        a conditional one the labels `y`."""
        output = self.decoder(code, y) if self.classes else self.decoder(code)
        output = output.reshape(code.shape[0], *self._output_shape)
        if self.input_gain:
            if x is None:
                raise ValueError("an input-gain decoder rescales the input: pass x to decode")
            output = torch.sigmoid(output) * x
        return output

    def forward(self, x: Tensor, y: Tensor | None = None) -> Forward:
        code, stats = self.bottleneck(self.encoded(x, y))
        return Forward(code=code, output=self.decode(code, x, y), stats=stats, labels=y if self.classes else None)

    # Hooks for a model family that brings its own objective (sparse coding); no-ops here.

    def penalty(self, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """The model's own named loss terms for a batch, per sample, averaged over the batch."""
        return {}

    def diagnostics(self, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """Named scalars logged beside the loss terms, never optimized."""
        return {}

    def after_step(self) -> None:
        """Called by the trainer after every optimizer step (e.g. to project weights back onto a constraint)."""

    def likelihood_refusal(self, likelihood: Any) -> str | None:
        """Why this model cannot be trained under `likelihood` (one line naming the fix), or None;
        a likelihood asks it in `Likelihood.refusal`."""
        return None

    def check(self, likelihood: Any, regularizers: list[Any], data: Any) -> None:
        """Raise a UserError, before training, when this model cannot work with these."""
        problem = self.likelihood_refusal(likelihood)
        if problem is not None:
            raise UserError(problem)

    def squared_jacobian_norm(self, x: Tensor) -> Tensor | None:
        """A closed form of the per-sample ||d encode / dx||_F^2, or None (aecli.jacobian differentiates)."""
        return None



def num_features(sample_shape: tuple[int, ...]) -> int:
    return math.prod(sample_shape)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["Autoencoder", "activation", "num_features", "count_parameters"]
