"""A real SMTP server that captures mail, for Berth's tests (aiosmtpd).

    python smtp_sink.py OUTDIR [PORT]

Listens on 127.0.0.1 (port 0 picks a free one), prints `READY <port>` once it accepts connections, and writes each
message to OUTDIR as NNNN.eml plus NNNN.json with the envelope and the decoded text and HTML parts.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Capture:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = len([name for name in os.listdir(outdir) if name.endswith(".eml")])

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        stem = os.path.join(self.outdir, f"{self.count:04d}")
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        with open(stem + ".eml", "wb") as out:
            out.write(envelope.content)
        # Written last and renamed into place, so a reader never sees half a record.
        with open(stem + ".json.tmp", "w") as out:
            json.dump(record, out)
        os.rename(stem + ".json.tmp", stem + ".json")
        return "250 Message accepted for delivery"


async def main(outdir, port):
    os.makedirs(outdir, exist_ok=True)
    handler = Capture(outdir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
