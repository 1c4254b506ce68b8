"""The experiments the results page reports, read from the `claim:` block of each
configs/experiment/NAME.yaml, their figures in words (mean and spread over seeds) and the
targets each seed's run must meet."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aecli.config import glossary
from aecli.config.glossary import value_text
from aecli.config.keys import shipped_settings

Metrics = dict[str, Any]


def page_words(name: str) -> str:
    """A figure in a few words (aecli.config.glossary), its settings as the experiments' own
    `aecli evaluate` ran with them: the shipped evaluate.yaml, which evaluate_after uses."""
    return glossary.words(name, glossary.settings_context(shipped_settings("evaluate")))
_TARGET = re.compile(r"^\s*(\w+)\s*(>=|<=|==)\s*(?:(\w+)\s*([+-])\s*)?([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Target:
    """`figure op bound`, where bound is a number or `EXPERIMENT - number` (that experiment's
    mean of the same figure, shifted), checked on every seed's run."""

    figure: str
    op: str
    value: float
    relative_to: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        match = _TARGET.match(text)
        if match is None:
            raise ValueError(f"claim target {text!r} is not 'FIGURE >=|<=|== NUMBER' or 'FIGURE <= EXPERIMENT - NUMBER'")
        figure, op, other, sign, number = match.groups()
        value = float(number) * (-1 if sign == "-" else 1)
        return cls(figure, op, value, other)

    def bound(self, done: dict[str, list[Metrics]]) -> float | None:
        if self.relative_to is None:
            return self.value
        runs = done.get(self.relative_to) or []
        values = [run[self.figure] for run in runs if self.figure in run]
        return statistics.fmean(values) + self.value if values else None

    def holds(self, value: float, bound: float) -> bool:
        return {">=": value >= bound, "<=": value <= bound, "==": value == bound}[self.op]

    def words(self) -> str:
        spec = glossary.fmt(self.figure)
        number = value_text(abs(self.value), spec) if self.relative_to else value_text(self.value, spec)
        right = f"{self.relative_to} {'-' if self.value < 0 else '+'} {number}" if self.relative_to else number
        return f"{page_words(self.figure)} {self.op.replace('>=', '≥').replace('<=', '≤')} {right}"


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
    targets: list[Target] = field(default_factory=list)
    tuned_on: list[int] = field(default_factory=list)  # the seeds its settings were chosen on
    long: bool = False  # days on a few cores: run only when named (python -m aecli.results NAME)

    @property
    def label(self) -> str:  # the row and the run folder
        return self.experiment


def load_entries() -> list[Entry]:
    """Every experiment YAML with a `claim:` block (read through the installed package's config
    tree, aecli.configs), in a stable order (the baselines first)."""
    from omegaconf import OmegaConf

    folder = resources.files("aecli.configs").joinpath("experiment")
    texts = {path.name[: -len(".yaml")]: path.read_text() for path in folder.iterdir() if path.name.endswith(".yaml")}
    entries = []
    for name in sorted(texts):
        raw = OmegaConf.create(texts[name])
        block = raw.get("claim")
        parent = _parent(raw)
        if parent is not None:  # e.g. lines_vae3 builds on lines_vae: the parent's claim under its own
            block = OmegaConf.merge(OmegaConf.create(texts[parent]).get("claim", {}), block or {})
        if block is None:
            continue
        text = texts[name] + ("" if parent is None else texts[parent])
        entries.append(Entry(name, block.text, block.anchor, list(block.figures), block.get("compare"),
                             list(block.get("factors") or []), block.get("picture"), "mnist" in text,
                             [Target.parse(str(item)) for item in block.get("targets") or []],
                             [int(seed) for seed in block.get("tuned_on") or []], bool(block.get("long", False))))
    references = {target.relative_to for entry in entries for target in entry.targets}
    return sorted(entries, key=lambda entry: (entry.compare is not None, entry.experiment not in references))


def _parent(raw: Any) -> str | None:
    defaults = raw.get("defaults") or []
    named = [item for item in defaults if isinstance(item, str) and item != "_self_"]
    return named[0] if named else None


def figure(entry: Entry, metrics: Metrics, key: str) -> float:
    """One figure of one run; `factors` is the weakest factor's |Spearman r| on its best latent,
    0 when two factors share a latent (then they are not separated)."""
    if key != "factors":
        return float(metrics[key])
    best = [best_latent(metrics["factor_corr"], j) for j in range(len(entry.factors))]
    if len({latent for latent, _ in best}) < len(best):
        return 0.0
    return min(r for _, r in best)


def best_latent(rows: list[list[float]], factor: int) -> tuple[int, float]:
    """The latent most correlated with `factor` and its |r| (rows: latents, columns: factors)."""
    return max(((i, abs(row[factor])) for i, row in enumerate(rows)), key=lambda pair: pair[1])


def describe(entry: Entry, runs: list[Metrics], done: dict[str, list[Metrics]]) -> str:
    """The figures of an experiment's completed runs in words (mean ± standard deviation over the
    runs), with the compared experiment's beside them."""
    baseline = done.get(entry.compare) if entry.compare else None
    parts = []
    for key in entry.figures:
        if key == "factor_corr":
            parts.append(_factors(runs, entry.factors))
            continue
        words, spec = page_words(key), glossary.fmt(key)
        text = f"{words} {_spread([float(run[key]) for run in runs], spec)}"
        if baseline is not None:
            others = [float(run[key]) for run in baseline if key in run]
            text += f" ({entry.compare}: {_spread(others, spec) if others else 'not run'})"
        parts.append(text)
    return "; ".join(parts)


def _spread(values: list[float], spec: str) -> str:
    """`mean ± sd` (sample standard deviation) of more than one value, else the value."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return value_text(mean, spec)
    sd = statistics.stdev(values)
    if spec == "pct":
        return f"{100 * mean:.1f} ± {100 * sd:.1f} %"
    return f"{format(mean, spec)} ± {format(sd, spec if not spec.endswith('g') else '.2g')}"


def _factors(runs: list[Metrics], names: list[str]) -> str:
    """Per factor, its best latent by |Spearman r| on each run (rows: latents, columns: factors)."""
    parts = []
    for j, name in enumerate(names):
        best = [best_latent(run["factor_corr"], j) for run in runs]
        latents = ", ".join(f"z{i}" for i, _ in best)
        parts.append(f"{name}: {_spread([r for _, r in best], '.2f')} ({latents})")
    return f"best latent per factor, absolute Spearman r ({'; '.join(parts)})"
