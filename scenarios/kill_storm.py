"""Kill storm: SIGKILL consumers while they take messages, many times, and count losses.

The worker-crash scenario kills a whole capgate stack twice per run, so a
loss that needs the kill to land between taking a message and recording it
shows up in about one run in ten. This one isolates the broker side: a
plain Kombu consumer (``capgate``'s transport or Kombu's own ``redis``)
takes messages as fast as it can without acknowledging any, and is
SIGKILLed a few milliseconds after it starts taking, again and again. No
message is ever acknowledged, so every message published must still be
either queued or recorded as unacknowledged at the end; the difference is
lost. Run: ``python -m scenarios.kill_storm --kills 100``.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from kombu import Connection, Exchange, Producer, Queue

from scenarios.servers import RedisServer
from scenarios.stack import print_figures

__all__ = ["TRANSPORTS", "run"]

TRANSPORTS = {"capgate": "capgate.workers.transport:Transport", "kombu": "redis"}
EXCHANGE = Exchange("capgate.bundles", type="direct")
QUEUE = Queue("capgate.bundles", EXCHANGE, routing_key="capgate.bundles")

# The consumer: takes messages without acknowledging them; "taking" on stdout
# once the first arrived, so the kill lands while it is busy taking.
CONSUMER = """
import sys
from kombu import Connection, Consumer, Exchange, Queue

exchange = Exchange("capgate.bundles", type="direct")
queue = Queue("capgate.bundles", exchange, routing_key="capgate.bundles")
said = []

def taken(message):
    if not said:
        print("taking", flush=True)
        said.append(1)

with Connection(sys.argv[1], transport=sys.argv[2]) as connection:
    consumer = Consumer(connection.default_channel, [queue], on_message=taken)
    consumer.consume()
    while True:
        connection.drain_events(timeout=5)
"""


def publish(url: str, count: int) -> None:
    """Queue ``count`` small messages."""
    with Connection(url) as connection:
        producer = Producer(connection)
        for number in range(count):
            producer.publish(
                {"n": number},
                exchange=EXCHANGE,
                routing_key="capgate.bundles",
                declare=[QUEUE] if number == 0 else [],
            )


def kill_while_taking(url: str, transport: str, delay: float) -> bool:
    """Start a consumer, SIGKILL it ``delay`` s after it took its first message;
    False if it never took one (the queue ran dry)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, url, transport],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    with child, child.stdout:
        took = child.stdout.readline() == b"taking\n"
        if took:
            time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    return took


def run(kills: int = 100, messages: int = 50_000, transport: str = "capgate") -> dict[str, Any]:
    """Run the storm against one transport; its figures."""
    rng = random.Random(kills)
    with tempfile.TemporaryDirectory(prefix="capgate-storm-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            url = server.url(0)
            publish(url, messages)
            done = sum(
                kill_while_taking(url, TRANSPORTS[transport], rng.uniform(0.0, 0.02))
                for _ in range(kills)
            )
            client = redis.Redis.from_url(url)
            queued, unacked = int(client.llen("capgate.bundles")), int(client.hlen("unacked"))
            client.close()
        finally:
            server.shutdown()
    return {
        "transport": transport,
        "published": messages,
        "kills_while_taking": done,
        "still_queued": queued,
        "recorded_unacked": unacked,
        "lost": messages - queued - unacked,
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--transport", choices=sorted(TRANSPORTS), action="append")
    args = parser.parse_args()
    for transport in args.transport or sorted(TRANSPORTS):
        print_figures("kill_storm", run(args.kills, args.messages, transport))


if __name__ == "__main__":
    main()
