"""Everything that reads or writes a run folder: files and metrics (store), checkpoints, the
folder guard, resuming, reopening a finished run, and sweep summaries."""
