"""Follow task messages through an append-only Redis's write log.

With ``appendonly yes`` every write the broker accepted is in the AOF, in
order: a publish is an ``LPUSH`` of the message onto its queue, a worker's
``BRPOP`` is logged as an ``RPOP`` of the same queue, kombu's "unacked"
bookkeeping is an ``HSET unacked <tag> <message>`` and its acknowledgement
an ``HDEL``. Replaying the queue writes tells, for a task id that never ran,
whether the broker ever received it (publisher side) or a worker popped it
(consumer side) and whether the pop was followed by the unacked record.
Run: ``python -m scenarios.aof_trace FOLDER TASK_ID...``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MessageTrace", "commands", "trace"]

_TASK_ID = re.compile(rb'"id": ?"([0-9a-f-]{36})"')


def _resp_commands(data: bytes) -> Iterator[list[bytes]]:
    """The commands of a RESP append-only file (``*N`` arrays of bulk strings)."""
    pos, size = 0, len(data)
    while pos < size:
        if data[pos : pos + 1] == b"#":  # an annotation line (timestamps)
            pos = data.index(b"\r\n", pos) + 2
            continue
        if data[pos : pos + 1] != b"*":
            return  # a truncated tail or an RDB preamble: nothing more to read
        end = data.index(b"\r\n", pos)
        count = int(data[pos + 1 : end])
        pos = end + 2
        args = []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            length = int(data[pos + 1 : end])
            pos = end + 2
            args.append(data[pos : pos + length])
            pos += length + 2
        yield args


def commands(folder: Path) -> Iterator[list[bytes]]:
    """Every command of the AOF in ``folder`` (Redis 7 multi-part or one file), in order."""
    parts = folder / "appendonlydir"
    if parts.is_dir():
        manifest = next(parts.glob("*.manifest"))
        lines = manifest.read_text().splitlines()
        names = [line.split()[1] for line in lines if line.startswith("file ")]
        # base first, then the incremental files in sequence order
        for name in sorted(names, key=lambda n: (".incr." in n, int(n.split(".")[-3]))):
            yield from _resp_commands((parts / name).read_bytes())
    else:
        yield from _resp_commands((folder / "appendonly.aof").read_bytes())


@dataclass
class MessageTrace:
    """What the broker's write log says happened to one task message."""

    pushed: int = 0
    popped: int = 0
    unacked_recorded: int = 0
    unacked_removed: int = 0
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pushed": self.pushed,
            "popped": self.popped,
            "unacked_recorded": self.unacked_recorded,
            "unacked_removed": self.unacked_removed,
            "events": self.events,
        }


def _task_id(payload: bytes) -> str | None:
    match = _TASK_ID.search(payload)
    return match.group(1).decode() if match else None


class _Replay:
    """The queues and the unacked hash, rebuilt write by write."""

    def __init__(self, wanted: Iterable[str]) -> None:
        self.traces = {task_id: MessageTrace() for task_id in wanted}
        self.lists: dict[tuple[int, bytes], deque[bytes]] = defaultdict(deque)
        self.tag_to_task: dict[bytes, str] = {}
        self.db = 0

    def _note(self, task_id: str | None, event: str) -> MessageTrace | None:
        found = self.traces.get(task_id) if task_id is not None else None
        if found is not None:
            found.events.append(event)
        return found

    def apply(self, number: int, args: list[bytes]) -> None:
        name = args[0].upper()
        if name == b"SELECT":
            self.db = int(args[1])
        elif name in (b"LPUSH", b"RPUSH"):
            self._push(number, args)
        elif name in (b"RPOP", b"LPOP"):
            self._pop(number, args)
        elif name == b"HSET" and args[1] == b"unacked":
            for tag, value in zip(args[2::2], args[3::2], strict=True):
                task_id = _task_id(value)
                if task_id is not None:
                    self.tag_to_task[tag] = task_id
                if found := self._note(task_id, f"{number} HSET unacked"):
                    found.unacked_recorded += 1
        elif name == b"HDEL" and args[1] == b"unacked":
            for tag in args[2:]:
                if found := self._note(self.tag_to_task.get(tag), f"{number} HDEL unacked"):
                    found.unacked_removed += 1

    def _push(self, number: int, args: list[bytes]) -> None:
        name, key = args[0].upper(), args[1]
        queue = self.lists[(self.db, key)]
        for value in args[2:]:
            (queue.appendleft if name == b"LPUSH" else queue.append)(value)
            if found := self._note(_task_id(value), f"{number} {name.decode()} {key.decode()}"):
                found.pushed += 1

    def _pop(self, number: int, args: list[bytes]) -> None:
        name, key = args[0].upper(), args[1]
        queue = self.lists[(self.db, key)]
        count = int(args[2]) if len(args) > 2 else 1
        for _ in range(min(count, len(queue))):
            value = queue.pop() if name == b"RPOP" else queue.popleft()
            if found := self._note(_task_id(value), f"{number} {name.decode()} {key.decode()}"):
                found.popped += 1


def trace(cmds: Iterable[list[bytes]], wanted: Iterable[str]) -> dict[str, MessageTrace]:
    """Replay the list and unacked writes of ``cmds``; the fate of each ``wanted`` task id."""
    replay = _Replay(wanted)
    for number, args in enumerate(cmds):
        replay.apply(number, args)
    return replay.traces


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="the Redis --dir (holding appendonlydir/)")
    parser.add_argument("task_ids", nargs="+")
    args = parser.parse_args()
    found = trace(commands(args.folder), args.task_ids)
    print(json.dumps({k: v.as_dict() for k, v in found.items()}, indent=2))


if __name__ == "__main__":
    main()
