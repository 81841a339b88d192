"""Taking a message off a Redis queue and recording it as unacknowledged in one step.

kombu's Redis transport takes a message with ``BRPOP`` and records it in the
``unacked`` hash with a second command. A worker killed between the two
(SIGKILL, OOM killer, power loss) has removed the message from its queue
without recording it anywhere: it is lost, and nothing brings it back (the
worker-crash scenario lost 2 commands in 60 kills this way, the kill-storm
scenario 69 messages in 100 kills; docs/reliability.md, section 1). Redis
has no blocking command that moves an
item from one of several lists into a hash, so :data:`CLAIM_SCRIPT` does
both in one Lua script, which Redis runs atomically: the message is either
still queued or recorded as unacknowledged (and comes back after the
visibility timeout if its worker dies).

A script cannot block, so a worker that finds every queue empty asks again
after a short wait (:class:`IdleWait`), instead of blocking in ``BRPOP``:
a few milliseconds more for a command that meets an idle worker, and about
1% of a core per idle worker (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import monotonic

__all__ = ["CLAIM_SCRIPT", "DECODE_LIMIT", "IdleWait"]

DECODE_LIMIT = 16 * 1024 * 1024
"""Items larger than this are not decoded inside Redis (a script blocks the server
while it runs); they are taken the old way. A capgate message is at most ~6 MiB
(a 4 MiB envelope, escaped)."""

# KEYS: the unacked hash, the unacked index, then the queue keys in the order
# kombu's BRPOP would try them. ARGV: the worker's clock (kombu's restore of
# unacknowledged messages compares the index with the worker's clock, not
# Redis's), DECODE_LIMIT.
#
# The message is recorded before it is popped: if a write fails (the server
# is out of memory), the script stops with the message still queued. The
# unacked entry is the message as queued, exchange and routing key, built
# from the original text, as re-encoding with cjson turns empty arrays into
# objects. An item that is not a kombu message is popped and returned
# unrecorded, for the worker to drop or take the old way.
CLAIM_SCRIPT = """
local limit = tonumber(ARGV[2])
for i = 3, #KEYS do
  local item = redis.call('LINDEX', KEYS[i], -1)
  if item then
    if #item <= limit then
      local ok, message = pcall(cjson.decode, item)
      local properties = ok and type(message) == 'table' and message['properties']
      if type(properties) == 'table' then
        local tag = properties['delivery_tag']
        local info = properties['delivery_info']
        if type(tag) == 'string' and type(info) == 'table'
            and type(info['exchange']) == 'string'
            and type(info['routing_key']) == 'string' then
          local entry = '[' .. item .. ', ' .. cjson.encode(info['exchange']) .. ', '
            .. cjson.encode(info['routing_key']) .. ']'
          redis.call('ZADD', KEYS[2], ARGV[1], tag)
          redis.call('HSET', KEYS[1], tag, entry)
          redis.call('RPOP', KEYS[i])
          return {KEYS[i], item, tag}
        end
      end
    end
    redis.call('RPOP', KEYS[i])
    return {KEYS[i], item}
  end
end
return false
"""


@dataclass
class IdleWait:
    """How long a worker waits before asking again after finding its queues empty.

    Doubles from ``first`` up to ``longest`` while the queues stay empty, and
    up to ``relaxed`` once they have been empty for ``relax_after`` seconds;
    starts again at zero as soon as a message comes. A busy worker never
    waits; a worker between messages of a steady flow takes each within
    ``longest``; one idle for a while asks ``1 / relaxed`` times a second
    (each ask costs the worker about half a millisecond of CPU, Redis a
    tenth: docs/performance.md) and takes the first message of the next
    burst within ``relaxed``.
    """

    first: float = 0.001
    longest: float = 0.010
    relaxed: float = 0.050
    relax_after: float = 1.0
    delay: float = field(default=0.0, init=False)
    until: float = field(default=0.0, init=False)
    idle_since: float | None = field(default=None, init=False)

    def empty(self, at_least: float = 0.0) -> None:
        """The queues were empty (or the broker refused): wait before asking again."""
        now = monotonic()
        if self.idle_since is None:
            self.idle_since = now
        cap = self.relaxed if now - self.idle_since >= self.relax_after else self.longest
        self.delay = max(at_least, min(cap, self.delay * 2 or self.first))
        self.until = now + self.delay

    def found(self) -> None:
        """A message came: ask again at once."""
        self.delay = 0.0
        self.until = 0.0
        self.idle_since = None

    def remaining(self) -> float:
        """Seconds left to wait; 0 when the worker may ask now."""
        return max(0.0, self.until - monotonic())
