"""CIFAR-10: binary records, python-version pickles read without running code, safe download."""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from aecli.data import cifar
from aecli.data.cifar import read_cifar10
from aecli.errors import UserError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def fake_batches(per_batch: int = 3, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {
        name: (rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, per_batch))
        for name in BATCHES
    }


def write_binary_version(root: Path, batches, class_names=CLASSES) -> Path:
    """The official binary layout: records of 1 label byte + 3072 channel-major pixel bytes."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, (images, labels) in batches.items():
        records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(class_names) + "\n\n")
    return folder


def py2_pickle(obj) -> bytes:
    """`obj` pickled as Python 2's cPickle (protocol 2) wrote the CIFAR batches: text as byte
    strings, numpy arrays through numpy.core.multiarray._reconstruct with a raw byte buffer."""
    out = bytearray(b"\x80\x02")

    def string(raw: bytes) -> None:
        out.extend(b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<I", len(raw)) + raw)

    def put(value) -> None:
        if isinstance(value, dict):
            out.extend(b"}(")
            for key, item in value.items():
                put(key)
                put(item)
            out.extend(b"u")
        elif isinstance(value, list):
            out.extend(b"](")
            for item in value:
                put(item)
            out.extend(b"e")
        elif isinstance(value, tuple):
            out.extend(b"(")
            for item in value:
                put(item)
            out.extend(b"t")
        elif isinstance(value, str):
            string(value.encode("latin1"))
        elif isinstance(value, (int, np.integer)):
            out.extend(b"J" + struct.pack("<i", int(value)))
        elif isinstance(value, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            put((0,))
            string(b"b")
            out.extend(b"\x87R(J\x01\x00\x00\x00")  # TUPLE3 REDUCE, then the state tuple: version 1,
            put(value.shape)  # shape,
            out.extend(b"cnumpy\ndtype\n")  # dtype('u1', 0, 1) with its own state,
            string(b"u1")
            out.extend(b"J\x00\x00\x00\x00J\x01\x00\x00\x00\x87R")
            put((3, "|", None, None, None, -1, -1, 0))
            out.extend(b"b\x89")  # BUILD; fortran order False,
            string(value.tobytes())  # the pixel bytes
            out.extend(b"tb")
        elif value is None:
            out.extend(b"N")
        else:
            raise TypeError(type(value))

    put(obj)
    return bytes(out + b".")


def write_python_version(root: Path, batches, class_names=CLASSES) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, (images, labels) in batches.items():
        batch = {
            "batch_label": f"{name} of 5",
            "labels": [int(label) for label in labels],
            "data": images.reshape(len(images), -1),
            "filenames": [f"image_{i}.png" for i in range(len(images))],
        }
        (folder / name).write_bytes(py2_pickle(batch))
    (folder / "batches.meta").write_bytes(py2_pickle({"num_cases_per_batch": 3, "label_names": class_names, "num_vis": 3072}))
    return folder


def assert_matches(source, batches, class_names=CLASSES) -> None:
    train = [batches[name] for name in BATCHES[:5]]
    np.testing.assert_array_equal(source.x, np.concatenate([images for images, _ in train]))
    np.testing.assert_array_equal(source.labels, np.concatenate([labels for _, labels in train]))
    np.testing.assert_array_equal(source.test_x, batches["test_batch"][0])
    np.testing.assert_array_equal(source.test_labels, batches["test_batch"][1])
    assert source.x.dtype == np.uint8 and source.x.shape == (15, 3, 32, 32) and source.labels.dtype == np.int64
    assert source.class_names == tuple(class_names) and source.kind == "image"


def test_binary_version_round_trip_with_names_from_the_meta_file(tmp_path):
    batches = fake_batches()
    names = [name.upper() for name in CLASSES]
    write_binary_version(tmp_path, batches, names)
    source = read_cifar10(tmp_path)
    assert_matches(source, batches, names)
    # Channel-major records: the first 1024 pixel bytes of a record are the red plane.
    record = (tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin").read_bytes()[:3073]
    np.testing.assert_array_equal(source.x[0, 0].ravel(), np.frombuffer(record[1:1025], dtype=np.uint8))


def test_python_version_is_read_without_pickle_code(tmp_path):
    batches = fake_batches()
    folder = write_python_version(tmp_path, batches)
    # The hand-written Python 2 pickle is what the standard unpickler reads, too.
    plain = pickle.loads((folder / "data_batch_2").read_bytes(), encoding="latin1")
    np.testing.assert_array_equal(plain["data"], batches["data_batch_2"][0].reshape(3, -1))
    assert_matches(read_cifar10(tmp_path), batches)


def test_binary_version_is_preferred_over_the_python_version(tmp_path):
    write_python_version(tmp_path, fake_batches(seed=1))
    batches = fake_batches(seed=2)
    write_binary_version(tmp_path, batches)
    assert_matches(read_cifar10(tmp_path), batches)


class RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


@pytest.mark.parametrize("where", ["data_batch_3", "batches.meta"])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, where):
    folder = write_python_version(tmp_path, fake_batches())
    marker = tmp_path / "marker"
    (folder / where).write_bytes(pickle.dumps({"data": RunsCode(marker), "labels": [1]}, protocol=2))
    with pytest.raises(UserError) as error:
        read_cifar10(tmp_path)
    message = str(error.value)
    # Protocol 2 writes Python 2 module names, as the original files do: builtins is __builtin__.
    assert f"{folder / where} asks to run __builtin__.exec" in message and "refused" in message and "\n" not in message
    assert not marker.exists()


def test_other_numpy_functions_are_refused_too(tmp_path):
    folder = write_python_version(tmp_path, fake_batches())
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.frombuffer}, protocol=2))
    with pytest.raises(UserError, match="asks to run numpy.frombuffer"):
        read_cifar10(tmp_path)


def test_a_python_batch_of_the_wrong_shape_is_a_user_error(tmp_path):
    folder = write_python_version(tmp_path, fake_batches())
    (folder / "data_batch_1").write_bytes(py2_pickle({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}))
    with pytest.raises(UserError, match=r"data_batch_1 is not a CIFAR-10 batch"):
        read_cifar10(tmp_path)


def test_truncated_record_file_names_the_file(tmp_path):
    folder = write_binary_version(tmp_path, fake_batches())
    path = folder / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(UserError, match=r"data_batch_4.bin is not a CIFAR-10 record file \(9209 bytes"):
        read_cifar10(tmp_path)


def test_missing_data_names_both_folders_and_the_fix(tmp_path):
    write_binary_version(tmp_path, {name: batch for name, batch in fake_batches().items() if name != "test_batch"})
    with pytest.raises(UserError) as error:
        read_cifar10(tmp_path)
    message = str(error.value)
    assert "cifar-10-batches-bin" in message and "cifar-10-batches-py" in message and "data.download=true" in message


def tar_gz(members: dict[str, bytes], symlinks: dict[str, str] = {}) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for name, target in symlinks.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def binary_archive_members(batches) -> dict[str, bytes]:
    scratch = {}
    for name, (images, labels) in batches.items():
        records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
        scratch[f"cifar-10-batches-bin/{name}.bin"] = records.tobytes()
    scratch["cifar-10-batches-bin/batches.meta.txt"] = "\n".join(CLASSES).encode()
    scratch["cifar-10-batches-bin/readme.html"] = b"<html></html>"
    return scratch


def serve(tmp_path: Path, monkeypatch, archive: bytes, patch_md5: bool = True) -> list[str]:
    """Put `archive` on a file:// mirror (after a dead one); optionally make its md5 the expected one."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar-10-binary.tar.gz").write_bytes(archive)
    if patch_md5:
        monkeypatch.setattr(cifar, "BINARY_ARCHIVE", ("cifar-10-binary.tar.gz", hashlib.md5(archive).hexdigest()))
    return [(tmp_path / "dead").as_uri(), mirror.as_uri() + "/"]


