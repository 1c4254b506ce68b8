"""aecli encode run=RUN_DIR input=PATH output=PATH: reopen a run -> read new data with the
reader its kind calls for (or take the run's own split=test) -> write the codes (the mean for
VAEs) as .npy, .npz (with labels when known) or .csv."""

from __future__ import annotations

import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig

from aecli.commands.finished_run import check_command, open_run
from aecli.commands.user_errors import report_user_errors
from aecli.config.keys import ENCODE
from aecli.errors import UserError

OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")


def encode(cfg: DictConfig) -> Path:
    """Write the codes the config asks for; returns the output path."""
    started = time.perf_counter()
    check_command(cfg, ENCODE)
    output = Path(str(cfg.output)).expanduser()
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"output={output} must end in .npy, .npz or .csv")
    if (cfg.input is None) == (cfg.split is None):
        raise UserError("give exactly one of input=PATH (new data) or split=train|val|test (the run's own)")
    run = open_run(cfg, ENCODE, writes_metrics=False)
    codes, indices, labels, what = _codes_of_split(run, str(cfg.split)) if cfg.split else _codes_of_input(run, cfg)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_codes(output, codes, labels, indices)
    extras = [name for name, value in (("labels", labels), ("code indices", indices)) if value is not None]
    print(
        f"encoded {len(codes)} samples of {what} into {codes.shape[1]}-D codes"
        f"{' with ' + ' and '.join(extras) if extras else ''}: {output} ({time.perf_counter() - started:.1f}s)"
    )
    return output


def _codes_of_split(run, name: str):
    """The codes (and a discrete code's indices) of the run's own split, with its labels."""
    import torch

    from aecli.engine.steps import encode_split

    data, model = run.experiment.data, run.model
    split = getattr(data, name)
    codes = encode_split(model, split, run.batch_size).cpu().numpy()
    with torch.inference_mode():
        found = [model.bottleneck.indices(model.encoded(x, y)) for x, y in split.labelled_batches(run.batch_size)]
    indices = None if not found or found[0] is None else torch.cat(found).cpu().numpy()
    labels = None if split.labels is None else [data.class_name(int(v)) for v in split.labels.tolist()]
    return codes, indices, labels, f"the {name} split of {run.cfg.dataset.name}"


def _codes_of_input(run, cfg: DictConfig):
    from aecli.data.inputs import read_input

    shape = run.experiment.data.sample_shape
    # New images are resized and converted to what the model was trained on unless told otherwise.
    size = cfg.image_size if cfg.image_size is not None else (list(shape[1:]) if len(shape) == 3 else None)
    channels = cfg.channels if cfg.channels is not None else (shape[0] if len(shape) == 3 else None)
    size = list(size) if isinstance(size, ListConfig) else size
    source = read_input(cfg.input, str(cfg.layout), size, channels, cfg.label_column, str(cfg.delimiter))
    labels = None if source.labels is None else [source.class_names[i] if source.class_names else str(i)
                                                  for i in source.labels.tolist()]
    given = None
    if run.model.conditional:  # its encoder takes each sample's class, read from the input's labels
        if source.labels is None:
            raise UserError(f"run {run.path} is a conditional VAE (model.conditional=true): its encoder needs each "
                            f"sample's class; give input files with labels (label_column=NAME for a table)")
        given = source.labels
    return run.encode(source.x, given), run.indices(source.x, given), labels, source.origin


def write_codes(path: Path, codes, labels: list[str] | None, indices=None) -> None:
    """.npy: the codes; .npz: `codes` and, when known, `labels` (class names as text) and `indices`
    (a VQ-VAE's codebook indices, (N, slots)); .csv: a header z0..z{k-1}[,k0..][,label] and one row
    per sample."""
    import csv

    import numpy as np

    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            np.save(path, codes)
        elif suffix == ".npz":
            extra = {} if labels is None else {"labels": np.array(labels, dtype=str)}
            extra |= {} if indices is None else {"indices": indices}
            np.savez(path, codes=codes, **extra)
        else:
            slots = 0 if indices is None else indices.shape[1]
            with open(path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([f"z{i}" for i in range(codes.shape[1])] + [f"k{i}" for i in range(slots)]
                                + ([] if labels is None else ["label"]))
                for i, row in enumerate(codes.tolist()):
                    kept = [] if indices is None else [str(v) for v in indices[i].tolist()]
                    writer.writerow([repr(v) for v in row] + kept + ([] if labels is None else [labels[i]]))
    except OSError as error:
        raise UserError(f"cannot write {path} ({error}); choose a writable output=PATH") from None


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="encode")
@report_user_errors("encode")
def main(cfg: DictConfig) -> None:
    encode(cfg)
