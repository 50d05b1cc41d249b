#!/usr/bin/env python3
"""A real SMTP server on loopback for cpor's e-mail tests (aiosmtpd).

    smtp_server.py --dir DIR [--port 0]

Prints `listening on PORT` and serves until killed. Every accepted message
is stored as DIR/accepted/<n>.eml; every transaction (MAIL FROM) appends a
line to DIR/transactions.log: `<n> <rcpt> <outcome>`.

How it treats a message depends on the recipient's local part, so one
server serves every test:
  tempfailN@…   451 to the first N transactions for that address, then accept
  reject@…      550 (permanent)
  dropdata@…    the first time: close the connection in the middle of DATA,
                without storing the message; then accept
  dropdataN@…   the same, the first N times
  slowN@…       wait N seconds before answering DATA, then accept
  slowonceN@…   the first time: wait N seconds, then accept; later: accept
  slowtwiceN@…  the first two times: wait N seconds, then accept; later: accept
  rejectrcpt@…  550 at RCPT (permanent)
  relaydenied@… 554 5.7.1 at RCPT: the relay's policy, not the address
  relaynocode@… 550 at RCPT without an enhanced code, saying relaying is
                not permitted (an Exim or an old relay refusing to relay)
  qmailrelay@…  553 at RCPT, qmail's words and its code in brackets at the
                end: `(#5.7.1)`, the relay's policy
  nouser@…      550 at RCPT without an enhanced code: no such user
  spam@…        554 5.7.1 after DATA: the message refused as spam
  eximspam@…    550 after DATA without an enhanced code (Exim's ACL
                refusing the message: `Administrative prohibition`)
  full@…        552 5.2.2 after DATA: the mailbox is full (for good, as a
                large provider words it)
  deferKIND@…   451 to every message of that kind (its Message-ID's
                `<night.KIND.…>`: deferactivation, deferexpiry), the
                others accepted: a server that keeps refusing one message
                for now (a mailbox nearly full, a scanner that stalls)
  anything else accept
A file DIR/per-connection holding N makes the server answer the MAIL FROM
of a connection's N+1th message 421 and close it (a relay's limit of
messages per connection, as Postfix's smtpd_client_message_rate_limit or
Exim's smtp_accept_max_per_connection).
A file DIR/silent-after holding N makes the server take each new connection
once N messages are accepted and never greet it (a relay that hangs).
A file DIR/down makes the server refuse new connections (421) while it exists;
a file DIR/refuse-sender makes it refuse every MAIL FROM (553 5.7.1, a relay
that does not let cpor send as its bounce address).

For the fault matrix (scripts/fault-matrix):
  --mode LOCAL     treat every recipient as if its local part were LOCAL
                   (`tempfail1`, `reject`, `rejectrcpt`, `dropdata`,
                   `dropdata99`, `slow3`); a file DIR/mode, if present, is
                   read instead at each message, so a test can change it
  --greeting-delay S  wait S seconds before the 220 greeting
  --ids-only       store nothing but one line per accepted message in
                   DIR/accepted.log: its Message-ID (fast, for large runs)
"""

import argparse
import asyncio
import email
import email.policy
import os
import re
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def message_id(content):
    """The Message-ID header of a message as received, or `-`."""
    head = content.split(b"\r\n\r\n", 1)[0]
    return next((l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
                 if l.lower().startswith(b"message-id:")), b"-")


