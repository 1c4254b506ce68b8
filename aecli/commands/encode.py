"""aecli encode run=RUN_DIR input=PATH output=PATH: reopen a run -> read new data with the
reader its kind calls for (or take the run's own split=test) -> write the codes (the mean for
VAEs) as .npy (the codes only), .npz or .csv (with labels when known and where each code came
from: an image folder's file paths, relative to the folder, or the row numbers of a file, a
table or the data the run's split was cut from)."""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, ListConfig

from aecli.commands.finished_run import check_command, open_run
from aecli.commands.user_errors import report_user_errors
from aecli.config.keys import ENCODE
from aecli.errors import UserError

OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")
# Where each code came from, by its name in the .npz (the .csv's column drops the s).
ORIGIN_WORDS = {"paths": "file paths", "rows": "row numbers"}


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
    codes, indices, labels, origin, what = _codes_of_split(run, str(cfg.split)) if cfg.split else _codes_of_input(run, cfg)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_codes(output, codes, labels, indices, origin)
    print(f"encoded {len(codes)} samples of {what} into {codes.shape[1]}-D codes{_kept(output, labels, indices, origin)} "
          f"({time.perf_counter() - started:.1f}s)")
    return output


def _kept(output: Path, labels, indices, origin: dict) -> str:
    """What the output holds beside the codes, or for a .npy what it leaves out and where it is kept."""
    extras = [name for name, value in (("labels", labels), ("code indices", indices)) if value is not None]
    extras += [ORIGIN_WORDS[key] for key in origin]
    if output.suffix.lower() != ".npy":
        return f"{' with ' + ', '.join(extras) if extras else ''}: {output}"
    npz = output.with_suffix(".npz")
    lost = f" (not the {', '.join(extras)}: output={npz} keeps them beside the codes)" if extras else ""
    return f": {output} holds the codes only{lost}"


def _codes_of_split(run, name: str):
    """The codes (and a discrete code's indices) of the run's own split, with its labels and the
    rows (or an image folder's files) they came from."""
    import torch

    from aecli.engine.steps import encode_split

    data, model = run.experiment.data, run.model
    split = getattr(data, name)
    codes = encode_split(model, split, run.batch_size).cpu().numpy()
    with torch.inference_mode():
        found = [model.bottleneck.indices(model.encoded(x, y)) for x, y in split.labelled_batches(run.batch_size)]
    indices = None if not found or found[0] is None else torch.cat(found).cpu().numpy()
    labels = None if split.labels is None else [data.class_name(int(v)) for v in split.labels.tolist()]
    rows = None if split.source_rows is None else split.source_rows.cpu().numpy()
    return codes, indices, labels, _origin(rows, data.sample_names), f"the {name} split of {run.cfg.dataset.name}"


def _origin(rows, names: tuple[str, ...]) -> dict:
    """{"paths": each code's file} where the samples have names, else {"rows": its row}; {} when unknown."""
    if rows is None:
        return {}
    return {"paths": np.array([names[r] for r in rows.tolist()], dtype=str)} if names else {"rows": rows}


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
    origin = _origin(np.arange(len(source)), source.sample_names)
    return run.encode(source.x, given), run.indices(source.x, given), labels, origin, source.origin


def write_codes(path: Path, codes, labels: list[str] | None, indices=None, origin: dict | None = None) -> None:
    """.npy: the codes; .npz: `codes` and, when known, `labels` (class names as text), `indices`
    (a VQ-VAE's codebook indices, (N, slots)) and where each code came from: `paths` (an image
    folder's files, relative to it) or `rows` (row numbers, from 0); .csv: a header
    z0..z{k-1}[,k0..][,label][,path|row] and one row per sample."""
    import csv

    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            np.save(path, codes)
        elif suffix == ".npz":
            extra = {} if labels is None else {"labels": np.array(labels, dtype=str)}
            extra |= {} if indices is None else {"indices": indices}
            np.savez(path, codes=codes, **extra, **(origin or {}))
        else:
            slots = 0 if indices is None else indices.shape[1]
            where = [(key[:-1], values.tolist()) for key, values in (origin or {}).items()]
            with open(path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([f"z{i}" for i in range(codes.shape[1])] + [f"k{i}" for i in range(slots)]
                                + ([] if labels is None else ["label"]) + [name for name, _ in where])
                for i, row in enumerate(codes.tolist()):
                    kept = [] if indices is None else [str(v) for v in indices[i].tolist()]
                    writer.writerow([repr(v) for v in row] + kept + ([] if labels is None else [labels[i]])
                                    + [str(values[i]) for _, values in where])
    except OSError as error:
        raise UserError(f"cannot write {path} ({error}); choose a writable output=PATH") from None


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="encode")
@report_user_errors("encode")
def main(cfg: DictConfig) -> None:
    encode(cfg)
