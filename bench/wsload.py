"""A deliberately lean WebSocket client for load tests: thousands of viewers in one process.

It speaks just enough RFC 6455 to join a room: the upgrade handshake, masked client frames,
and parsing of the server's unmasked frames. Every connection counts frames; sampled ones also
decode them to measure delivery latency (receive time − the event's server `ts`).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from collections.abc import Callable

from bidcast.simulate import client_frame, take_upgrade_response


class Viewer(asyncio.Protocol):
    def __init__(self, path: str, host: str, sample: bool, on_message: Callable[[dict, float], None] | None,
                 hello: dict | None = None) -> None:
        self.path, self.host, self.sample, self.on_message = path, host, sample, on_message
        self.hello = hello or {"type": "hello"}
        self.buf = bytearray()
        self.upgraded = False
        self.frames = 0
        self.latencies: list[float] = []
        self.connected = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n").encode())  # type: ignore[attr-defined]

    def send(self, msg: dict) -> None:
        if self.transport and not self.transport.is_closing():
            self.transport.write(client_frame(0x1, json.dumps(msg).encode()))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            switched = take_upgrade_response(buf)
            if switched is None:
                return
            if not switched:
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            self.send(self.hello)
            if not self.connected.done():
                self.connected.set_result(True)
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            hdr = 2
            if b1 == 126:
                if n - pos < 4:
                    break
                b1 = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif b1 == 127:
                if n - pos < 10:
                    break
                b1 = struct.unpack_from("!Q", buf, pos + 2)[0]
                hdr = 10
            if n - pos < hdr + b1:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 1:
                self.frames += 1
                if self.sample or self.on_message:
                    msg = json.loads(bytes(buf[pos + hdr:pos + hdr + b1]))
                    now = time.time() * 1000
                    if self.sample and not msg.get("personal") and msg.get("type") != "snapshot":
                        self.latencies.append(now - msg["ts"])
                    if self.on_message:
                        self.on_message(msg, now)
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
            pos += hdr + b1
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_result(False)
        if not self.closed.done():
            self.closed.set_result(True)


async def open_viewers(host: str, port: int, path: str, count: int, sample_every: int,
                       batch: int = 200) -> list[Viewer]:
    loop = asyncio.get_running_loop()
    viewers: list[Viewer] = []
    for start in range(0, count, batch):
        group = []
        for i in range(start, min(count, start + batch)):
            group.append(loop.create_connection(
                lambda i=i: Viewer(path, f"{host}:{port}", i % sample_every == 0, None), host, port))
        for _, proto in await asyncio.gather(*group):
            viewers.append(proto)
        await asyncio.gather(*[v.connected for v in viewers[start:]])
    return viewers
