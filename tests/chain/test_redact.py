"""What a node URL may show: host, port and route words; never keys, passwords or queries."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofmind.chain.redact import protect_transport_logs, redact, redact_url, url_secrets

# the shapes hosted providers use, each with the secret it carries
URLS = [
    (
        "https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161",
        "9aa3d95b3bc440fa88ea12eaa4456161",
    ),
    (
        "https://eth-mainnet.g.alchemy.com/v2/aB3-xY_9kLmN0pQrStUvWxYz12345678",
        "aB3-xY_9kLmN0pQrStUvWxYz12345678",
    ),
    ("https://rpc.ankr.com/eth/" + "ab12" * 16, "ab12" * 16),
    ("https://solemn-ice.quiknode.pro/0123abcd4567ef89/", "0123abcd4567ef89"),
    ("https://node.example/rpc?apikey=Qk3yS3cr3tValue&x=1", "Qk3yS3cr3tValue"),
    ("https://operator:hunter2-Pa55word@node.example:8545/", "hunter2-Pa55word"),
    ("https://node.example/#fragmentSecret99", "fragmentSecret99"),
]


@pytest.mark.parametrize(("url", "secret"), URLS)
def test_no_secret_survives_redaction(url: str, secret: str) -> None:
    shown = redact_url(url)
    assert secret not in shown
    assert shown.startswith(url.split("://", maxsplit=1)[0] + "://")
    assert secret in url_secrets(url)
    message = f"HTTPSConnectionPool: Max retries exceeded with url: {url} (refused) for {url}"
    assert secret not in redact(message, url)
    # without being told the URL: URLs and request paths in free text are reduced too
    assert secret not in redact(message)
    path = url.split("://", 1)[1].split("/", 1)[-1]
    assert secret not in redact(f'"POST /{path} HTTP/1.1" 429 17')


def test_route_words_host_and_port_stay_readable() -> None:
    assert redact_url("https://u:p@eth-mainnet.example.io:8443/v3/rpc?k=v") == (
        "https://eth-mainnet.example.io:8443/v3/rpc"
    )
    assert redact("block 12 of chain 1 failed", "http://127.0.0.1:8545/rpc/1") == (
        "block 12 of chain 1 failed"
    )
    # a URL inside a sentence keeps the punctuation around it
    assert redact("cannot reach rpc (http://127.0.0.1:8545): refused, see http://h.example.") == (
        "cannot reach rpc (http://127.0.0.1:8545): refused, see http://h.example."
    )
    assert redact_url("http://u:p@h.example:port/x") == "http://h.example:port/x"
    # record URIs are not node URLs: left as they are
    assert redact("no file at file:///data/Rows2024.csv (ipfs://QmAbC123)") == (
        "no file at file:///data/Rows2024.csv (ipfs://QmAbC123)"
    )


def test_transport_loggers_are_filtered(caplog: pytest.LogCaptureFixture) -> None:
    protect_transport_logs()
    protect_transport_logs()  # idempotent
    secret = "9aa3d95b3bc440fa88ea12eaa4456161"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("web3.providers.HTTPProvider").debug(
            "Making request HTTP. URI: %s, Method: %s", f"https://n.example/v3/{secret}", "x"
        )
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s %s',
            "https",
            "n.example",
            443,
            "POST",
            f"/v3/{secret}",
            "HTTP/1.1",
            429,
            17,
        )
    assert len(caplog.records) == 2
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert "https://n.example/v3/***" in caplog.records[0].getMessage()


# a key as providers issue them: 16-64 characters of letters, digits, "-" and "_", with a digit
KEYS = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=15, max_size=63
).map(lambda k: k + "7")


@given(
    key=KEYS,
    where=st.sampled_from(["path", "query", "password"]),
    host=st.sampled_from(["127.0.0.1:8545", "eth-mainnet.example.io", "node.example:443"]),
)
def test_any_provider_key_is_masked(key: str, where: str, host: str) -> None:
    url = {
        "path": f"https://{host}/v2/{key}",
        "query": f"https://{host}/rpc?apikey={key}",
        "password": f"https://user:{key}@{host}/",
    }[where]
    assert key not in redact_url(url)
    quoted = f"POST failed for {url}: Max retries exceeded with url: /v2/{key}?apikey={key}"
    assert key not in redact(quoted, url)
