"""beta-TCVAE's split of the KL: the three parts sum to the one-sample KL estimate, the stratified
density estimate is unbiased (brute force over every batch of a small discrete dataset), the
parts agree with their exact values from numerical integration, and the term trains."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from aecli.models.bottleneck import log_normal
from aecli.regularizers.total_correlation import kl_parts, log_weights

# A small discrete dataset: the posteriors q(z|x_n) of N = 4 points, 2 latents.
MEANS = torch.tensor([[-1.0, 0.5], [1.2, 1.0], [0.3, -1.1], [0.8, 0.2]], dtype=torch.float64)
LOGVARS = torch.tensor([[-0.4, 0.1], [-1.0, -0.3], [0.2, -0.6], [-0.2, -0.2]], dtype=torch.float64)


def exact_parts() -> dict[str, float]:
    """MI, TC and dimension-wise KL of the 4-point dataset, integrated on a fine grid; their sum is
    the mean KL, checked to integration accuracy."""
    grid = torch.linspace(-6, 6, 601, dtype=torch.float64)
    step = (grid[1] - grid[0]).item()
    z = torch.cartesian_prod(grid, grid)  # (G, 2)
    conditional = log_normal(z[:, None, :], MEANS, LOGVARS)  # (G, N, 2)
    q_given_x = conditional.sum(-1).exp()  # (G, N)
    q = q_given_x.mean(1)
    q_dims = [conditional[..., d].exp().mean(1) for d in range(2)]  # marginal densities on the grid points
    prior = log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
    area = step * step
    exact = {
        "mutual_info": (q_given_x * (q_given_x.clamp_min(1e-300).log() - q.clamp_min(1e-300).log()[:, None])).sum() * area / len(MEANS),
        "total_correlation": (q * (q.clamp_min(1e-300).log() - sum(qd.clamp_min(1e-300).log() for qd in q_dims))).sum() * area,
        "dimwise_kl": (q * (sum(qd.clamp_min(1e-300).log() for qd in q_dims) - prior)).sum() * area,
    }
    kl = (q_given_x * (q_given_x.clamp_min(1e-300).log() - prior[:, None])).sum() * area / len(MEANS)
    assert sum(exact.values()).item() == pytest.approx(kl.item(), rel=1e-6)  # the decomposition, exactly
    return {key: value.item() for key, value in exact.items()}


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_the_three_parts_sum_to_the_one_sample_kl_estimate(estimator):
    generator = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(16, 3, generator=generator), torch.randn(16, 3, generator=generator) * 0.3
    z = mean + torch.exp(0.5 * logvar) * torch.randn(16, 3, generator=generator)
    parts = kl_parts(z, mean, logvar, dataset_size=1000, estimator=estimator)
    kl = log_normal(z, mean, logvar).sum(-1) - log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
    torch.testing.assert_close(sum(parts.values()), kl)


def test_the_stratified_density_estimate_is_unbiased_over_every_batch_of_a_small_dataset():
    """For a code z of sample i, MSS's q(z) estimate averaged over every ordered batch that starts
    with i (the other M - 1 drawn without replacement) is exactly the aggregate (1/N) sum_n q(z|x_n)."""
    n, batch = len(MEANS), 3
    z = torch.tensor([[0.2, -0.3]], dtype=torch.float64)
    exact = log_normal(z, MEANS, LOGVARS).sum(-1).exp().mean()
    weights = log_weights(batch, n, "mss", dtype=torch.float64).exp()[0]  # row of the batch's first sample
    estimates = []
    for i in range(n):
        for others in itertools.permutations([j for j in range(n) if j != i], batch - 1):
            members = [i, *others]
            densities = log_normal(z, MEANS[members], LOGVARS[members]).sum(-1).exp()
            estimates.append((weights * densities).sum())
    assert torch.stack(estimates).mean().item() == pytest.approx(exact.item(), rel=1e-12)
    assert log_weights(batch, n, "mss").exp().sum(1).allclose(torch.ones(batch))  # each row's weights sum to one


def test_the_weighted_density_estimate_has_only_its_self_term_bias_over_every_batch_of_a_small_dataset():
    """MWS with the others drawn with replacement: averaged over every such batch, the estimate is
    q(z) + (q(z|x_i) - q(z)) / M, the self term's bias in closed form."""
    n, batch = len(MEANS), 3
    z = torch.tensor([[0.2, -0.3]], dtype=torch.float64)
    conditional = log_normal(z, MEANS, LOGVARS).sum(-1).exp()
    weights = log_weights(batch, n, "mws", dtype=torch.float64).exp()[0]
    for i in range(n):
        estimates = [(weights * conditional[[i, *others]]).sum() for others in itertools.product(range(n), repeat=batch - 1)]
        expected = conditional.mean() + (conditional[i] - conditional.mean()) / batch
        assert torch.stack(estimates).mean().item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_the_parts_approach_their_exact_values_computed_by_integration(estimator):
    """Exact MI, TC and dimension-wise KL of the 4-point dataset on a fine grid, against the
    estimates averaged over many batches of it (the whole dataset in a random order)."""
    exact = exact_parts()
    generator = torch.Generator().manual_seed(1)
    totals = {key: 0.0 for key in exact}
    draws = 4000
    for _ in range(draws):  # batches of the whole dataset in a random order, codes drawn anew
        order = torch.randperm(len(MEANS), generator=generator)
        mean, logvar = MEANS[order], LOGVARS[order]
        codes = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator, dtype=torch.float64)
        for key, value in kl_parts(codes, mean, logvar, len(MEANS), estimator).items():
            totals[key] += value.mean().item() / draws
    for key in exact:  # a log of an estimate: unbiased densities, nearly unbiased parts at this size
        assert totals[key] == pytest.approx(exact[key], abs=0.08), key


