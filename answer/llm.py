"""Optional answers from any OpenAI-compatible chat-completions endpoint
(vLLM, Ollama, Xinference, DeepSeek/Qwen/GLM cloud APIs), streamed.

The prompt lives in prompts/ as Jinja2 templates rendered with StrictUndefined.
The reply is checked afterwards: a [n] that points to no passage is removed and
reported. Any failure (timeout, refused connection, HTTP error, empty reply)
raises LlmError, and the caller falls back to the extractive answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import jinja2

from index.searcher import Hit
from settings import Settings

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_CITATION = re.compile(r"\[(\d+)\]")


class LlmError(Exception):
    """The model could not give an answer; the message says why, in Chinese."""


def render_messages(question: str, hits: list[Hit]) -> list[dict]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for a model, not HTML
        keep_trailing_newline=True,
    )
    passages = [h.chunk for h in hits]
    system = env.get_template("answer_system.jinja").render(count=len(passages))
    user = env.get_template("answer_user.jinja").render(question=question, passages=passages)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class ChatClient:
    @classmethod
    def configured(cls, settings: Settings) -> ChatClient | None:
        """The client the settings describe, or None (extractive answers)."""
        if not (settings.llm_base_url and settings.llm_model):
            return None
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            settings.llm_timeout,
            settings.llm_temperature,
        )

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
        temperature: float = 0.1,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout)
        self._temperature = temperature

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """Yield pieces of the reply as the server sends them."""
        body = {
            "model": self._model,
            "messages": messages,
            "stream": True,
            "temperature": self._temperature,
        }
        received = False
        try:
            with httpx.stream(
                "POST", self._url, json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status_code != 200:
                    raise LlmError(f"大模型服务返回 HTTP {response.status_code}")
                for piece in _sse_contents(response.iter_lines()):
                    received = received or bool(piece.strip())
                    yield piece
        except httpx.TimeoutException as exc:
            raise LlmError("大模型服务响应超时") from exc
        except httpx.HTTPError as exc:
            raise LlmError(f"无法连接大模型服务（{type(exc).__name__}）") from exc
        if not received:
            raise LlmError("大模型服务返回了空回答")


def _sse_contents(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            choice = json.loads(data)["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            continue  # keep-alives and vendor extras
        content = (choice.get("delta") or {}).get("content")
        if content:
            yield content


def check_citations(text: str, passages: int) -> tuple[str, list[int]]:
    """Remove [n] markers that point to no passage; return the text and the bad n."""
    bad = sorted({int(n) for n in _CITATION.findall(text) if not 1 <= int(n) <= passages})
    cleaned = _CITATION.sub(lambda m: m.group() if 1 <= int(m.group(1)) <= passages else "", text)
    return cleaned, bad


def cited_numbers(text: str) -> list[int]:
    return sorted({int(n) for n in _CITATION.findall(text)})
