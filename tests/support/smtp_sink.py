#!/usr/bin/env python3
"""A minimal, fast SMTP sink for benchmarks: accepts everything, keeps
nothing but a count. `smtp_sink.py PORT` prints `listening on PORT`, and on
SIGTERM prints `accepted N`. (The tests use aiosmtpd, a full server; this one
does only what a sink must, so the sender is what gets measured.)"""

import asyncio
import signal
import sys

count = 0


async def session(reader, writer):
    global count
    writer.write(b"220 sink ready\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                count += 1
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 26)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(f"accepted {count}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
