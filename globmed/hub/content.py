"""What a file to be published holds, decoded: the bytes of a compressed file, the members of an archive (.zip, .whl, .tar),
the cell values of a parquet or Arrow file. The licence guard and the secret scan read files through
these views, so that compression cannot hide what is inside.

Limits: archives are opened 3 levels deep, and one file may decode to at most MAX_DECODED_BYTES
(GLOBMED_MAX_DECODED_BYTES): past that it cannot be checked, and the push is refused.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from ..errors import GlobmedError

MAX_DECODED_BYTES = int(os.environ.get("GLOBMED_MAX_DECODED_BYTES") or 16 * 1024 ** 3)
MAX_DEPTH = 3
CHUNK = 4 * 1024 * 1024
_STREAMS: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {
    ".gz": lambda f: gzip.GzipFile(fileobj=f), ".bz2": lambda f: bz2.BZ2File(f), ".xz": lambda f: lzma.LZMAFile(f),
    ".lzma": lambda f: lzma.LZMAFile(f),
    ".zst": lambda f: _arrow_stream(f, "zstd"), ".zstd": lambda f: _arrow_stream(f, "zstd"),
    ".lz4": lambda f: _arrow_stream(f, "lz4"), ".br": lambda f: _arrow_stream(f, "brotli"),
}
TABLE_SUFFIXES = (".parquet", ".arrow")


def _arrow_stream(f: IO[bytes], codec: str) -> IO[bytes]:
    """A codec pyarrow has and Python lacks (zstd, lz4, brotli), as an ordinary buffered binary file."""
    import pyarrow as pa

    return io.BufferedReader(_Raw(pa.CompressedInputStream(pa.PythonFile(f, mode="r"), codec)), CHUNK)


class _Raw(io.RawIOBase):
    def __init__(self, stream: Any):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


@dataclass(frozen=True)
class Part:
    """One readable view of a file: the file itself, its decompressed content, or an archive member.
    `name` is what the content is (a .jsonl.gz's decompressed part is named .jsonl); `where` says how it
    was reached, for messages ("" for the file itself)."""

    name: str
    where: str
    open: Callable[[], IO[bytes]]

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


def parts(path: Path, name: str | None = None) -> Iterator[Part]:
    """The file, then every decoded view inside it (depth-first). Read each part as it comes: an archive
    member can be opened only while the walk is inside its archive."""
    yield from _parts(Part(name or Path(path).name, "", lambda: open(path, "rb")), 0)


def _parts(part: Part, depth: int) -> Iterator[Part]:
    yield part
    if depth >= MAX_DEPTH:
        return
    suffix = part.suffix
    if suffix in _STREAMS:
        inner = part.name[: -len(suffix)] or "content"
        where = f"{part.where} > decompressed".lstrip(" >")
        yield from _parts(Part(inner, where, lambda: _STREAMS[suffix](part.open())), depth + 1)
    elif suffix in (".zip", ".whl", ".tar", ".tgz"):
        for member, opener in _members(part):
            where = f"{part.where} > {member}".lstrip(" >")
            yield from _parts(Part(member, where, opener), depth + 1)


def _members(part: Part) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    if part.suffix in (".zip", ".whl"):  # a member is opened while the walk is at it (parts are consumed in order)
        with zipfile.ZipFile(_seekable(part)) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, (lambda n=info.filename: zf.open(n))
        return
    with tarfile.open(fileobj=part.open(), mode="r|*") as tf:  # streamed: members in order, read as they come
        for member in tf:
            if member.isfile():
                data = tf.extractfile(member).read(MAX_DECODED_BYTES + 1)  # type: ignore[union-attr]
                _bounded(len(data), part.where or part.name)
                yield member.name, (lambda d=data: io.BytesIO(d))


def _seekable(part: Part) -> IO[bytes]:
    fh = part.open()
    if fh.seekable():
        return fh
    data = fh.read(MAX_DECODED_BYTES + 1)
    _bounded(len(data), part.where or part.name)
    return io.BytesIO(data)


def _bounded(size: int, what: str) -> None:
    if size > MAX_DECODED_BYTES:
        raise GlobmedError(f"{what}: decodes to more than {MAX_DECODED_BYTES:,} bytes; it cannot be checked for "
                           f"restricted data and secrets, so it is not uploaded (GLOBMED_MAX_DECODED_BYTES raises the limit)")


def chunks(part: Part, overlap: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of a part in chunks; each chunk repeats the last `overlap` bytes of the one before,
    so a needle shorter than `overlap` is never split between two chunks."""
    tail, offset, total = b"", 0, 0
    with part.open() as fh:
        while block := fh.read(CHUNK):
            total += len(block)
            _bounded(total, part.where or part.name)
            yield offset - len(tail), tail + block
            tail = block[-overlap:] if overlap else b""
            offset += len(block)


def table_file(part: Part) -> Any:
    """A pyarrow ParquetFile, or an Arrow IPC reader, for a part whose name says it is one; None otherwise."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if part.suffix not in TABLE_SUFFIXES:
        return None
    source = _seekable(part)
    try:
        if part.suffix == ".parquet":
            return pq.ParquetFile(source)
        try:
            return pa.ipc.open_file(source)
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_stream(source)
    except (pa.ArrowException, OSError) as exc:
        where = f"{part.where} ({part.name})" if part.where else part.name
        raise GlobmedError(f"{where}: not a readable {part.suffix[1:]} file ({exc}); it cannot be checked, so "
                           f"it is not uploaded") from None


def batches(table: Any, columns: list[str] | None = None) -> Iterator[Any]:
    """Record batches of a ParquetFile or an Arrow reader (bounded memory)."""
    if hasattr(table, "iter_batches"):
        yield from table.iter_batches(batch_size=8192, columns=columns)
        return
    if hasattr(table, "num_record_batches"):
        for i in range(table.num_record_batches):
            batch = table.get_batch(i)
            yield batch.select(columns) if columns else batch
        return
    for batch in table:
        yield batch.select(columns) if columns else batch


def schema_of(table: Any) -> Any:
    return table.schema_arrow if hasattr(table, "schema_arrow") else table.schema


def binary_values(array: Any) -> list[tuple[Any, bool]]:
    """The text and binary values of an Arrow array as flat binary arrays, nested lists, structs, maps and
    dictionaries included: (array, nested). For a flat column (nested False) position i is row i."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_dictionary(t):
        return binary_values(array.dictionary_decode())
    if pa.types.is_string(t) or pa.types.is_binary(t):
        return [(array.cast(pa.binary()), False)]
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return [(array.cast(pa.large_binary()), False)]
    if getattr(pa.types, "is_string_view", lambda _: False)(t) or getattr(pa.types, "is_binary_view", lambda _: False)(t):
        return [(array.cast(pa.large_binary()), False)]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [(a, True) for a, _ in binary_values(array.flatten())]
    if pa.types.is_map(t):
        return [(a, True) for a, _ in binary_values(array.keys) + binary_values(array.items)]
    if pa.types.is_struct(t):
        return [(a, True) for child in array.flatten() for a, _ in binary_values(child)]
    return []
