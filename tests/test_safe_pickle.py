"""The restricted unpickler: everything the dataset pickles need loads; nothing else runs."""

from __future__ import annotations

import builtins
import collections
import importlib
import os
import pickle
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hscl.data.safe_pickle import load_pickle
from hscl.errors import DataError
from pickle_fixtures import Reduce, write_pickle

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def _allowed_payload() -> dict:
    return {
        "float32": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "float64_fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "neg_inf": np.array([-np.inf, np.nan, 1.0], dtype=np.float32),
        "int64": np.array([1, -2], dtype=np.int64),
        "bool": np.array([True, False]),
        "bytes_ids": np.array([[b"abc_1", b"0.0", b"1.5"]]),
        "unicode": np.array(["caf\u00e9", "x"]),
        "object_text": np.array(["one", "two words"], dtype=object),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalars": [np.float32(1.5), np.int64(7), np.bool_(True), 2.5, 3, "s", b"b", None],
        "containers": (collections.OrderedDict(a=1), {1, 2}, frozenset({3}), slice(1, 5, 2), 1 + 2j, bytearray(b"xy")),
    }


def _assert_same(loaded: object, original: object) -> None:
    if isinstance(original, np.ndarray):
        assert isinstance(loaded, np.ndarray)
        assert loaded.dtype == original.dtype and loaded.shape == original.shape
        np.testing.assert_array_equal(loaded, original)
    elif isinstance(original, dict):
        assert type(loaded) is type(original) and list(loaded) == list(original)
        for key in original:
            _assert_same(loaded[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original):
            _assert_same(a, b)
    else:
        assert type(loaded) is type(original) and loaded == original


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_round_trips_everything_the_formats_need(tmp_path: Path, protocol: int) -> None:
    payload = _allowed_payload()
    loaded = load_pickle(write_pickle(tmp_path / "ok.pkl", payload, protocol=protocol))
    _assert_same(loaded, payload)
    assert loaded["float32"].flags.writeable


def test_reads_numpy1_spelling_of_numpy_globals(tmp_path: Path) -> None:
    """Pickles written by numpy 1 name `numpy.core.multiarray`; numpy 2 writes `numpy._core`."""
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = pickle.dumps({"a": array, "s": np.float64(2.0)}, protocol=2)
    current = b"numpy._core.multiarray" if b"numpy._core.multiarray" in data else b"numpy.core.multiarray"
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(current, b"numpy.core.multiarray"))
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded["a"], array)
    assert loaded["s"] == 2.0


def test_hostile_pickle_runs_nothing_and_names_file_and_global(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for protocol in PROTOCOLS:
        path = write_pickle(
            tmp_path / f"evil{protocol}.pkl", {"train": Reduce(os.system, f"touch {marker}")}, protocol=protocol
        )
        with pytest.raises(DataError) as caught:
            load_pickle(path)
        message = str(caught.value)
        assert str(path) in message
        assert f"{os.system.__module__}.system" in message  # posix.system on Linux, nt.system on Windows
        assert "forbidden global" in message
        assert not marker.exists()


MARKER = "created-by-hostile-pickle"  # relative: the tests run inside tmp_path
TOUCH = f"open({MARKER!r}, 'w')"
HOSTILE = {
    "builtins.eval": Reduce(builtins.eval, TOUCH),
    "builtins.exec": Reduce(builtins.exec, TOUCH),
    "builtins.getattr": Reduce(builtins.getattr, np.float32(1.0), "__class__"),
    "builtins.__import__": Reduce(builtins.__import__, "os"),
    "io.open (builtins.open)": Reduce(builtins.open, MARKER, "w"),
    "subprocess.Popen": Reduce(subprocess.Popen, ["touch", MARKER]),
    "importlib.import_module": Reduce(importlib.import_module, "os"),
    "numpy.load": Reduce(np.load, MARKER),
    "numpy.save": Reduce(np.save, MARKER, np.zeros(1)),
    "numpy.testing.assert_equal": Reduce(np.testing.assert_equal, 1, 1),
    "numpy.fromfile": Reduce(np.fromfile, MARKER),
}


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_refuses_code_running_globals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_pickle(tmp_path / "evil.pkl", [np.zeros(2), HOSTILE[label]])
    with pytest.raises(DataError, match="forbidden global") as caught:
        load_pickle(path)
    assert str(path) in str(caught.value)
    func = HOSTILE[label].func
    assert f"{func.__module__}.{func.__qualname__}" in str(caught.value)
    assert not (tmp_path / MARKER).exists()


def test_hostile_object_inside_object_array_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    array = np.empty(2, dtype=object)
    array[0], array[1] = "fine", Reduce(os.system, f"touch {marker}")
    with pytest.raises(DataError, match="forbidden global"):
        load_pickle(write_pickle(tmp_path / "obj.pkl", {"raw_text": array}))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("numpy", "load"),
        ("numpy", "testing.assert_equal"),
        ("builtins", "getattr"),
        ("numpy", "core.multiarray._reconstruct"),
        ("os", "system"),
    ],
)
def test_refuses_raw_stack_global_including_dotted_names(tmp_path: Path, module: str, name: str) -> None:
    def short_unicode(text: str) -> bytes:
        return b"\x8c" + bytes([len(text)]) + text.encode()

    path = tmp_path / "raw.pkl"
    path.write_bytes(
        b"\x80\x04" + short_unicode(module) + short_unicode(name) + b"\x93."
    )  # PROTO 4, STACK_GLOBAL, STOP
    with pytest.raises(DataError, match=f"forbidden global {module}.{name}"):
        load_pickle(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file") as caught:
        load_pickle(tmp_path / "absent.pkl")
    assert str(tmp_path / "absent.pkl") in str(caught.value)
    with pytest.raises(DataError, match="directory"):
        load_pickle(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"\x80\x04\x95"])
