"""One Hydra app per `aecli` command; each imports torch only inside its task function."""
