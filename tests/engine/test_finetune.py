"""Encoder + softmax head on tiny synthetic data: it learns, it repeats, from scratch means from scratch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aecli.engine.finetune import fresh_copy, train_classifier

CODE_DIM = 4


@pytest.fixture(autouse=True)
def one_thread():
    """Tensors of a few dozen rows: extra threads only spin against the other processes on a
    shared machine (10x slower on 2 busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def xor_data(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes by the sign of x0 * x1 (XOR), with a margin around the axes, plus two noise
    inputs: separable, but not by a linear head on the raw inputs, so the encoder must learn."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(num_samples, 4))
    x[:, :2] += 0.2 * np.sign(x[:, :2])
    return x.astype(np.float32), (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def small_encoder(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, CODE_DIM))


def run(encoder: nn.Module, seed: int = 0, epochs: int = 20, flip_val: bool = False):
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = xor_data(120, 0), xor_data(40, 1), xor_data(100, 2)
    return train_classifier(
        encoder, CODE_DIM, 2, train_x, train_y, val_x, 1 - val_y if flip_val else val_y, test_x, test_y,
        epochs=epochs, batch_size=16, lr=0.05, seed=seed, device="cpu",
    )


def test_a_separable_problem_is_learned():
    result = run(small_encoder())
    assert result.test_acc >= 0.95
    assert result.val_acc[0] < 0.8 <= result.best_val_acc == max(result.val_acc)  # learned, not given
    assert len(result.train_loss) == len(result.val_acc) == 20
    assert result.train_loss[-1] < 0.1 * result.train_loss[0]  # nats per sample, falling


def test_the_same_seed_repeats_and_leaves_the_encoder_and_random_state_alone():
    encoder = small_encoder()
    before = {name: value.clone() for name, value in encoder.state_dict().items()}
    rng_state = torch.get_rng_state()
    first, again, other = run(encoder, seed=1), run(encoder, seed=1), run(encoder, seed=2)
    assert first.train_loss == again.train_loss and first.val_acc == again.val_acc
    for name, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name])
    assert first.train_loss != other.train_loss  # another head initialisation and batch order
    assert all(torch.equal(value, before[name]) for name, value in encoder.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_the_returned_model_is_the_best_validation_epoch_not_the_last():
    """Its weights are exactly those of a run stopped at the best epoch (same seed, same batches)."""
    result = run(small_encoder())
    assert result.best_epoch < 20
    assert result.val_acc[result.best_epoch - 1] == max(result.val_acc)
    assert max(result.val_acc) not in result.val_acc[: result.best_epoch - 1]  # the first of equals
    stopped = run(small_encoder(), epochs=result.best_epoch)
    for name, value in result.model.state_dict().items():
        assert torch.equal(value, stopped.model.state_dict()[name])
    assert result.test_acc == stopped.test_acc


def test_validation_labels_steer_the_choice_of_epoch():
    """Flipped validation labels: the accuracy on them falls as the classifier learns, so the
    first epoch is kept and the test accuracy is that of a barely trained model."""
    result = run(small_encoder(), flip_val=True)
    assert result.best_epoch == 1
    assert result.test_acc < 0.8


def test_fresh_copy_is_what_building_the_architecture_anew_gives():
    trained = small_encoder()
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.fill_(0.123)  # stands in for pretrained weights
    fresh = fresh_copy(trained, seed=7)
    torch.manual_seed(7)
    built = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, CODE_DIM))
    for (name, value), parameter in zip(fresh.named_parameters(), trained.parameters()):
        assert torch.equal(value, built.state_dict()[name]), name
        assert not torch.isclose(value, torch.tensor(0.123)).any(), name
        assert torch.equal(parameter, torch.full_like(parameter, 0.123))  # the original is untouched
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), fresh_copy(trained, seed=7).parameters()))


class ScaledLinear(nn.Module):
    """A module with a parameter of its own and no reset_parameters()."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, CODE_DIM)
        self.gain = nn.Parameter(torch.ones(CODE_DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * self.linear(x)


def test_fresh_copy_refuses_parameters_it_cannot_reinitialise():
    with pytest.raises(ValueError, match="cannot re-initialise 0.gain"):
        fresh_copy(nn.Sequential(ScaledLinear(), nn.Tanh()))


def test_an_encoder_of_another_code_size_or_bad_labels_are_refused():
    x, y = xor_data(15, 0)
    common = dict(epochs=1, batch_size=4, lr=0.01, seed=0, device="cpu")
    with pytest.raises(ValueError, match="code_dim=5"):
        train_classifier(small_encoder(), 5, 2, x, y, x, y, x, y, **common)
    with pytest.raises(ValueError, match=r"0 \.\. 0, got 0 \.\. 1"):
        train_classifier(small_encoder(), CODE_DIM, 1, x, y, x, y, x, y, **common)
    with pytest.raises(ValueError, match="15 samples, 14 labels"):
        train_classifier(small_encoder(), CODE_DIM, 2, x, y[:-1], x, y, x, y, **common)


def test_an_encoder_with_batch_norm_trains_when_one_sample_is_left_over():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, CODE_DIM))
    (train_x, train_y), (val_x, val_y) = xor_data(33, 0), xor_data(40, 1)  # 33 = 2 batches of 16 + 1
    result = train_classifier(encoder, CODE_DIM, 2, train_x, train_y, val_x, val_y, val_x, val_y,
                              epochs=3, batch_size=16, lr=0.05, seed=0, device="cpu")
    assert len(result.train_loss) == 3 and all(np.isfinite(result.train_loss))
