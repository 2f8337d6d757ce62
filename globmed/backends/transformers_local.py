"""A local transformers model (a folder or a Hub id): batched generation and log-likelihood.

Requests arrive one by one from the runner's rolling window; a worker thread gathers whatever is
waiting into batches (same mode and settings), sorted by length so padding is small. For MCQA,
the option letters are scored from ONE forward pass per item: the next-token distribution after
the prompt (which ends with the target-language answer cue), keeping only the last position's
logits. Continuations whose first tokens coincide fall back to full-continuation scoring.

`stream` (the Space's chat) generates one answer in a thread of its own with a TextIteratorStreamer;
a lock keeps it and the batch worker from running the model at the same time.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from .base import Backend, BackendError, Request, Response


def fingerprint(path: Path) -> str:
    """A cheap revision for a local model folder: config + weight file names, sizes and mtimes."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.suffix in (".json",) and f.stat().st_size < 5_000_000:
            h.update(f.name.encode() + f.read_bytes())
        elif f.suffix in (".safetensors", ".bin", ".pt"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return "local-" + h.hexdigest()[:16]


@dataclass
class TransformersBackend(Backend):
    revision: str | None = None
    batch_size: int = 16
    device: str | None = None
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU
    use_chat_template: bool = True
    max_batch_tokens: int = 32768
    gather_ms: float = 5.0  # how long the worker waits to fill a batch
    _queue: "queue.Queue[Any]" = field(init=False, repr=False, default_factory=queue.Queue)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)  # one user of the model

    def __post_init__(self) -> None:
        self.kind = "transformers"
        self.supports_loglik = True
        self.prefers_sorted = True
        self.paced = False  # requests sent together are batched together
        self.default_concurrency = self.batch_size * 4
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendError(f"the transformers backend needs torch and transformers: {exc}") from None
        self._torch = torch
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32, "bfloat16": torch.bfloat16,
                 "float16": torch.float16, "float32": torch.float32}[self.dtype]
        self.tokenizer = AutoTokenizer.from_pretrained(self.model, revision=self.revision)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(self.model, revision=self.revision, dtype=dtype).to(device).eval()
        self._device, self._dtype = device, str(dtype).replace("torch.", "")
        local = Path(self.model)
        self._revision = self.revision or (fingerprint(local) if local.is_dir() else
                                           getattr(self.lm.config, "_commit_hash", None))
        self._first_token_cache: dict[tuple[str, str], int] = {}
        self._thread = threading.Thread(target=self._work, name="globmed-transformers", daemon=True)
        self._thread.start()

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "revision": self._revision, "dtype": self._dtype,
                "chat_template": bool(self.use_chat_template and self.tokenizer.chat_template)}

    # -- the async face ---------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        return await self._submit(request)

    async def loglik(self, request: Request) -> Response:
        return await self._submit(request)

    async def _submit(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        self._queue.put((request, future, loop))
        return await future

    async def stream(self, request: Request) -> AsyncIterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        torch = self._torch
        cancel = threading.Event()  # set when the reader goes away: generation stops at the next token

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        ids, mask, _ = self._encode([self.render(request)])
        kwargs = {**self._generate_kwargs(request.settings), "streamer": streamer,
                  "stopping_criteria": StoppingCriteriaList([Cancelled()])}
        failure: list[BaseException] = []

        def generate() -> None:
            try:
                with self._lock, torch.inference_mode():
                    self.lm.generate(input_ids=ids, attention_mask=mask, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader below
                failure.append(exc)
                streamer.end()

        threading.Thread(target=generate, name="globmed-transformers-stream", daemon=True).start()
        loop, done, text, sent = asyncio.get_running_loop(), object(), "", 0
        try:
            while (piece := await loop.run_in_executor(None, next, streamer, done)) is not done:
                text += piece
                # the answer ends before its first stop string, as in chat()
                cut = min((text.index(stop) for stop in request.settings.stop if stop in text), default=None)
                end = len(text) if cut is None else cut
                if end > sent:
                    yield text[sent:end]
                    sent = end
                if cut is not None:
                    return
        finally:
            cancel.set()
        if failure:
            raise BackendError(f"{type(failure[0]).__name__}: {failure[0]}")

    async def aclose(self) -> None:
        self._queue.put(None)

    # -- the worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.perf_counter() + self.gather_ms / 1000
            while len(batch) < self.batch_size * 4:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            groups: dict[Any, list[Any]] = {}
            for item in batch:
                req = item[0]
                groups.setdefault((req.mode, req.settings), []).append(item)
            for (mode, _), items in groups.items():
                self._run_group(mode, items)

    def _run_group(self, mode: str, items: list[Any]) -> None:
        prompts = [self.render(req) for req, _, _ in items]
        order = sorted(range(len(items)), key=lambda i: -len(prompts[i]))
        for chunk in self._chunks(order, prompts):
            start = time.perf_counter()
            try:
                with self._lock, self._torch.inference_mode():
                    if mode == "loglik":
                        outs = self._loglik([items[i][0] for i in chunk], [prompts[i] for i in chunk])
                    else:
                        outs = self._generate([items[i][0] for i in chunk], [prompts[i] for i in chunk])
                share = (time.perf_counter() - start) / len(chunk)
                for i, out in zip(chunk, outs):
                    out.latency = share
                    _resolve(items[i], result=out)
            except Exception as exc:  # one bad batch must not kill the worker
                for i in chunk:
                    _resolve(items[i], error=BackendError(f"{type(exc).__name__}: {exc}"))

    def _chunks(self, order: list[int], prompts: list[str]) -> list[list[int]]:
        chunks, current, longest = [], [], 0
        for i in order:
            n = len(prompts[i]) // 3 + 1  # rough token count; sorted, so the first is the longest
            longest = max(longest, n)
            if current and (len(current) >= self.batch_size or longest * (len(current) + 1) > self.max_batch_tokens):
                chunks.append(current)
                current, longest = [], n
            current.append(i)
        if current:
            chunks.append(current)
        return chunks

    def render(self, request: Request) -> str:
        messages = [dict(m) for m in request.messages]
        tok = self.tokenizer
        if not (self.use_chat_template and tok.chat_template):
            return "\n\n".join(m["content"] for m in messages)
        kwargs = dict(request.settings.chat_template_kwargs or {})
        try:
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
        except Exception:  # some templates (e.g. Gemma's) reject a system turn: fold it into the user turn
            system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
            rest = [m for m in messages if m["role"] != "system"]
            if system and rest:
                rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
            return tok.apply_chat_template(rest, tokenize=False, add_generation_prompt=True, **kwargs)

    def _encode(self, prompts: list[str]) -> Any:
        special = not (self.use_chat_template and self.tokenizer.chat_template)
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=special)
        mask = enc["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return enc["input_ids"].to(self._device), mask.to(self._device), positions.to(self._device)

    def _continuation(self, prompt: str, choice: str) -> str:
        return choice if not prompt or prompt[-1].isspace() else " " + choice

    def _first_token(self, prompt: str, continuation: str) -> int:
        tail = prompt[-32:]  # merges never reach far back: key the cache on the prompt's tail
        key = (tail, continuation)
        if key not in self._first_token_cache:
            base = self.tokenizer.encode(tail, add_special_tokens=False)
            full = self.tokenizer.encode(tail + continuation, add_special_tokens=False)
            if full[: len(base)] == base and len(full) > len(base):
                token = full[len(base)]
            else:
                token = self.tokenizer.encode(continuation, add_special_tokens=False)[0]
            self._first_token_cache[key] = token
        return self._first_token_cache[key]

    def _loglik(self, requests: list[Request], prompts: list[str]) -> list[Response]:
        torch = self._torch
        firsts = [[self._first_token(p, self._continuation(p, c)) for c in r.choices] for r, p in zip(requests, prompts)]
        single = [i for i, f in enumerate(firsts) if len(set(f)) == len(f)]
        out: list[Response | None] = [None] * len(requests)
        if single:
            ids, mask, pos = self._encode([prompts[i] for i in single])
            logits = self.lm(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=1).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, i in enumerate(single):
                scores = logprobs[row, firsts[i]].tolist()
                out[i] = Response(scores=scores, finish_reason="loglik", tokens_in=int(mask[row].sum()), tokens_out=0)
        for i in (i for i in range(len(requests)) if out[i] is None):
            out[i] = self._full_continuations(requests[i], prompts[i])
        return out  # type: ignore[return-value]

    def _full_continuations(self, request: Request, prompt: str) -> Response:
        """Sum of log-probabilities of each whole continuation (used when first tokens coincide)."""
        torch = self._torch
        conts = [self._continuation(prompt, c) for c in request.choices]
        base = self.tokenizer.encode(prompt, add_special_tokens=False)
        seqs = [self.tokenizer.encode(prompt + c, add_special_tokens=False) for c in conts]
        n_new = [max(1, len(s) - len(base)) for s in seqs]
        keep = max(n_new) + 1
        ids, mask, pos = self._encode([prompt + c for c in conts])
        logprobs = torch.log_softmax(self.lm(input_ids=ids, attention_mask=mask, position_ids=pos,
                                             logits_to_keep=keep).logits.float(), dim=-1)
        scores = []
        for row, n in enumerate(n_new):
            targets = ids[row, -n:]
            lp = logprobs[row, -n - 1:-1, :].gather(-1, targets[:, None]).sum()
            scores.append(float(lp))
        return Response(scores=scores, finish_reason="loglik", tokens_in=len(base), tokens_out=0)

    def _generate_kwargs(self, s: Any) -> dict[str, Any]:
        """model.generate's arguments for these generation settings."""
        kwargs: dict[str, Any] = {"max_new_tokens": s.max_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if s.temperature is None:  # none asked for: the model's generation_config decides (its recommended sampling)
            sample = bool(self.lm.generation_config.do_sample)
        else:
            sample = s.temperature > 0
            kwargs["do_sample"] = sample
            if sample:
                kwargs["temperature"] = s.temperature
        if sample:
            if s.top_p is not None:
                kwargs["top_p"] = s.top_p
            if s.seed is not None:
                self._torch.manual_seed(s.seed)
        if s.stop:
            kwargs.update(stop_strings=list(s.stop), tokenizer=self.tokenizer)
        return kwargs

    def _generate(self, requests: list[Request], prompts: list[str]) -> list[Response]:
        s = requests[0].settings
        ids, mask, _ = self._encode(prompts)
        gen = self.lm.generate(input_ids=ids, attention_mask=mask, **self._generate_kwargs(s))[:, ids.shape[1]:]
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        out = []
        for row in range(len(requests)):
            tokens = [t for t in gen[row].tolist()]
            while tokens and tokens[-1] == self.tokenizer.pad_token_id:
                tokens.pop()
            ended = len(tokens) < s.max_tokens or (tokens and tokens[-1] in eos)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            for stop in s.stop:
                text = text.split(stop)[0]
            out.append(Response(text=text, finish_reason="stop" if ended else "length",
                                tokens_in=int(mask[row].sum()), tokens_out=len(tokens), model=self.model))
        return out


def _resolve(item: Any, result: Response | None = None, error: Exception | None = None) -> None:
    _, future, loop = item

    def set_it() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    loop.call_soon_threadsafe(set_it)