def test_a_beta_tcvae_run_logs_its_three_terms(trained_run, tmp_path):
    import json

    from conftest import TINY

    run = trained_run(*TINY, "regularizer=vae", "regularizer.vae.tc_weight=4", "tsne.enabled=false", copy_to=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    for part in ("kl_mutual_info", "kl_total_correlation", "kl_dimwise"):
        assert math.isfinite(metrics[f"val_{part}"]) and f"test_{part}" in metrics
    assert "val_kl" not in metrics


def test_a_mixture_prior_cannot_be_split_by_latent():
    from aecli.errors import UserError
    from conftest import regularizers

    with pytest.raises(UserError, match="tc_weight splits the KL by latent.*prior=normal"):
        regularizers(vae={"tc_weight": 2.0, "prior": "mixture"})


class LookupEncoder(torch.nn.Module):
    """A stand-in VAE whose posterior for sample n (x = n) is N(MEANS[n], exp(LOGVARS[n]))."""

    def forward(self, x, y=None):
        from aecli.models import Forward

        index = x[:, 0].long()
        return Forward(code=MEANS[index], output=x, stats={"mean": MEANS[index], "logvar": LOGVARS[index]})


def test_evaluates_split_of_the_kl_over_a_whole_split_approaches_the_exact_parts_for_any_vae():
    """`decomposition` puts every sample of the split in each aggregate density, so on the 4-sample
    split q(z) and q(z_d) are exact and each part is unbiased: averaged over many code draws it
    approaches the part integrated on a grid."""
    from aecli.data import Split
    from aecli.regularizers.total_correlation import decomposition

    exact = exact_parts()
    split = Split(torch.arange(4, dtype=torch.float64)[:, None])
    draws = 3000
    totals = {key: 0.0 for key in exact}
    for seed in range(draws):
        for key, value in decomposition(LookupEncoder(), split, batch_size=4, seed=seed).items():
            totals[key] += value / draws
    for key in exact:
        assert totals[key] == pytest.approx(exact[key], abs=0.06), key
