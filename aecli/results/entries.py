"""The experiments the results page reports, read from the `claim:` block of each
configs/experiment/NAME.yaml, and their figures in words."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Metrics = dict[str, Any]
EXPERIMENT_DIR = Path(__file__).resolve().parents[2] / "configs" / "experiment"

# How the page names a figure: metrics.json key -> (words, format).
WORDS: dict[str, tuple[str, str]] = {
    "probe_linear_acc": ("linear probe", "pct"),
    "probe_knn_acc": ("kNN probe", "pct"),
    "recon_sse": ("test squared error per image", ".3g"),
    "pca_recon_sse": ("PCA with the same code size", ".3g"),
    "pca_angle_deg": ("largest principal angle to PCA (deg)", ".1f"),
    "code_sparsity": ("fraction of code entries below 0.1", ".2f"),
    "jacobian_fro": ("mean squared Frobenius norm of the encoder Jacobian", ".3f"),
    "active_units": ("latents active", "g"),
    "kl": ("KL (nats)", ".2f"),
    "mig": ("MIG", ".2f"),
}


@dataclass
class Entry:
    """One experiment of the page, as its configs/experiment/NAME.yaml `claim:` block says."""

    experiment: str
    claim: str
    anchor: str
    figures: list[str]
    compare: str | None = None
    factors: list[str] = field(default_factory=list)
    picture: str | None = None
    mnist: bool = True

    @property
    def label(self) -> str:  # the row and the run folder
        return self.experiment


def load_entries(folder: Path = EXPERIMENT_DIR) -> list[Entry]:
    """Every experiment YAML with a `claim:` block, in a stable order (the baselines first)."""
    from omegaconf import OmegaConf

    entries = []
    for path in sorted(folder.glob("*.yaml")):
        raw = OmegaConf.load(path)
        block = raw.get("claim")
        parent = _parent(raw)
        if parent is not None:  # e.g. lines_vae3 builds on lines_vae: the parent's claim under its own
            block = OmegaConf.merge(OmegaConf.load(folder / f"{parent}.yaml").get("claim", {}), block or {})
        if block is None:
            continue
        text = path.read_text() + ("" if parent is None else (folder / f"{parent}.yaml").read_text())
        entries.append(Entry(path.stem, block.text, block.anchor, list(block.figures), block.get("compare"),
                             list(block.get("factors") or []), block.get("picture"), "mnist" in text))
    return sorted(entries, key=lambda entry: entry.compare is not None)


def _parent(raw: Any) -> str | None:
    defaults = raw.get("defaults") or []
    named = [item for item in defaults if isinstance(item, str) and item != "_self_"]
    return named[0] if named else None


def describe(entry: Entry, metrics: Metrics, done: dict[str, Metrics]) -> str:
    """The figures of a completed run in words, with the compared experiment's beside them."""
    baseline = done.get(entry.compare, {}) if entry.compare else None
    parts = []
    for key in entry.figures:
        if key == "factor_corr":
            parts.append(_factors(metrics[key], entry.factors))
            continue
        words, spec = WORDS.get(key, (key, ".4g"))
        text = f"{words} {_value(metrics[key], spec)}"
        if baseline is not None:
            other = baseline.get(key)
            text += f" ({entry.compare}: {_value(other, spec) if other is not None else 'not run'})"
        parts.append(text)
    return "; ".join(parts)


def _value(value: Any, spec: str) -> str:
    return f"{100 * value:.1f} %" if spec == "pct" else format(value, spec)


def _factors(rows: list[list[float]], names: list[str]) -> str:
    """The best latent per factor by |Spearman r| (rows: latents, columns: factors)."""
    best = []
    for j, name in enumerate(names):
        column = [abs(row[j]) for row in rows]
        i = max(range(len(column)), key=column.__getitem__)
        best.append(f"{name}: z{i} ({column[i]:.2f})")
    return f"best latent per factor (absolute Spearman r) {', '.join(best)}"