def test_download_fetches_checks_and_unpacks_the_binary_archive(tmp_path, monkeypatch):
    batches = fake_batches()
    mirrors = serve(tmp_path, monkeypatch, tar_gz(binary_archive_members(batches)))
    root = tmp_path / "root"
    assert_matches(read_cifar10(root, download=True, mirrors=mirrors), batches)
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-bin"]  # archive and scratch folder gone
    assert_matches(read_cifar10(root), batches)


def test_download_refuses_an_archive_with_the_wrong_md5(tmp_path, monkeypatch):
    mirrors = serve(tmp_path, monkeypatch, tar_gz(binary_archive_members(fake_batches())), patch_md5=False)
    root = tmp_path / "root"
    with pytest.raises(UserError, match=r"md5 \w+ does not match c32a1d4ab5d03f1284b67883e8d87530"):
        read_cifar10(root, download=True, mirrors=mirrors)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize(
    "members, symlinks",
    [
        ({"cifar-10-batches-bin/../../escaped.txt": b"x"}, {}),
        ({"/tmp/escaped-absolute.txt": b"x"}, {}),
        ({}, {"cifar-10-batches-bin/link": "/etc/passwd"}),
    ],
)
def test_download_refuses_members_outside_the_folder(tmp_path, monkeypatch, members, symlinks):
    archive = tar_gz({**binary_archive_members(fake_batches()), **members}, symlinks)
    mirrors = serve(tmp_path, monkeypatch, archive)
    root = tmp_path / "deep" / "root"
    with pytest.raises(UserError, match="link or points outside its folder; refused"):
        read_cifar10(root, download=True, mirrors=mirrors)
    assert not (root / "cifar-10-batches-bin").exists()
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped-absolute.txt").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no scratch folder left