class Handler:
    def __init__(self, root: Path, mode=None, ids_only=False):
        self.root = root
        self.mode = mode
        self.ids_only = ids_only
        (root / "accepted").mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.seen = {}
        self.count = 0

    def log(self, rcpt, outcome):
        with self.lock:
            with open(self.root / "transactions.log", "a") as f:
                f.write(f"{self.count} {rcpt} {outcome}\n")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if (self.root / "down").exists():
            return ["421 service not available"]
        session.host_name = hostname
        return responses

    def local_of(self, rcpt):
        override = self.root / "mode"
        if override.exists():
            return override.read_text().strip() or rcpt.split("@", 1)[0]
        return self.mode or rcpt.split("@", 1)[0]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        limit = self.root / "per-connection"
        if limit.exists():
            session.messages = getattr(session, "messages", 0) + 1
            if session.messages > int(limit.read_text()):
                self.log("-", "421-mail")
                server.transport.close()
                return "421 4.7.0 too many messages in this connection"
        if (self.root / "refuse-sender").exists():
            self.log("-", "553-mail")
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.local_of(address.lower()) == "rejectrcpt":
            self.log(address.lower(), "550-rcpt")
            return "550 5.1.1 no such mailbox"
        if self.local_of(address.lower()) == "relaydenied":
            self.log(address.lower(), "554-rcpt")
            return "554 5.7.1 <%s>: Relay access denied" % address
        bare = {
            "relaynocode": "550 relay not permitted",
            "qmailrelay": "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
            "nouser": "550 <%s>... User unknown" % address,
        }.get(self.local_of(address.lower()))
        if bare:
            self.log(address.lower(), bare[:3] + "-rcpt")
            return bare
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0].lower()
        local = self.local_of(rcpt)
        with self.lock:
            self.count += 1
            n = self.seen.get(rcpt, 0) + 1
            self.seen[rcpt] = n
        m = re.fullmatch(r"defer(activation|approval|digest|expiry|reminder)", local)
        if m and f".{m.group(1)}.".encode() in message_id(envelope.original_content):
            self.log(rcpt, "451")
            return "451 4.2.2 mailbox full, try again later"
        m = re.fullmatch(r"tempfail(\d+)", local)
        if m and n <= int(m.group(1)):
            self.log(rcpt, "451")
            return "451 4.3.0 try again later"
        if local == "reject":
            self.log(rcpt, "550")
            return "550 5.1.1 no such mailbox"
        if local == "spam":
            self.log(rcpt, "554")
            return "554 5.7.1 message refused as spam"
        if local == "eximspam":
            self.log(rcpt, "550")
            return "550 Administrative prohibition"
        if local == "full":
            self.log(rcpt, "552")
            return "552 5.2.2 The email account that you tried to reach is over quota"
        m = re.fullmatch(r"dropdata(\d*)", local)
        if m and n <= int(m.group(1) or 1):
            self.log(rcpt, "dropped")
            server.transport.close()
            # The connection is gone; aiosmtpd cancels this handler with it.
            await asyncio.sleep(30)
            return "421 4.4.2 connection dropped"
        m = (re.fullmatch(r"slow(\d+)", local)
             or (n == 1 and re.fullmatch(r"slowonce(\d+)", local))
             or (n <= 2 and re.fullmatch(r"slowtwice(\d+)", local)))
        if m:
            await asyncio.sleep(int(m.group(1)))
        if self.ids_only:
            mid = message_id(envelope.original_content)
            with self.lock:
                with open(self.root / "accepted.log", "ab") as f:
                    f.write(mid + b" " + rcpt.encode() + b"\n")
            return "250 2.0.0 accepted"
        with self.lock:
            k = len(list((self.root / "accepted").glob("*.eml"))) + 1
            tmp = self.root / "accepted" / f".{k}.tmp"
            tmp.write_bytes(envelope.original_content)
            os.rename(tmp, self.root / "accepted" / f"{k}.eml")
            # A decoded copy for tests: headers, then the text part.
            msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            body = msg.get_body(("plain",))
            text = "".join(f"{h}: {msg[h]}\n" for h in ("To", "Subject", "Message-ID", "List-Unsubscribe"))
            text += f"Return-Path: <{envelope.mail_from}>\n"
            text += "\n" + (body.get_content() if body else "")
            (self.root / "accepted" / f"{k}.txt").write_text(text)
        self.log(rcpt, "250")
        return "250 2.0.0 accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode")
    ap.add_argument("--greeting-delay", type=float, default=0)
    ap.add_argument("--ids-only", action="store_true")
    args = ap.parse_args()
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    handler = Handler(root, args.mode, args.ids_only)
    port = args.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    delay = args.greeting_delay

    class SlowGreeting(SMTP):
        async def _handle_client(self):
            if delay:
                await asyncio.sleep(delay)
            after = root / "silent-after"
            if after.exists() and handler.count >= int(after.read_text()):
                await asyncio.sleep(3600)
            return await super()._handle_client()

    class Slow(Controller):
        def factory(self):
            return SlowGreeting(self.handler, **self.SMTP_kwargs)

    controller = Slow(handler, hostname="127.0.0.1", port=port,
                      server_kwargs={"decode_data": False})
    controller.start()
    print(f"listening on {port}", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
