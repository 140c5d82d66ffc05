"""The model adapter: any OpenAI-compatible endpoint through the `openai` package (imported lazily).

* explicit connect and read timeouts (a stalled stream fails after `read_timeout` of silence) and a total
  deadline checked between chunks;
* streaming, with the draft's `reply` field decoded incrementally out of the JSON as it arrives;
* bounded retries with backoff, only before any text arrived (a partial answer is never silently replayed);
* a circuit breaker: after `breaker_threshold` failed drafts in a row it opens and calls fail at once
  without touching the network; after `breaker_cooldown` one half-open probe decides whether it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

from agentdesk.ai.types import ModelSettings

BreakerState = Literal["closed", "open", "half_open"]


class ModelError(Exception):
    """The model could not produce an answer; `reason` is short and safe to show and record."""

    def __init__(self, reason: str, *, partial: str = "", attempts: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
        self.attempts = attempts


class CircuitOpen(ModelError):
    pass


class CircuitBreaker:
    """Closed → (threshold consecutive failures) → open → (cooldown) → half-open: one probe call.
    A successful probe closes it; a failed one opens it again for another cooldown."""

    def __init__(
        self, threshold: int = 3, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """A call ended without a verdict on the endpoint (cancelled): let another probe through."""
        self._probe_in_flight = False


class ModelAdapter:
    """Streams raw content deltas of one chat completion from an OpenAI-compatible endpoint."""

    def __init__(
        self,
        settings: ModelSettings,
        *,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.breaker = breaker or CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown)
        self._sleep = sleep

    def _client(self) -> Any:
        import openai  # lazy: ~0.3 s of import time, only paid when a model is actually used

        return openai.AsyncOpenAI(
            base_url=self.settings.base_url,
            api_key=self.settings.api_key or "unused",
            timeout=openai.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout),
            max_retries=0,  # our own bounded retries, so the breaker and the partial-answer rule see them
        )

    async def stream(self, body: dict[str, Any]) -> AsyncGenerator[str, None]:
        """Yield content deltas; raise `ModelError` (with any partial text) when no full answer came."""
        if not self.breaker.allow():
            raise CircuitOpen("model endpoint unavailable (circuit breaker open)")
        s = self.settings
        attempts = 0
        got = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.total_timeout
        try:
            while True:
                attempts += 1
                try:
                    async with contextlib.aclosing(self._once(body, deadline)) as deltas:
                        async for delta in deltas:
                            got += delta
                            yield delta
                    self.breaker.record_success()
                    return
                except ModelError as exc:
                    retriable = getattr(exc, "retriable", False)
                    if got or not retriable or attempts > s.max_retries or loop.time() >= deadline:
                        raise ModelError(exc.reason, partial=got, attempts=attempts) from exc
                await self._sleep(min(s.retry_backoff * (2 ** (attempts - 1)), 8.0))
        except ModelError:
            self.breaker.record_failure()
            raise
        except BaseException:
            self.breaker.release()
            raise

    async def _once(self, body: dict[str, Any], deadline: float) -> AsyncGenerator[str, None]:
        import openai

        loop = asyncio.get_running_loop()
        client = self._client()
        try:
            try:
                stream = await client.chat.completions.create(**body)
            except openai.APIStatusError as exc:
                raise _error(
                    f"HTTP {exc.status_code} from the model endpoint",
                    exc.status_code >= 500 or exc.status_code == 429,
                ) from exc
            except openai.APITimeoutError as exc:
                raise _error("model endpoint timed out before answering", True) from exc
            except openai.APIConnectionError as exc:
                raise _error(f"cannot reach the model endpoint ({_cause(exc)})", True) from exc
            finished = False
            try:
                async for event in stream:
                    if loop.time() > deadline:
                        raise _error("model answer exceeded the total time limit", False)
                    for choice in event.choices or ():
                        delta = choice.delta
                        if delta is not None and delta.content:
                            yield delta.content
                        for call in (delta.tool_calls or ()) if delta is not None else ():
                            if call.function is not None and call.function.arguments:
                                yield call.function.arguments
                        if choice.finish_reason:
                            finished = True
            except openai.APITimeoutError as exc:
                raise _error("model stream stalled (read timeout)", False) from exc
            except (openai.APIError, OSError) as exc:
                raise _error(f"model stream broke off ({_cause(exc)})", False) from exc
            except Exception as exc:
                if isinstance(exc, ModelError):
                    raise
                if "timeout" in type(exc).__name__.lower():
                    raise _error("model stream stalled (read timeout)", False) from exc
                raise _error(f"model stream broke off ({type(exc).__name__})", False) from exc
            finally:
                await stream.close()
            if not finished:
                raise _error("model stream ended without a finish reason", False)
        finally:
            await client.close()


def _error(reason: str, retriable: bool) -> ModelError:
    exc = ModelError(reason)
    exc.retriable = retriable  # type: ignore[attr-defined]
    return exc


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    return type(inner).__name__ if inner is not None else type(exc).__name__


# --- structured output --------------------------------------------------------------------------------------

_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_REPLY_KEY = re.compile(r'"reply"\s*:\s*"')


class ReplyExtractor:
    """Decodes the JSON string value of `"reply"` while the object is still streaming."""

    def __init__(self) -> None:
        self.raw = ""
        self.reply = ""
        self.closed = False
        self._pos: int | None = None

    def feed(self, delta: str) -> str:
        """Add raw model output; return the newly decoded reply text (may be empty)."""
        self.raw += delta
        if self.closed:
            return ""
        if self._pos is None:
            m = _REPLY_KEY.search(self.raw)
            if m is None:
                return ""
            self._pos = m.end()
        out: list[str] = []
        i = self._pos
        raw = self.raw
        while i < len(raw):
            ch = raw[i]
            if ch == '"':
                self.closed = True
                i += 1
                break
            if ch == "\\":
                if i + 1 >= len(raw):
                    break
                nxt = raw[i + 1]
                if nxt == "u":
                    if i + 6 > len(raw):
                        break
                    try:
                        out.append(chr(int(raw[i + 2 : i + 6], 16)))
                    except ValueError:
                        out.append("?")
                    i += 6
                    continue
                out.append(_ESC.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        self._pos = i
        text = "".join(out)
        # Join surrogate pairs that arrived as two \\u escapes.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if text else text
        self.reply += text
        return text


def parse_output(raw: str) -> tuple[dict[str, Any] | None, str]:
    """Parse the model's JSON, repairing the common breakages. Returns (object or None, note)."""
    text = raw.strip()
    for attempt, candidate in enumerate(_candidates(text)):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj, "" if attempt == 0 else "repaired malformed JSON"
    return None, "model returned malformed output (not a JSON object)"


def _candidates(text: str) -> list[str]:
    out = [text]
    fenced = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    out.append(fenced)
    start, end = fenced.find("{"), fenced.rfind("}")
    if start != -1 and end > start:
        inner = fenced[start : end + 1]
        out.append(inner)
        out.append(re.sub(r",\s*([}\]])", r"\1", inner))
    elif start != -1:
        # Cut off mid-object: close open strings/brackets as best we can.
        inner = fenced[start:]
        if inner.count('"') % 2:
            inner += '"'
        inner += "]" * max(0, inner.count("[") - inner.count("]"))
        out.append(inner + "}")
    return out
