"""The persisted concatenation-reference counter never repeats across restarts or crashes."""

from __future__ import annotations

from pathlib import Path

from gatewayd.modem.refcounter import BLOCK, FileReferenceCounter, MemoryReferenceCounter


def test_restart_continues_past_everything_handed_out(tmp_path: Path) -> None:
    path = tmp_path / "state" / "concat-ref"
    first = FileReferenceCounter(path)
    handed = [first.next_reference(16) for _ in range(BLOCK + 5)]
    # A "crash": the object is dropped without any shutdown hook; a new one reads the file.
    second = FileReferenceCounter(path)
    after = [second.next_reference(16) for _ in range(10)]
    assert len(set(handed + after)) == len(handed) + len(after)
    assert min(after) > max(handed)


def test_writes_once_per_block(tmp_path: Path) -> None:
    path = tmp_path / "ref"
    counter = FileReferenceCounter(path)
    counter.next_reference()
    written = path.stat().st_mtime_ns, path.read_text()
    for _ in range(BLOCK - 1):
        counter.next_reference()
    assert (path.stat().st_mtime_ns, path.read_text()) == written


def test_eight_bit_wraps_and_torn_file_recovers(tmp_path: Path) -> None:
    path = tmp_path / "ref"
    path.write_text("garbage")
    counter = FileReferenceCounter(path)
    values = [counter.next_reference(8) for _ in range(600)]
    assert all(0 <= v <= 255 for v in values)
    assert int(path.read_text()) > 1 << 16


def test_memory_counter() -> None:
    counter = MemoryReferenceCounter()
    assert [counter.next_reference() for _ in range(3)] == [1, 2, 3]
