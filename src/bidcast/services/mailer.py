"""Sending e-mail over SMTP: the server named by BIDCAST_SMTP_URL, messages built with the
standard library (plain text plus an HTML part in which every value is escaped).

    smtp://user:pass@host:587?starttls=1   plain connection upgraded with STARTTLS
    smtps://user:pass@host:465             TLS from the first byte
    smtp://localhost:25                    no TLS, no login (a local relay, tests)

smtplib is blocking, so a batch is sent in a worker thread over one connection; the event loop
that runs the auctions never waits on a mail server.
"""
from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: str  # "none" | "ssl" | "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 15.0

    @property
    def label(self) -> str:
        """For logs: never the password."""
        return f"{self.host}:{self.port} ({self.tls})"


def parse_smtp_url(url: str) -> SmtpTarget | None:
    """None for an empty URL (e-mail off); ValueError for a malformed one (fail at start-up)."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("BIDCAST_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("BIDCAST_SMTP_URL has no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    ssl_on = parts.scheme == "smtps"
    starttls = query.get("starttls", "").lower() in TRUE
    if ssl_on and starttls:
        raise ValueError("BIDCAST_SMTP_URL: smtps:// and starttls=1 exclude each other")
    timeout = float(query.get("timeout", 15))
    return SmtpTarget(host=parts.hostname, port=parts.port or (465 if ssl_on else 25),
                      tls="ssl" if ssl_on else "starttls" if starttls else "none",
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      timeout=timeout)


def compose(sender: str, to: str, subject: str, lines: list[str], link: str | None,
            footer: str | None = None) -> EmailMessage:
    """A plain-text message with an HTML alternative; text is escaped, never markup."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr(parseaddr(to))
    msg["Subject"] = " ".join(subject.split())[:200]  # no header injection through a title
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].partition("@")[2] or None)
    text = "\n\n".join([*lines, *([link] if link else []), *([f"--\n{footer}"] if footer else [])])
    msg.set_content(text + "\n")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if link:
        paragraphs += f'<p><a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>'
    if footer:
        paragraphs += f'<hr><p style="color:#666;font-size:12px">{html.escape(footer)}</p>'
    msg.add_alternative(f"<!doctype html><html><body>{paragraphs}</body></html>", subtype="html")
    return msg


class SmtpSender:
    """Sends batches over one SMTP connection; each message gets its own outcome."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target

    async def send(self, messages: list[EmailMessage]) -> list[Exception | None]:
        return await asyncio.to_thread(self._send_batch, messages)

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        if t.tls == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=t.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
            if t.tls == "starttls":
                conn.starttls(context=ssl.create_default_context())
        if t.username:
            conn.login(t.username, t.password or "")
        return conn

    def _send_batch(self, messages: list[EmailMessage]) -> list[Exception | None]:
        try:
            conn = self._connect()
        except (OSError, smtplib.SMTPException) as e:
            return [e] * len(messages)
        out: list[Exception | None] = []
        try:
            for msg in messages:
                try:
                    conn.send_message(msg)
                    out.append(None)
                except smtplib.SMTPServerDisconnected as e:
                    out += [e] * (len(messages) - len(out))  # the rest cannot go either
                    break
                except (OSError, smtplib.SMTPException) as e:
                    out.append(e)
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        return out
