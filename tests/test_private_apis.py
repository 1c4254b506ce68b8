"""Every private API of a dependency that aecli touches lives in aecli/private_apis.py; each test
here fails, naming the function, when the dependency renames, moves or changes it."""

from __future__ import annotations

import ast
import threading

import numpy as np
import torch

from aecli import private_apis
from conftest import REPO


def test_the_compiler_failure_is_still_torchs_backend_compiler_exception():
    failure = private_apis.compiler_failure_type()
    assert isinstance(failure, type) and issubclass(failure, Exception), "compiler_failure_type: torch moved it"
    assert failure.__name__ == "BackendCompilerFailed", "compiler_failure_type: torch renamed it"


def test_onednn_still_answers_whether_the_cpu_has_bf16():
    assert hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported"), "cpu_has_bf16: torch removed its oneDNN check"
    assert isinstance(private_apis.cpu_has_bf16(), bool)


def test_tensorboards_writer_thread_is_still_the_class_it_names(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    thread_class = private_apis.tensorboard_writer_thread_class()
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalar("x", 1.0, 1)
        assert any(isinstance(thread, thread_class) for thread in threading.enumerate()), (
            "tensorboard_writer_thread_class: SummaryWriter no longer writes from that thread")


def test_a_seeded_projector_buffer_keeps_earlier_entries_in_the_rewritten_file(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        assert not private_apis.has_projector_config(writer)
        writer.add_embedding(torch.zeros(3, 3), tag="first", global_step=1)
        assert private_apis.has_projector_config(writer), "has_projector_config: SummaryWriter renamed its buffer"
    earlier = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    with SummaryWriter(str(tmp_path)) as writer:
        private_apis.set_projector_config(writer, earlier)
        writer.add_embedding(torch.from_numpy(np.ones((3, 3), np.float32)), tag="second", global_step=2)
    kept = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    assert [e.tensor_name for e in kept.embeddings] == ["first:00001", "second:00002"], (
        "set_projector_config: SummaryWriter no longer writes the file from that buffer")


def test_no_other_module_of_aecli_touches_a_private_name_of_a_dependency():
    """`x._name` on a third-party object, or `from lib import _Name`, only in aecli/private_apis.py."""
    found = []
    for path in (REPO / "aecli").rglob("*.py"):
        if path.name == "private_apis.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith(("aecli", "__future__")):
                found += [f"{path.name}: from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
                if any(part.startswith("_") for part in (node.module or "").split(".")):
                    found.append(f"{path.name}: from {node.module}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in {"torch", "nn", "tensorboard", "hydra", "omegaconf", "np", "writer"}:
                    found.append(f"{path.name}: {ast.unparse(node)}")
    assert not found, found
