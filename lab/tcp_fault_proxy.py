#!/usr/bin/env python3
"""TCP proxy with fault injection for the cluster lab (stdlib only, one process for all nodes).

    tcp_fault_proxy.py --control-dir DIR ROUTE [ROUTE ...]
    ROUTE = NAME,LISTEN_HOST:LISTEN_PORT,TARGET_HOST:TARGET_PORT

Every route (one per database node) forwards connections from its listen address to its target.
Its behaviour is read from DIR/NAME.mode, polled every 50 ms; the first line is one of

    pass            forward normally (also the behaviour when the file is missing or empty)
    blackhole       accept new connections and keep every connection open, but forward nothing
                    in either direction (not even a close); existing connections freeze too
    delay MS        forward, each chunk held MS milliseconds in each direction (RTT + 2*MS)

optionally followed by a token (`blackhole #123`). After `blackhole`, `pass` resumes the frozen
connections where they stopped (like TCP retransmission after a partition heals); data that
arrived meanwhile is delivered then.

DIR/NAME.server says whether the server behind the route is running: `up` (also when missing) or
`down` (optionally with a token). While it is down, and the route is not blackholed, the route does
not listen, so clients get "connection refused" exactly as from the dead server itself; an upstream
that refuses anyway (a crash not announced) makes the proxy reset the client connection at once.

Once a change is applied the proxy writes DIR/NAME.state (atomically), one line with both control
lines, tokens included, so a controller can wait for its change to be in force:
    mode=<mode line> server=<server line> listening=yes|no conns=<open connections>
The proxy writes DIR/ready when every listener is bound; SIGTERM/SIGINT stop it.
"""

import argparse
import asyncio
import os
import signal
import socket
import struct
import sys
import time

POLL_SECONDS = 0.05
CHUNK = 65536
QUEUE_CHUNKS = 64


