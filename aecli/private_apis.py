"""Private parts of our dependencies that aecli cannot do without, each behind one function here,
and nowhere else in aecli. tests/test_private_apis.py calls every one of them and fails loudly,
naming the function, when a dependency renames, moves or changes what it stands for.

Nothing of aecli is imported here (this module sits on the lowest layer with errors.py), and each
dependency only inside the function that needs it.
"""

from __future__ import annotations

from typing import Any


def compiler_failure_type() -> type[BaseException]:
    """The exception torch.compile raises when its backend compiler fails (torch._dynamo.exc)."""
    from torch._dynamo.exc import BackendCompilerFailed

    return BackendCompilerFailed


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (oneDNN's own check: AVX512-BF16
    or AMX); without, bf16 is emulated through fp32 and only adds conversions."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except RuntimeError:  # a torch built without oneDNN
        return False


def tensorboard_writer_thread_class() -> type:
    """TensorBoard's background writer thread: a failed write there (a full disk) is kept and raised
    again in the caller's next add_*/flush/close (tests/e2e/test_disk_failures.py checks that too)."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    return _AsyncWriterThread


def has_projector_config(writer: Any) -> bool:
    """Whether a SummaryWriter has begun its projector_config.pbtxt (it rewrites the file with the
    embeddings it added itself, from this buffer)."""
    return hasattr(writer, "_projector_config")


def set_projector_config(writer: Any, config: Any) -> None:
    """Seed a SummaryWriter's projector buffer with `config` (a ProjectorConfig), so the entries a
    run's earlier commands wrote stay in the file it rewrites."""
    writer._projector_config = config
