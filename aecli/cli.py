"""The `aecli` entry point: dispatches to one Hydra app per command.

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
        "score a finished run: aecli evaluate run=RUN_DIR",
    ),
    "visualize-latents": (
        "aecli.commands.visualize_latents",
        "draw the latent codes of a finished run: aecli visualize-latents run=RUN_DIR",
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
  aecli train --help                            # the config groups and every key

options:
  -h, --help     show this message and exit
  -V, --version  print the version and exit
"""


def _help_text() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return HELP.format(commands="\n".join(lines))


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
    module = importlib.import_module(COMMANDS[command][0])
    # Hydra parses sys.argv itself; present the subcommand as the program name.
    sys.argv = [f"aecli {command}", *rest]
    module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