def log(msg):
    sys.stderr.write(time.strftime("%H:%M:%S ") + msg + "\n")
    sys.stderr.flush()


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def abort_transport(writer):
    """Close with RST (SO_LINGER 0), the way a crashed peer's kernel would."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class Route:
    def __init__(self, name, listen, target, control_dir):
        self.name = name
        self.listen = listen
        self.target = target
        self.mode_path = os.path.join(control_dir, name + ".mode")
        self.server_path = os.path.join(control_dir, name + ".server")
        self.state_path = os.path.join(control_dir, name + ".state")
        self.mode_line = "pass"
        self.server_line = "up"
        self.server_up = True
        self.delay = 0.0  # seconds, each direction
        self.open = asyncio.Event()  # set unless blackholed
        self.open.set()
        self.conns = 0
        self.listener = None
        self._stamps = {}
        self._reported = None

    # -- control ---------------------------------------------------------------------------------
    def _changed(self, path):
        """The first line of path if the file changed since the last call (None if it did not)."""
        try:
            st = os.stat(path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamps.get(path, 0):
            return None
        self._stamps[path] = stamp
        try:
            with open(path) as f:
                return f.readline().strip()
        except FileNotFoundError:
            return ""

    async def poll(self):
        line = self._changed(self.mode_path)
        if line is not None:
            self.apply(line or "pass")
        line = self._changed(self.server_path)
        if line is not None:
            words = (line or "up").split()
            if words[0] in ("up", "down"):
                self.server_up = words[0] == "up"
                self.server_line = " ".join(words)
                self._reported = None
                log(f"{self.name}: server {words[0]}")
            else:
                log(f"{self.name}: ignoring invalid server line {line!r}")
        await self.sync_listener()
        self.report()

    async def sync_listener(self):
        # Listen unless the server is down: then connections are refused as by the dead server
        # itself. A blackholed route listens anyway (a partition hides the refusal).
        want = self.server_up or not self.open.is_set()
        if want and self.listener is None:
            try:
                self.listener = await asyncio.start_server(
                    self.handle, self.listen[0], self.listen[1], reuse_address=True, backlog=256)
            except OSError as e:
                log(f"{self.name}: cannot listen on {self.listen[0]}:{self.listen[1]}: {e.strerror}")
                raise
            self._reported = None
        elif not want and self.listener is not None:
            self.listener.close()
            self.listener = None
            self._reported = None

    def apply(self, line):
        words = line.split()
        token = ""
        if words and words[-1].startswith("#"):
            token = words.pop()
        try:
            if not words or words == ["pass"]:
                mode, delay = "pass", 0.0
            elif words == ["blackhole"]:
                mode, delay = "blackhole", 0.0
            elif len(words) == 2 and words[0] == "delay" and float(words[1]) >= 0:
                mode, delay = f"delay {words[1]}", float(words[1]) / 1000.0
            else:
                raise ValueError(line)
        except ValueError:
            log(f"{self.name}: ignoring invalid mode {line!r}")
            self.mode_line = f"invalid {token}".strip()
            self._reported = None
            return
        self.delay = delay
        if mode == "blackhole":
            self.open.clear()
        else:
            self.open.set()
        self.mode_line = f"{mode} {token}".strip()
        self._reported = None
        log(f"{self.name}: mode {mode}")

    def report(self):
        listening = "yes" if self.listener is not None else "no"
        text = f"mode={self.mode_line} server={self.server_line} listening={listening} conns={self.conns}\n"
        if text != self._reported:
            write_atomic(self.state_path, text)
            self._reported = text

    # -- data path -------------------------------------------------------------------------------
    async def handle(self, creader, cwriter):
        self.conns += 1
        swriter = None
        try:
            # Blackholed: accept, but do not even reach the server until healed.
            await self.open.wait()
            try:
                sreader, swriter = await asyncio.open_connection(*self.target)
            except OSError:
                abort_transport(cwriter)
                return
            for w in (cwriter, swriter):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up = asyncio.ensure_future(self.pump(creader, swriter))
            down = asyncio.ensure_future(self.pump(sreader, cwriter))
            pending = {up, down}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(t.result() == "reset" for t in done if not t.cancelled()):
                    for t in pending:
                        t.cancel()
                    abort_transport(cwriter)
                    abort_transport(swriter)
                    return
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - keep the proxy alive whatever one connection does
            log(f"{self.name}: connection error {e!r}")
        finally:
            self.conns -= 1
            for w in (cwriter, swriter):
                if w is not None and not w.transport.is_closing():
                    w.close()

    async def pump(self, reader, writer):
        """Copy one direction. Returns 'eof' after a clean end, 'reset' after an error."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue(QUEUE_CHUNKS)

        async def read_side():
            try:
                while True:
                    data = await reader.read(CHUNK)
                    await queue.put((loop.time(), data))
                    if not data:
                        return
            except (ConnectionError, OSError):
                await queue.put((loop.time(), None))

        reading = asyncio.ensure_future(read_side())
        try:
            while True:
                arrived, data = await queue.get()
                while True:  # hold the chunk while blackholed and until its delay has passed
                    await self.open.wait()
                    wait = arrived + self.delay - loop.time()
                    if wait <= 0:
                        break
                    await asyncio.sleep(wait)
                if data is None:
                    return "reset"
                if not data:
                    if writer.can_write_eof():
                        try:
                            writer.write_eof()
                        except OSError:
                            return "reset"
                    return "eof"
                writer.write(data)
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    return "reset"
        finally:
            reading.cancel()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--control-dir", required=True)
    parser.add_argument("routes", nargs="+", metavar="NAME,LISTEN_HOST:PORT,TARGET_HOST:PORT")
    args = parser.parse_args()

    def hostport(s):
        host, _, port = s.rpartition(":")
        return host, int(port)

    routes = []
    for spec in args.routes:
        try:
            name, listen, target = spec.split(",")
            routes.append(Route(name, hostport(listen), hostport(target), args.control_dir))
        except ValueError:
            parser.error(f"bad route {spec!r}")

    for r in routes:
        try:
            await r.poll()
        except OSError:
            sys.exit(2)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_atomic(os.path.join(args.control_dir, "ready"), f"{os.getpid()}\n")
    log("listening: " + ", ".join(f"{r.name} {r.listen[0]}:{r.listen[1]} -> {r.target[0]}:{r.target[1]}" for r in routes))

    while not stop.is_set():
        for r in routes:
            try:
                await r.poll()
            except OSError as e:
                log(f"{r.name}: control error {e}")
        try:
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        except asyncio.TimeoutError:
            pass
    for r in routes:
        if r.listener is not None:
            r.listener.close()
    log("stopped")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
