"""Do a conditional VAE's samples show their class? Prior draws decoded at each class, labelled by
a multinomial logistic regression fit on real training samples (their values as the model sees
them, not standardized: a blurry sample's faint border pixels would weigh heavily where the
training samples hardly vary): the share
labelled as the class they were drawn for. The classifier's accuracy on the real test split is
reported beside it, as the ceiling that share can be read against.

SAMPLES_PER_CLASS prior draws per class (fixed seed), the decoder's mean; the classifier is fit on
TRAIN_ROWS training samples (a fixed-seed draw). On MNIST the fit takes a few seconds."""

from __future__ import annotations

import numpy as np
import torch

from aecli.data import Dataset
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder

SAMPLES_PER_CLASS = 100
TRAIN_ROWS = 10_000
MAX_ITER = 200


@torch.inference_mode()
def conditional_sample_figures(model: Autoencoder, likelihood: Likelihood, data: Dataset, seed: int, batch_size: int) -> dict[str, float]:
    """conditional_sample_acc and conditional_classifier_acc of a conditional VAE (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression

    model.eval()
    train = data.train.subset(TRAIN_ROWS, seed)
    classes = sorted(set(train.labels.tolist()))  # the classes the model saw (exclude_classes leaves some out)
    classifier = LogisticRegression(max_iter=MAX_ITER)
    classifier.fit(_flat(train.x), train.labels.cpu().numpy())
    test_acc = float(classifier.score(_flat(data.test.x), data.test.labels.cpu().numpy()))

    wanted = torch.tensor(classes).repeat_interleave(SAMPLES_PER_CLASS)
    codes = model.sample_prior(len(wanted), torch.Generator().manual_seed(seed))
    device = codes.device
    decoded = torch.cat([
        likelihood.mean(model.decode(chunk, y=wanted[start : start + len(chunk)].to(device)))
        for start, chunk in zip(range(0, len(codes), batch_size), codes.split(batch_size))
    ])
    predicted = classifier.predict(_flat(decoded))
    return {"conditional_sample_acc": float(np.mean(predicted == wanted.numpy())), "conditional_classifier_acc": test_acc}


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.flatten(1).float().cpu().numpy()


__all__ = ["conditional_sample_figures"]