def test_garbage_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a readable pickle") as caught:
        load_pickle(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_truncated_pickle_is_one_clear_error(tmp_path: Path, protocol: int) -> None:
    data = pickle.dumps({"train": {"audio": np.ones((3, 4, 5), dtype=np.float32)}}, protocol=protocol)
    for cut in (len(data) // 3, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.pkl"
        path.write_bytes(data[:cut])
        with pytest.raises(DataError, match="truncated or corrupt"):
            load_pickle(path)


def test_persistent_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "persistent.pkl"
    path.write_bytes(b"\x80\x04\x8c\x03abc\x94Q.")  # PROTO 4, a string, BINPERSID, STOP
    with pytest.raises(DataError, match="not a readable pickle"):
        load_pickle(path)


def shared_tree(levels: int) -> list:
    """A binary list tree with 2**levels leaves in which both children of a node are one object."""
    tree: object = "leaf"
    for _ in range(levels):
        tree = [tree, tree]
    return tree  # type: ignore[return-value]


def test_shared_reference_bomb_fails_fast_in_little_memory(tmp_path: Path) -> None:
    """Pickles under 1 KB whose id field expands to 2**30 or 2**40 leaves are refused before anything
    expands them (the deeper one by its nesting)."""
    for levels, problem in ((30, "expands to more than 50,000,000 elements"), (40, "nested deeper than 32")):
        path = write_pickle(tmp_path / "bomb.pkl", {"train": {"id": shared_tree(levels)}})
        assert path.stat().st_size < 1024
        tracemalloc.start()
        with pytest.raises(DataError, match=rf"bomb\.pkl: (containers )?{problem}"):
            load_pickle(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 5 * 2**20


def test_expansion_bound_counts_every_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree of 2**k leaves has 2**(k+1) - 1 elements: 511 pass a bound of 1000, 1023 do not."""
    monkeypatch.setattr("hscl.data.safe_pickle.MAX_EXPANDED_ELEMENTS", 1000)
    assert load_pickle(write_pickle(tmp_path / "ok.pkl", shared_tree(8))) == shared_tree(8)
    with pytest.raises(DataError, match="expands to more than 1,000 elements"):
        load_pickle(write_pickle(tmp_path / "big.pkl", shared_tree(9)))
    objects = np.empty(2, dtype=object)
    objects[0] = objects[1] = shared_tree(9)  # object arrays are walked too
    with pytest.raises(DataError, match="expands to more than 1,000 elements"):
        load_pickle(write_pickle(tmp_path / "array.pkl", {"id": objects}))


def test_deep_nesting_and_cycles_are_refused(tmp_path: Path) -> None:
    depth = 100_000  # pickle.dumps cannot write this; the opcodes can: EMPTY_LIST x depth, APPEND x (depth - 1)
    deep = tmp_path / "deep.pkl"
    deep.write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    with pytest.raises(DataError, match=r"deep\.pkl: containers nested deeper than 32 levels"):
        load_pickle(deep)
    load_pickle(write_pickle(tmp_path / "ok.pkl", [[[[[[[[1]]]]]]]]))
    cycle: list = [1]
    cycle.append(cycle)
    with pytest.raises(DataError, match=r"cycle\.pkl: a container holds itself"):
        load_pickle(write_pickle(tmp_path / "cycle.pkl", {"id": cycle}))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_bytes_from_a_size_is_refused(tmp_path: Path, protocol: int, kind: type) -> None:
    """`bytes(2**40)` is a 20-byte pickle that would allocate a terabyte."""
    path = write_pickle(tmp_path / "alloc.pkl", {"id": Reduce(kind, 2**40)}, protocol=protocol)
    with pytest.raises(DataError, match=rf"alloc\.pkl: refused {kind.__name__}\(1099511627776\)"):
        load_pickle(path)
