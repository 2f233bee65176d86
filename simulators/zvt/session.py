"""One ECR connection as seen by the simulated terminal: send a message, wait for its answer."""

from __future__ import annotations

import asyncio
import collections

from payments.zvt.errors import CodecError
from payments.zvt.messages import ACK_POSITIVE, Acknowledgement, Message, parse_message

from .channels import Channel

ABORT_COMMAND = b"\x06\xb0"


class Session:
    def __init__(self, channel: Channel, ack_timeout_s: float, received: list[bytes] | None = None) -> None:
        self.channel = channel
        self.ack_timeout_s = ack_timeout_s
        self.abort_requested = False
        self.received = received if received is not None else []  # every APDU from the ECR, in order
        self._pushback: collections.deque[bytes] = collections.deque()

    async def _receive(self, wait_s: float | None) -> bytes | None:
        apdu = await self.channel.receive(wait_s)
        if apdu is not None:
            self.received.append(apdu)
        return apdu

    async def next_command(self) -> bytes:
        """The next APDU from the ECR (blocks until one arrives; ChannelClosed at the end)."""
        if self._pushback:
            return self._pushback.popleft()
        while True:
            apdu = await self._receive(None)
            if apdu is not None:
                return apdu

    async def send(self, message: Message | bytes) -> None:
        await self.channel.send(message if isinstance(message, bytes) else message.encode())

    async def exchange(self, message: Message | bytes) -> Acknowledgement | None:
        """Send and wait for the ECR's acknowledgement; None when none came in time.

        An abort request (06 B0) arriving meanwhile is acknowledged and remembered; any other
        command means the ECR has moved on: it is kept for the main loop and None is returned.
        """
        await self.send(message)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout_s
        while (left := deadline - loop.time()) > 0:
            apdu = await self._receive(left)
            if apdu is None:
                return None
            answer = await self._absorb(apdu)
            if answer is not None:
                return answer
            if self._pushback:
                return None
        return None

    async def _absorb(self, apdu: bytes) -> Acknowledgement | None:
        """An acknowledgement is returned; 06 B0 is acknowledged and remembered; a command is kept."""
        if apdu[:1] in (b"\x80", b"\x84"):
            try:
                message = parse_message(apdu)
            except CodecError:
                return Acknowledgement(0x9A, True)
            return message if isinstance(message, Acknowledgement) else None
        if apdu[:2] == ABORT_COMMAND:
            self.abort_requested = True
            await self.send(ACK_POSITIVE)
        else:
            self._pushback.append(apdu)
        return None

    async def listen(self, seconds: float) -> None:
        """Stay quiet for `seconds` while watching for an abort request (06 B0) from the ECR."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0 and not self.abort_requested and not self._pushback:
            apdu = await self._receive(left)
            if apdu is None:
                return
            await self._absorb(apdu)

    async def wait_for_next_command(self) -> None:
        """Silence: say nothing until the ECR sends a new command (kept for the main loop)."""
        while not self._pushback:
            apdu = await self._receive(None)
            if apdu is not None and apdu[:1] not in (b"\x80", b"\x84") and apdu[:2] != ABORT_COMMAND:
                self._pushback.append(apdu)
