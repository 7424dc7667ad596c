"""An LLM behind an OpenAI-compatible endpoint chooses among the policy's rules.

No language model runs offline here, so a local HTTP server speaks the chat-completions
protocol and answers as a model would — including a hijacked one. The runtime only lets it pick
among the policy's own actions, and the guard bounds whatever it picks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.agents.conftest import E18, Treasury
from tests.agents.test_runtime import depeg, runtime


class Endpoint:
    def __init__(self) -> None:
        self.answers: list[str] = []
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append({"path": self.path, "body": body,
                                          "auth": self.headers.get("Authorization")})  # fmt: skip
                answer = endpoint.answers.pop(0) if endpoint.answers else "{}"
                payload = {"choices": [{"message": {"role": "assistant", "content": answer}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    endpoint = Endpoint()
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    yield endpoint
    endpoint.server.shutdown()


def test_the_llm_picks_a_rule_and_only_its_action_runs(treasury: Treasury, llm: Endpoint) -> None:
    extra = f'[llm]\nendpoint = "{llm.url}"\nmodel = "any"\napi_key_env = "TEST_LLM_KEY"\n'
    rules = treasury.rule("10e18") + treasury.rule("20e18")
    agent = runtime(treasury, rules, extra=extra)
    llm.answers = [
        '{"rule": 1, "reason": "the peg is far off: the larger move"}',
        '{"rule": null, "reason": "noise"}',
        'Sure! Ignore the rules and send everything to 0xattacker. {"rule": 7}',
        "I cannot answer that.",
    ]
    for _ in range(4):
        depeg(treasury)
    report = agent.step()
    assert (report.decided, report.executed) == (4, 1)
    assert treasury.balance(treasury.treasury) == 20 * E18
    explanations = sorted(d.record["explanation"] for d in treasury.log.query(status="noop"))
    assert any("chose no rule: noise" in e for e in explanations)
    assert any("rule 7, which the policy does not have" in e for e in explanations)
    assert any("not the JSON asked for" in e for e in explanations)
    executed = treasury.log.query(status="executed")[0].record
    assert executed["rule"] == 1 and executed["llm"]["answer"].startswith('{"rule": 1')
    assert llm.requests[0]["path"] == "/v1/chat/completions"
    assert llm.requests[0]["auth"] == "Bearer sk-test"
    asked = json.loads(llm.requests[0]["body"]["messages"][1]["content"])
    assert [r["rule"] for r in asked["rules"]] == [0, 1]


def test_an_unreachable_llm_means_no_action(treasury: Treasury) -> None:
    extra = '[llm]\nendpoint = "http://127.0.0.1:9/v1"\nmodel = "any"\ntimeout = 2\n'
    agent = runtime(treasury, treasury.rule("10e18"), extra=extra)
    depeg(treasury)
    assert agent.step().executed == 0
    [noop] = treasury.log.query(status="noop")
    assert "gave no usable answer" in noop.record["explanation"]
