"""A real SMTP server that captures mail, for Berth's tests (aiosmtpd).

    python smtp_sink.py OUTDIR [PORT] [--tls CERT KEY] [--auth USER:PASSWORD]

Listens on 127.0.0.1 (port 0 picks a free one), prints `READY <port>` once it accepts connections, and writes each
message to OUTDIR as NNNN.eml plus NNNN.json with the envelope, the decoded text and HTML parts, and whether the
session used TLS and authenticated. With --tls it requires STARTTLS; with --auth it requires that login (over TLS).
"""

import argparse
import asyncio
import ssl
import email
import email.policy
import json
import os

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


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
            "tls": bool(session.ssl),
            "authenticated": bool(session.authenticated),
        }
        with open(stem + ".eml", "wb") as out:
            out.write(envelope.content)
        # Written last and renamed into place, so a reader never sees half a record.
        with open(stem + ".json.tmp", "w") as out:
            json.dump(record, out)
        os.rename(stem + ".json.tmp", stem + ".json")
        return "250 Message accepted for delivery"


def authenticator_for(expected):
    user, password = expected.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok)

    return authenticate


async def main(args):
    os.makedirs(args.outdir, exist_ok=True)
    handler = Capture(args.outdir)
    options = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        options.update(authenticator=authenticator_for(args.auth), auth_required=True,
                       auth_require_tls=bool(args.tls))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), "127.0.0.1", args.port)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    asyncio.run(main(parser.parse_args()))
