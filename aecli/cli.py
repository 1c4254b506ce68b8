"""The `aecli` entry point: dispatches to one Hydra app per command, whose arguments Hydra reads
as they were typed.

Nothing here imports torch (or Hydra), so `aecli --help` answers at once; each
command module imports the heavy libraries only inside its task function.
"""

from __future__ import annotations

import importlib
import sys

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
        "score a finished run: aecli evaluate run=RUN",
    ),
    "visualize-latents": (
        "aecli.commands.visualize_latents",
        "draw the latent codes, first-layer filters and interpolations of a finished run: "
        "aecli visualize-latents run=RUN",
    ),
    "finetune": (
        "aecli.commands.finetune",
        "pretrained encoder + softmax head against the same network from scratch, on N labels: "
        "aecli finetune run=RUN labels=N",
    ),
    "encode": (
        "aecli.commands.encode",
        "codes of new data or a split: aecli encode run=RUN input=PATH output=codes.npz",
    ),
}

HELP = """\
usage: aecli COMMAND [HYDRA OVERRIDES AND FLAGS]

aecli trains, compares and draws autoencoders from Hydra YAML configs.

commands:
{commands}

RUN is a run folder, latest (the run trained last under ./outputs) or a run's
name (the newest run of that name: aecli train name=NAME, or dataset-model).

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


# Hydra's flags that take no value (its documented command-line flags).
VALUELESS_FLAGS = ("-m", "--multirun", "-r", "--run", "--resolve", "-h", "--help", "--hydra-help", "--version",
                   "-sc", "--shell-completion")
# Hydra's flags that take the next argument as their value (--info's only when it is one of its choices).
VALUED_FLAGS = ("-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir",
                "--experimental-rerun")
INFO_FLAGS, INFO_CHOICES = ("-i", "--info"), ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")


def _flags_first(args: list[str]) -> list[str]:
    """Hydra's argument parser reads the overrides as one block, so `aecli train a=1 -m b=2` would
    be refused; a flag without a value means the same wherever it is typed, so those go first."""
    flags = [arg for arg in args if arg in VALUELESS_FLAGS]
    return [*flags, *(arg for arg in args if arg not in VALUELESS_FLAGS)]


def _unknown_flag(args: list[str]) -> tuple[str, str | None] | None:
    """The first argument that looks like a flag but is none of Hydra's (`--epochs 5`: settings are
    key=value), with the value it was given (`--epochs=5` or the next argument), or None."""
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in VALUED_FLAGS or name in INFO_FLAGS:
            following = args[i + 1] if i + 1 < len(args) else ""
            skip = "=" not in arg and (name in VALUED_FLAGS or following in INFO_CHOICES)
        elif arg.startswith("-") and arg != "--" and name not in VALUELESS_FLAGS and not _is_number(arg):
            following = args[i + 1] if i + 1 < len(args) else None
            given = arg.split("=", 1)[1] if "=" in arg else (
                following if following is not None and "=" not in following and not following.startswith("-") else None)
            return arg, given
    return None


def _is_number(arg: str) -> bool:
    return arg.lstrip("-").replace(".", "", 1).isdigit()


def _run_hydra_app(command: str, module: object) -> int:
    """Run the command's Hydra app; Hydra's own user errors (an unknown option or key, a broken
    YAML) become one line and exit status 2 (aecli.commands.hydra_errors), bugs a traceback."""
    import os

    from aecli.commands.help import register_help

    register_help()  # each command's hydra.help.template is ${aecli.help:NAME}
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
    flag = _unknown_flag(rest)
    if flag is not None:
        from aecli.commands.help import flag_hint

        print(f"aecli {command}: error: {flag_hint(command.replace('-', '_'), *flag)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    # Hydra parses sys.argv itself; present the subcommand as the program name.
    sys.argv = [f"aecli {command}", *_flags_first(rest)]
    return _run_hydra_app(command, module)


if __name__ == "__main__":
    raise SystemExit(main())
