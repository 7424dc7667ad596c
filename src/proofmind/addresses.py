"""Ethereum addresses given by people (on a command line, in a URL, in a CSV file): checked
the same way everywhere, so the same bad value gets the same one-line error from the CLI and
the HTTP API. Free of heavy imports."""

from __future__ import annotations

import re

from proofmind.errors import InputError

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def parse_address(text: str, what: str = "address") -> str:
    """The checksummed form of ``text``, a 0x-prefixed 20-byte hex address.

    All-lower or all-upper hex carries no checksum and is accepted; mixed case must be a valid
    EIP-55 checksum, because a mixed-case address with a wrong checksum is most often a typo.
    """
    from eth_utils.address import to_checksum_address

    value = text.strip() if isinstance(text, str) else ""
    if not _HEX_ADDRESS.match(value):
        digits = len(value.removeprefix("0x"))
        why = (
            "it is not hex"
            if re.search(r"[^0-9a-fA-Fx]", value)
            else f"it has {digits} hex digits, not 40"
        )
        raise InputError(
            f"{what} {text!r} is not an address: {why}",
            hint="give 0x followed by 40 hex digits (20 bytes)",
        )
    checksummed = to_checksum_address(value)
    body = value[2:]
    if body != body.lower() and body != body.upper() and value != checksummed:
        raise InputError(
            f"{what} {text!r} fails its EIP-55 checksum (its mixed case does not match its "
            "digits: most often a typo)",
            hint="copy the address again from its source",
        )
    return checksummed
