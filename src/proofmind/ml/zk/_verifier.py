"""The circuit's Solidity verifier: written by EZKL, compiled with solc-js (EZKL's own compile
step downloads a native solc, which does not work offline)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from proofmind.errors import ConfigError
from proofmind.ml.zk._ezkl import ZkError, load_ezkl
from proofmind.tooling import global_node_modules, node_modules_dirs

MAX_CODE_SIZE = 24_576  # EIP-170: the largest contract code Ethereum deploys


def find_solcjs() -> Path:
    """solc-js: in node_modules near the cwd or the package (the checkout's, which `npm ci`
    fills), else in npm's global folder (``npm install -g solc``)."""
    for modules in node_modules_dirs():
        if (modules / "solc" / "package.json").is_file():
            return modules / "solc"
    shared = global_node_modules()  # asked last: it runs npm
    if shared is not None and (shared / "solc" / "package.json").is_file():
        return shared / "solc"
    raise ConfigError(
        "solc-js (npm package `solc`) is not installed",
        hint="run `npm ci` in the proofmind checkout (make setup does it); with proofmind "
        "installed by pip, `npm install -g solc@0.8.37`",
    )


_SOLCJS = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => process.stdout.write(solc.compile(input)));
"""


def compile_verifier(source: Path) -> tuple[list[dict[str, Any]], str]:
    """ABI and creation bytecode of the verifier EZKL wrote, compiled with solc-js (EZKL's own
    compile step downloads a native solc, which does not work offline)."""
    solc = find_solcjs()
    request = {
        "language": "Solidity",
        "sources": {"Verifier.sol": {"content": source.read_text()}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 1},
            "evmVersion": "cancun",
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH", hint="install Node.js 20 (solc-js runs on it)")
    done = subprocess.run(
        [node, "-e", _SOLCJS, str(solc)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ZkError(f"solc-js failed on {source}: {done.stderr.strip()[-500:]}")
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ZkError(f"the verifier EZKL wrote does not compile: {errors[0]['formattedMessage']}")
    (contract,) = output["contracts"]["Verifier.sol"].values()
    size = len(contract["evm"]["deployedBytecode"]["object"]) // 2
    if size > MAX_CODE_SIZE:
        raise ZkError(
            f"the verifier of this circuit is {size:,} bytes of code, over the {MAX_CODE_SIZE:,}"
            "-byte limit of EIP-170: Ethereum and its L2s refuse to deploy it",
            hint="spread the lookup tables over fewer columns: a higher --max-logrows "
            "(or none), or fewer --columns",
        )
    return contract["abi"], "0x" + contract["evm"]["bytecode"]["object"]


def write_verifier(vk: Path, settings: Path, srs: Path, out: Path) -> None:
    """EZKL writes the Solidity file, then fails trying to download solc: keep the file."""
    ezkl = load_ezkl()

    async def run() -> None:
        try:
            await ezkl.create_evm_verifier(
                str(vk), str(settings), str(out), str(out.with_suffix(".abi")), str(srs)
            )
        except RuntimeError as exc:
            if not out.is_file():
                raise ZkError(f"EZKL could not write the verifier: {exc}") from exc

    asyncio.run(run())
