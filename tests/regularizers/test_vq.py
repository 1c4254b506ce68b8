"""VQ-VAE: the nearest code by brute force, the straight-through gradient, the two terms in closed
form, the EMA update by hand, dead codes restarted, the usage figures, its errors, and short runs
with the MLP and conv models (perplexity on screen and in metrics.json, codebook.png, indices from
`aecli encode`, no prior samples)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from aecli.errors import UserError
from aecli.regularizers.vq import VectorQuantizer, usage_figures
from conftest import TINY, model_cfg, regularizers


def quantizer(slots=3, codes=5, code_dim=2, ema=False, decay=0.9, restart_after=None, seed=0) -> VectorQuantizer:
    torch.manual_seed(seed)
    layer = VectorQuantizer(slots, codes, code_dim, ema, decay, restart_after)
    layer.codebook.data = torch.randn(slots, codes, code_dim)
    layer.ema_sum.copy_(layer.codebook.data)
    layer.initialized.fill_(True)
    return layer


def test_each_slot_takes_its_nearest_codebook_vector_found_by_brute_force():
    layer = quantizer()
    h = torch.randn(16, 6)
    chosen = layer.indices(h)
    for b in range(16):
        for s in range(3):
            distances = [(h[b, 2 * s : 2 * s + 2] - layer.codebook[s, k]).pow(2).sum().item() for k in range(5)]
            assert chosen[b, s].item() == int(np.argmin(distances))
    assert torch.equal(layer.lookup(chosen)[0, :2], layer.codebook[0, chosen[0, 0]])


def test_the_decoder_sees_the_codebook_vectors_and_the_gradient_passes_straight_through():
    layer = quantizer().eval()
    h = torch.randn(4, 6, requires_grad=True)
    code, stats = layer(h)
    torch.testing.assert_close(code, layer.lookup(stats["indices"]))
    upstream = torch.randn(4, 6)
    (code * upstream).sum().backward()
    torch.testing.assert_close(h.grad, upstream)  # d code / d h = I
    assert layer.codebook.grad is None  # the code passes no gradient to the codebook: its term does


def test_the_terms_are_the_codebook_and_commitment_distances_each_moving_one_side():
    (vq,) = regularizers(vq={"beta": 0.25, "code_dim": 2, "codes": 5})
    layer = quantizer().eval()
    h = torch.randn(4, 6, requires_grad=True)
    code, stats = layer(h)
    from aecli.models import Forward

    model = type("M", (), {"bottleneck": layer})()
    terms = vq.penalty(model, h, Forward(code, code, stats))
    distance = (h - layer.lookup(stats["indices"])).pow(2).sum(1).mean()
    assert terms["vq_codebook"].item() == pytest.approx(distance.item())
    assert terms["vq_commitment"].item() == pytest.approx(0.25 * distance.item())
    terms["vq_codebook"].backward(retain_graph=True)
    assert h.grad is None and layer.codebook.grad.abs().sum() > 0
    layer.codebook.grad = None
    terms["vq_commitment"].backward()
    assert h.grad.abs().sum() > 0 and layer.codebook.grad is None


def test_the_ema_update_moves_each_used_code_to_the_smoothed_average_of_its_encodings():
    layer = quantizer(slots=1, codes=3, code_dim=1, ema=True, decay=0.5)
    layer.codebook.data = torch.tensor([[[0.0], [10.0], [20.0]]])
    layer.ema_sum.copy_(layer.codebook.data)
    layer.ema_count.fill_(1.0)
    layer.train()
    h = torch.tensor([[1.0], [3.0], [9.0]])  # codes 0, 0, 1; code 2 unused
    layer(h)
    counts = torch.tensor([1.0, 1.0, 1.0]) * 0.5 + torch.tensor([2.0, 1.0, 0.0]) * 0.5  # 1.5, 1.0, 0.5
    sums = torch.tensor([0.0, 10.0, 20.0]) * 0.5 + torch.tensor([4.0, 9.0, 0.0]) * 0.5  # 2, 9.5, 10
    total = counts.sum()
    smoothed = (counts + 1e-5) / (total + 3e-5) * total
    torch.testing.assert_close(layer.codebook.data.flatten(), sums / smoothed)
    assert not layer.codebook.requires_grad  # with ema the loss does not train it


def test_a_code_unused_for_restart_after_steps_restarts_at_an_encoding_of_the_batch():
    layer = quantizer(slots=1, codes=3, code_dim=1, restart_after=2)
    layer.codebook.data = torch.tensor([[[0.0], [1.0], [100.0]]])
    layer.train()
    h = torch.tensor([[0.1], [0.9], [0.2]])
    layer(h)
    assert layer.codebook[0, 2, 0].item() == 100.0 and layer.idle_steps[0, 2].item() == 1
    layer(h)  # the second step without it: restarted at one of the batch's encodings
    assert min(abs(layer.codebook[0, 2, 0].item() - v) for v in (0.1, 0.9, 0.2)) < 1e-6 and layer.idle_steps[0, 2].item() == 0


def test_the_codebook_starts_at_encodings_of_the_first_training_batch():
    layer = VectorQuantizer(2, 4, 1, False, 0.99, None).train()
    h = torch.tensor([[5.0, -5.0], [6.0, -6.0]])
    layer(h)
    assert set(layer.codebook[0].flatten().tolist()) <= {5.0, 6.0} and set(layer.codebook[1].flatten().tolist()) <= {-5.0, -6.0}


def test_perplexity_is_the_codebook_size_for_even_use_and_one_for_a_single_code():
    even = torch.arange(8).repeat(4)[:, None]  # one slot, 8 codes used equally
    figures = usage_figures(even, 8)
    assert figures["codebook_perplexity"].item() == pytest.approx(8.0) and figures["codebook_usage"].item() == 1.0
    single = usage_figures(torch.zeros(10, 2, dtype=torch.long), 8)
    assert single["codebook_perplexity"].item() == pytest.approx(1.0) and single["codebook_usage"].item() == pytest.approx(1 / 8)
    uneven = usage_figures(torch.tensor([[0], [0], [0], [1]]), 4)  # shares 3/4, 1/4
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert uneven["codebook_perplexity"].item() == pytest.approx(math.exp(entropy))


def test_a_code_dim_that_does_not_divide_the_code_and_two_code_layers_are_refused():
    from aecli.models import build_model
    from aecli.regularizers import bottleneck_for

    with pytest.raises(UserError, match=r"regularizer.vq.code_dim=3 must divide model.latent_dim=4"):
        bottleneck_for(regularizers(vq={"code_dim": 3}), 4)
    with pytest.raises(UserError, match="each need their own code layer"):
        bottleneck_for(regularizers(vq={}, vae={}), 4)
    model = build_model(model_cfg("mlp", hidden_dims=[8], latent_dim=4), (6,), 1, bottleneck_for(regularizers(vq={"codes": 4}), 4))
    assert isinstance(model.bottleneck, VectorQuantizer) and model.bottleneck.codebook.shape == (4, 4, 1)


RUNS = {
    "mlp": (*TINY, "regularizer=vq", "regularizer.vq.codes=16", "model.latent_dim=4", "tsne.enabled=false"),
    "conv": ("dataset=digits", *TINY[1:], "model=conv", "model.channels=[4,8]", "model.latent_dim=4", "regularizer=vq",
             "regularizer.vq.codes=16", "tsne.enabled=false"),
}


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_a_vq_run_logs_its_perplexity_draws_its_codebook_and_has_no_prior(trained_run, tmp_path, model):
    import aecli
    from conftest import run_cli

    run = trained_run(*RUNS[model], copy_to=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("val_codebook_perplexity", "test_codebook_perplexity", "val_vq_commitment", "val_vq_codebook"):
        assert math.isfinite(metrics[key]), key
    assert 1.0 <= metrics["val_codebook_perplexity"] <= 16.0
    assert "val_codebook_perplexity" in (run / "train.log").read_text()  # on screen, each epoch
    loaded = aecli.load_run(run)
    with pytest.raises(UserError, match="a VQ-VAE has no prior over its code indices"):
        loaded.sample(4)
    assert (run / "codebook.png").is_file() == (loaded.experiment.data.kind == "image")
    x = loaded.experiment.data.test.x[:5].cpu().numpy()
    indices = loaded.indices(x)
    assert indices.shape == (5, 4) and indices.dtype == np.int64 and indices.max() < 16
    codebook = loaded.model.bottleneck.codebook.detach().cpu()
    expected = codebook[torch.arange(4), torch.as_tensor(indices)].reshape(5, 4)
    torch.testing.assert_close(torch.as_tensor(loaded.encode(x)), expected)
    run_cli("encode", f"run={run}", "split=test", f"output={tmp_path / 'codes.npz'}")
    written = np.load(tmp_path / "codes.npz")
    assert written["indices"].shape == (len(loaded.experiment.data.test), 4)
    np.testing.assert_array_equal(written["indices"][:5], indices)
