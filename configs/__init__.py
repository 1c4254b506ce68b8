"""aecli's Hydra config tree; it ships inside the package as ``aecli.configs``."""
