"""The `aecli` entry point: dispatches to one Hydra app per command.

Nothing here imports torch (or Hydra), so `aecli --help` answers at once; each
command module imports the heavy libraries only inside its task function.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from aecli import __version__

# command -> (module holding a Hydra app called `main`, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "aecli.commands.train",
        "build a model from the configs, train it (GPU or CPU), checkpoint, log to "
        "TensorBoard, end with a t-SNE plot of the test codes",
    ),
    "evaluate": (
        "aecli.commands.evaluate",
        "score a finished run: aecli evaluate run=RUN_DIR",
    ),
    "visualize-latents": (
        "aecli.commands.visualize_latents",
        "draw the latent codes, first-layer filters and interpolations of a finished run: "
        "aecli visualize-latents run=RUN_DIR",
    ),
    "finetune": (
        "aecli.commands.finetune",
        "pretrained encoder + softmax head against the same network from scratch, on N labels: "
        "aecli finetune run=RUN_DIR labels=N",
    ),
    "encode": (
        "aecli.commands.encode",
        "codes of new data or a split: aecli encode run=RUN_DIR input=PATH output=codes.npz",
    ),
}

HELP = """\
usage: aecli COMMAND [HYDRA OVERRIDES AND FLAGS]

aecli trains, compares and draws autoencoders from Hydra YAML configs.

commands:
{commands}

Every command is a Hydra app: it takes overrides (key=value, group=option) and
Hydra's flags: --help, --cfg job, -m (multirun sweep), -cd DIR (your own configs),
hydra.run.dir=DIR.

examples:
  aecli train                                   # default: MLP autoencoder on generated lines, CPU, < 1 min
  aecli train dataset=mnist data.root=DATA model.latent_dim=10
  aecli train -m model.latent_dim=2,5,10        # a sweep, one run directory per job
  aecli train +experiment=lines_vae             # a ready-made reproduction (configs/experiment/)
  aecli train --help                            # the config groups and every key

options:
  -h, --help     show this message and exit
  -V, --version  print the version and exit
"""


def _help_text() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return HELP.format(commands="\n".join(lines))


def _parsed(args: list[str]) -> list:
    """The key=value arguments as Hydra's own override parser reads them (flags left out)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values = [arg for arg in args if "=" in arg and not arg.startswith("-")]
    try:
        return OverridesParser.create().parse_overrides(values)
    except Exception:  # a malformed override: Hydra itself reports it with its own message
        return []


def _config_dirs(args: list[str]) -> list[Path]:
    """The shipped config tree and any folder given with -cd/--config-dir."""
    import aecli.configs  # the shipped config tree: a tiny package, no heavy imports

    folders = [Path(aecli.configs.__file__).parent]
    for i, arg in enumerate(args):
        if arg in ("-cd", "--config-dir") and i + 1 < len(args):
            folders.append(Path(args[i + 1]))
        elif arg.startswith(("--config-dir=", "-cd=")):
            folders.append(Path(arg.split("=", 1)[1]))
    return folders


def _unknown_regularizer(args: list[str]) -> str | None:
    """Name an unknown option in `regularizer=...` before Hydra composes the config.

    Hydra's own message for a list group does not list the valid choices; this one does.
    Options come from the shipped configs and any folder given with -cd/--config-dir.
    """
    names: list[str] = []
    for override in _parsed(args):
        if override.key_or_group == "regularizer" and not override.is_delete():
            value = override.value()
            names += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if not names:
        return None
    folders = [folder / "regularizer" for folder in _config_dirs(args)]
    available = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})
    unknown = [n for n in names if n not in available]
    if not unknown or not available:
        return None
    return (
        f"unknown regularizer {unknown[0]!r}; choose from {', '.join(available)} "
        f"(several as a list: regularizer=[denoising,sparse_kl]; none: regularizer=[])"
    )


# Sweep plugins (pip install 'aecli[sweeps]'): the option a user names -> (module, package).
PLUGINS = {
    "hydra/launcher=joblib": ("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher"),
    "hydra/launcher=submitit_local": ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    "hydra/launcher=submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    "hydra/sweeper=optuna": ("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper"),
}


def _missing_plugin(args: list[str]) -> str | None:
    """Name a sweep plugin the command line asks for but this environment lacks (Hydra would
    only say that the config option does not exist). A +search=... config uses Optuna."""
    import importlib.util

    for override in _parsed(args):
        key, value = override.key_or_group, override.value()
        wanted = "hydra/sweeper=optuna" if key == "search" else f"{key}={value}"
        if wanted in PLUGINS:
            module, package = PLUGINS[wanted]
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:  # no hydra_plugins namespace at all
                found = False
            if not found:
                return f"{wanted} needs the {package} plugin; install the sweep extras: pip install 'aecli[sweeps]'"
    return None


def _resume_in_place(args: list[str]) -> list[str]:
    """`resume=RUN_DIR` runs in RUN_DIR itself, and Hydra must not replace its saved config
    files there: add hydra.run.dir=RUN_DIR and hydra.output_subdir=null (a different
    hydra.run.dir given by the user is refused later, with one line). They go first, so
    Hydra's argument parser reads them as overrides whatever flags follow."""
    parsed = {override.key_or_group: override for override in _parsed(args)}
    resume = parsed.get("resume")
    if resume is None or resume.value() is None:
        return args
    extra = ["hydra.output_subdir=null"]
    if "hydra.run.dir" not in parsed:
        extra.append(f"hydra.run.dir={resume.value()}")
    return [*extra, *args]


def _resume_with_multirun(args: list[str]) -> str | None:
    resumed = any(o.key_or_group == "resume" and o.value() is not None for o in _parsed(args))
    if resumed and any(arg in ("-m", "--multirun") for arg in args):
        return "resume continues one run in its own folder; drop -m (a sweep starts new runs)"
    return None


def _run_hydra_app(command: str, module: object) -> int:
    """Run the command's Hydra app; Hydra's own user errors (an unknown option or key, a broken
    YAML) become one line and exit status 2 (aecli.commands.hydra_errors), bugs a traceback."""
    import os

    saved = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # raise, instead of printing a report and exiting 1
    try:
        module.main()  # type: ignore[attr-defined]
    except Exception as error:
        from aecli.commands.hydra_errors import hydra_error_line

        line = hydra_error_line(error, command)
        if line is None:
            raise
        print(f"aecli {command}: error: {line}", file=sys.stderr)
        return 2
    finally:
        if saved is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_help_text(), end="")
        return 0
    if args[0] in ("-V", "--version"):
        print(f"aecli {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(
            f"aecli: error: unknown command {command!r}; choose one of "
            f"{', '.join(COMMANDS)} (see aecli --help)",
            file=sys.stderr,
        )
        return 2
    if command == "train":
        problem = _unknown_regularizer(rest) or _missing_plugin(rest) or _resume_with_multirun(rest)
        if problem:
            print(f"aecli train: error: {problem}", file=sys.stderr)
            return 2
        rest = _resume_in_place(rest)
    module = importlib.import_module(COMMANDS[command][0])
    # Hydra parses sys.argv itself; present the subcommand as the program name.
    sys.argv = [f"aecli {command}", *rest]
    return _run_hydra_app(command, module)


if __name__ == "__main__":
    raise SystemExit(main())
