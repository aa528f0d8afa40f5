"""A Redis server of the benchmark's own, on its own port, that it may stop and start.

The machine's Redis (6379) is shared with other work and is never stopped: the paging
part points its Celery worker and beat at this one instead and stops it to measure
escalation through a broker outage.
"""

import socket
import subprocess
import time
from pathlib import Path

PORT = 6390


class RedisError(Exception):
    pass


class OwnRedis:
    def __init__(self, folder: Path, port: int = PORT):
        self.folder, self.port = folder, port

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/1"

    def is_up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        if self.is_up():
            return
        try:
            subprocess.run(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "yes",
                 "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log"),
                 "--pidfile", str(self.folder / "redis.pid")],
                check=True, capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RedisError(f"could not start redis-server on port {self.port}: {exc}") \
                from None
        deadline = time.monotonic() + 10
        while not self.is_up():
            if time.monotonic() > deadline:
                raise RedisError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.05)

    def stop(self):
        """Shut it down (nothing saved); returns once the port no longer answers."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
                       capture_output=True, timeout=10, check=False)
        deadline = time.monotonic() + 10
        while self.is_up() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.is_up():
            raise RedisError(f"redis-server on port {self.port} did not stop")

    def version(self):
        done = subprocess.run(["redis-cli", "-p", str(self.port), "info", "server"],
                              capture_output=True, text=True, timeout=10, check=False)
        for line in done.stdout.splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1].strip()
        return "unknown"
