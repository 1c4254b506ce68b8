"""What a command takes from Hydra when it starts: its run folder, its command-line overrides and
the groups it composed, handed over as plain values so that a task can be called in-process
(tests, scripts) without Hydra's global state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aecli.config.compose import override_keys, parsed_overrides


@dataclass
class Launch:
    """Where and how a train task runs."""

    run_dir: Path
    overrides: list[str] = field(default_factory=list)  # the command line's key=value overrides
    config_name: str = "train"
    save_config_to: Path | None = None  # where Hydra keeps the run's config (None: Hydra saves none)
    multirun: bool = False
    groups: set[str] = field(default_factory=set)  # the config groups (dataset, model, ..., hydra/launcher)
    varied: list[str] = field(default_factory=list)  # the keys that tell this run apart (HParams columns)

    @classmethod
    def from_hydra(cls) -> Launch:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        subdir = hydra_cfg.output_subdir
        run_dir = Path(hydra_cfg.runtime.output_dir)
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        overrides = list(hydra_cfg.overrides.task)
        return cls(
            run_dir=run_dir,
            overrides=overrides,
            config_name=str(hydra_cfg.job.config_name),
            save_config_to=None if subdir is None else run_dir / subdir / "config.yaml",
            multirun=multirun,
            groups=set(hydra_cfg.runtime.choices),
            varied=swept_keys(Path(hydra_cfg.sweep.dir), overrides) if multirun else override_keys(overrides),
        )

    def is_group(self, key: str) -> bool:
        return key in self.groups


def swept_keys(sweep_dir: Path, overrides: list[str]) -> list[str]:
    """The keys a sweep varies (`model.latent_dim=2,5` and the like, not the values every job
    shares), read from the multirun.yaml Hydra writes in the sweep folder; without it (a sweeper
    that writes none), the job's own `overrides` stand in."""
    from omegaconf import OmegaConf

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return override_keys(overrides)
    sweep = [str(item) for item in OmegaConf.load(path).hydra.overrides.task]
    return [o.key_or_group for o in parsed_overrides(sweep) if o.is_sweep_override()]
