"""SMTP URLs and e-mail composition: TLS modes, credentials, escaping, no header injection."""
from __future__ import annotations

import pytest

from bidcast.services.mailer import compose, parse_smtp_url


def test_smtp_urls() -> None:
    assert parse_smtp_url("") is None and parse_smtp_url("  ") is None
    t = parse_smtp_url("smtp://user%40x:p%3Ass@mail.example:587?starttls=1")
    assert (t.host, t.port, t.tls, t.username, t.password) == ("mail.example", 587, "starttls", "user@x", "p:ss")
    assert parse_smtp_url("smtps://mail.example").port == 465 and parse_smtp_url("smtps://m.x").tls == "ssl"
    plain = parse_smtp_url("smtp://127.0.0.1:2525")
    assert (plain.port, plain.tls, plain.username) == (2525, "none", None) and "p:ss" not in t.label
    for bad in ("http://mail.example", "smtp://", "smtps://m.x?starttls=1"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)


def test_compose_escapes_html_and_keeps_headers_single_line() -> None:
    msg = compose("Bidcast <no-reply@bidcast.test>", "a@b.test", "You won <b>Vase</b>\r\nBcc: x@evil.test",
                  ["You won <b>Vase</b>", "Pay & keep it"], "https://bidcast.test/me/orders#order-1", "Settings")
    assert msg["Subject"] == "You won <b>Vase</b> Bcc: x@evil.test" and msg["Bcc"] is None
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "You won <b>Vase</b>" in text and "https://bidcast.test/me/orders#order-1" in text
    assert "&lt;b&gt;Vase&lt;/b&gt;" in html and "Pay &amp; keep it" in html and "<b>Vase" not in html
    assert msg["Message-ID"].endswith("@bidcast.test>")
