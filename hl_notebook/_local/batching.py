"""Continuous batching for one loaded causal LM: many requests share each forward pass.

One worker thread per model runs the loop. Each turn it either admits waiting sequences (one
prefill forward over their left-padded prompts, whose key/value cache is then left-padded to the
running batch's length and joined to it) or runs one decode step for every running sequence. A
sequence that finishes (end-of-turn token, stop string, or ``max_tokens``) leaves the batch at once
and its request is answered as soon as its last sequence is done, so a request that arrives while
others are generating joins them at the next step instead of waiting for the batch to drain.
Cache columns that became padding for every remaining row are cut off, so the cache stays as long
as the longest running sequence. (Models whose cache is not the plain dynamic one, e.g. sliding-
window layers, fall back to admitting new sequences only when the batch is empty.)

Sampling follows the OpenAI API: ``temperature`` 0 is greedy; ``top_p`` keeps the smallest set of
tokens whose probability reaches it; ``presence_penalty``/``frequency_penalty`` and ``logit_bias``
adjust logits as OpenAI documents; ``seed`` drives a per-sequence generator, so a seeded request
gives the same text whatever else shares its batch (up to float rounding, which differs with batch
shape on some kernels).

`Engine.stats` counts the batch size of every decode step and prefill, for tests and benchmarks.
"""

from __future__ import annotations

import inspect
import queue
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Engine", "EngineClosed", "Request", "Sampling"]


class EngineClosed(RuntimeError):
    """The engine was stopped before the request finished."""


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens for one request (already validated)."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()


@dataclass
class Choice:
    """One generated sequence's result."""

    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" or "length"


class Request:
    """A prompt and its ``n`` sequences; `wait` returns the choices once all have finished."""

    def __init__(self, prompt_ids: list[int], sampling: Sampling, n: int, *, stream: bool = False) -> None:
        self.prompt_ids = list(prompt_ids)
        #: with ``stream``: ``(choice index, new text, finish_reason or None)`` as text becomes final
        self.events: queue.Queue[tuple[int, str, str | None]] | None = queue.Queue() if stream else None
        self.cancelled = False  # set by the reader (a streaming client went away): stop generating
        self.sampling = sampling
        self.n = n
        self.choices: list[Choice | None] = [None] * n
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._left = n
        self.submitted = time.perf_counter()

    def wait(self, timeout: float | None = None) -> list[Choice]:
        if not self.done.wait(timeout):
            raise TimeoutError("the local model did not finish in time")
        if self.error is not None:
            raise self.error
        return [c for c in self.choices if c is not None]

    def _finish_one(self, index: int, choice: Choice) -> None:
        self.choices[index] = choice
        self._left -= 1
        if self._left == 0:
            self.done.set()

    def _fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


@dataclass(eq=False)
class _Seq:
    request: Request
    index: int
    generator: Any  # torch.Generator or None (greedy)
    out_ids: list[int] = field(default_factory=list)
    text: str = ""
    sent: int = 0  # characters of text already streamed
    last: int = -1  # the token sampled last, fed to the model next step
    finish: str | None = None
    counts: Any = None  # token counts for the penalties (a tensor), when needed


class Engine:
    """Runs one model's generation loop on a worker thread; `submit` is thread-safe.

    Parameters
    ----------
    model, tokenizer
        A loaded causal LM (eval mode) and its tokenizer.
    max_batch
        Most sequences decoded together.
    name
        For the thread's name and messages.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_batch: int = 16, name: str = "model") -> None:
        import torch

        self.model, self.tokenizer, self.max_batch, self.name = model, tokenizer, max_batch, name
        self.device = next(model.parameters()).device
        config = model.config
        self.context = int(getattr(config, "max_position_embeddings", 0) or 2048)
        eos = set()
        for source in (getattr(model, "generation_config", None), tokenizer):
            value = getattr(source, "eos_token_id", None)
            eos.update([value] if isinstance(value, int) else list(value or []))
        self.eos_ids = frozenset(int(e) for e in eos)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids or {0})
        self.vocab = int(model.get_output_embeddings().weight.shape[0])
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._torch = torch
        self._cond = threading.Condition()
        self._pending: deque[_Seq] = deque()
        self._rows: list[_Seq] = []
        self._cache: Any = None
        self._mask: Any = None  # [rows, cache length + 1]: 1 where the cache (or the fed token) is real
        self._joinable = True
        self._closed = False
        self._stats_lock = threading.Lock()
        self._decode_sizes: Counter[int] = Counter()
        self._prefill_sizes: Counter[int] = Counter()
        self._joined_running = 0
        self._requests = self._sequences = self._prompt_tokens = self._completion_tokens = 0
        self._thread = threading.Thread(target=self._loop, name=f"hl-local-{name}", daemon=True)
        self._thread.start()

    # -- the public side ------------------------------------------------------------------

    def submit(self, prompt_ids: list[int], sampling: Sampling, n: int = 1, *, stream: bool = False) -> Request:
        """Queue a prompt for ``n`` sequences; returns at once (call ``.wait()`` on the result, and
        with ``stream`` read ``.events`` as the text grows)."""
        request = Request(prompt_ids, sampling, n, stream=stream)
        seqs = [_Seq(request, i, self._generator(sampling, i)) for i in range(n)]
        with self._cond:
            if self._closed:
                raise EngineClosed(f"the local server for {self.name!r} has stopped")
            self._pending.extend(seqs)
            with self._stats_lock:
                self._requests += 1
                self._sequences += n
                self._prompt_tokens += len(prompt_ids)
            self._cond.notify()
        return request

    def stats(self) -> dict[str, Any]:
        """Counts since start: ``decode_batch_sizes`` ({rows: decode steps}), ``prefill_batch_sizes``
        ({rows: prefills}), ``joined_running`` (prefills that joined a batch already generating),
        ``requests``, ``sequences``, ``prompt_tokens``, ``completion_tokens``, ``max_batch``."""
        with self._stats_lock:
            return {
                "decode_batch_sizes": dict(sorted(self._decode_sizes.items())),
                "prefill_batch_sizes": dict(sorted(self._prefill_sizes.items())),
                "joined_running": self._joined_running,
                "requests": self._requests,
                "sequences": self._sequences,
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "max_batch": self.max_batch,
                "continuous": self._joinable,
            }

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop; requests not finished get `EngineClosed`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        error = EngineClosed(f"the local server for {self.name!r} has stopped")
        for seq in list(self._pending) + list(self._rows):
            seq.request._fail(error)

    # -- sampling -------------------------------------------------------------------------

    def _generator(self, sampling: Sampling, index: int) -> Any:
        if sampling.temperature == 0:
            return None
        gen = self._torch.Generator(device="cpu")
        base = sampling.seed if sampling.seed is not None else secrets.randbits(62)
        gen.manual_seed((base * 1_000_003 + index) % (2**63 - 1))
        return gen

    def _pick(self, seqs: list[_Seq], logits: Any) -> list[int]:
        """The next token of each sequence from its row of ``logits`` [rows, vocab] (float32)."""
        torch = self._torch
        greedy = logits.argmax(dim=-1).tolist()
        out = []
        for i, seq in enumerate(seqs):
            s = seq.request.sampling
            plain = not (s.presence_penalty or s.frequency_penalty or s.logit_bias)
            if s.temperature == 0 and plain:
                out.append(int(greedy[i]))
                continue
            row = logits[i].clone()
            if s.presence_penalty or s.frequency_penalty:
                if seq.counts is not None:
                    row -= seq.counts * s.frequency_penalty + (seq.counts > 0).float() * s.presence_penalty
            for token, bias in s.logit_bias:
                row[token] += bias
            if s.temperature == 0:
                out.append(int(row.argmax()))
                continue
            row = row / s.temperature
            probs = torch.softmax(row, dim=-1)
            if s.top_p < 1.0:
                sorted_p, order = probs.sort(descending=True)
                keep = (sorted_p.cumsum(0) - sorted_p) < s.top_p  # the smallest set reaching top_p
                keep[0] = True
                probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_p[keep])
            out.append(int(torch.multinomial(probs.cpu(), 1, generator=seq.generator)))
        return out

    def _accept(self, seq: _Seq, token: int) -> None:
        """Add ``token`` to ``seq``; set ``finish`` when it ends the sequence; stream new text."""
        self._grow(seq, token)
        events = seq.request.events
        if events is None:
            return
        if seq.finish is not None:
            end = len(seq.text)
        else:  # hold back what may still become a stop string or a multi-byte character
            stops = seq.request.sampling.stop
            end = len(seq.text) - (max(map(len, stops)) - 1 if stops else 0)
            if seq.text.endswith("\ufffd"):
                end = min(end, len(seq.text) - 1)
        if end > seq.sent or seq.finish is not None:
            events.put((seq.index, seq.text[seq.sent:max(end, seq.sent)], seq.finish))
            seq.sent = max(end, seq.sent)

    def _grow(self, seq: _Seq, token: int) -> None:
        s = seq.request.sampling
        if seq.request.cancelled:
            seq.finish = "stop"
            return
        if token in self.eos_ids:
            seq.finish = "stop"
            return
        seq.out_ids.append(token)
        seq.last = token
        if s.presence_penalty or s.frequency_penalty:
            if seq.counts is None:
                seq.counts = self._torch.zeros(self.vocab, device=self.device)
            seq.counts[token] += 1
        seq.text = self.tokenizer.decode(seq.out_ids, skip_special_tokens=True)
        if s.stop:
            cuts = [seq.text.find(stop) for stop in s.stop]
            cuts = [c for c in cuts if c >= 0]
            if cuts:
                seq.text = seq.text[: min(cuts)]
                seq.finish = "stop"
                return
        if len(seq.out_ids) >= s.max_tokens:
            seq.finish = "length"

    # -- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        torch = self._torch
        while True:
            with self._cond:
                while not self._closed and not self._pending and not self._rows:
                    self._cond.wait()
                if self._closed:
                    return
                room = self.max_batch - len(self._rows)
                admit: list[_Seq] = []
                if self._pending and room > 0 and (self._joinable or not self._rows):
                    while self._pending and len(admit) < room:
                        admit.append(self._pending.popleft())
            try:
                with torch.inference_mode():
                    if admit:
                        self._prefill(admit)
                    else:
                        self._decode()
                    self._retire()
            except BaseException as exc:  # the batch is lost: fail its requests, start afresh
                for seq in self._rows + admit:
                    seq.request._fail(exc)
                self._rows, self._cache, self._mask = [], None, None
                if not isinstance(exc, Exception):
                    raise

    def _forward(self, input_ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                         use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[:, -1, :].float()

    def _prefill(self, seqs: list[_Seq]) -> None:
        torch = self._torch
        from transformers import DynamicCache

        longest = max(len(s.request.prompt_ids) for s in seqs)
        ids = torch.full((len(seqs), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), longest), dtype=torch.long)
        for i, s in enumerate(seqs):
            p = s.request.prompt_ids
            ids[i, longest - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, longest - len(p):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(ids, mask, positions, cache)
        for seq, token in zip(seqs, self._pick(seqs, logits), strict=True):
            self._accept(seq, token)
        joined = bool(self._rows)
        with self._stats_lock:
            self._prefill_sizes[len(seqs)] += 1
            self._joined_running += joined
        if not self._rows:
            self._rows, self._cache, self._mask = list(seqs), cache, mask
            self._joinable = all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers)
            return
        self._join(seqs, cache, mask)

    def _join(self, seqs: list[_Seq], cache: Any, mask: Any) -> None:
        """Put freshly prefilled rows beside the running ones: left-pad the shorter cache."""
        torch = self._torch
        have, new = self._mask.shape[1], mask.shape[1]
        length = max(have, new)

        def pad(t: Any, by: int) -> Any:  # [rows, heads, length, dim] or [rows, length]
            if by == 0:
                return t
            shape = list(t.shape)
            shape[-2 if t.dim() == 4 else -1] = by
            return torch.cat([t.new_zeros(shape), t], dim=-2 if t.dim() == 4 else -1)

        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            old_layer.keys = torch.cat([pad(old_layer.keys, length - have), pad(new_layer.keys, length - new)])
            old_layer.values = torch.cat([pad(old_layer.values, length - have),
                                          pad(new_layer.values, length - new)])
        self._mask = torch.cat([pad(self._mask, length - have), pad(mask, length - new)])
        self._rows.extend(seqs)

    def _decode(self) -> None:
        torch = self._torch
        rows = self._rows
        ids = torch.tensor([[s.last] for s in rows], dtype=torch.long, device=self.device)
        positions = self._mask.sum(-1, keepdim=True)  # the fed token's position: real tokens before it
        self._mask = torch.cat([self._mask, self._mask.new_ones((len(rows), 1))], dim=-1)
        logits = self._forward(ids, self._mask, positions, self._cache)
        for seq, token in zip(rows, self._pick(rows, logits), strict=True):
            self._accept(seq, token)
        with self._stats_lock:
            self._decode_sizes[len(rows)] += 1

    def _retire(self) -> None:
        """Answer finished sequences and drop them (and all-padding cache columns) from the batch."""
        torch = self._torch
        done = [i for i, s in enumerate(self._rows) if s.finish is not None]
        if not done:
            return
        for i in done:
            seq = self._rows[i]
            with self._stats_lock:
                self._completion_tokens += len(seq.out_ids)
            seq.request._finish_one(seq.index, Choice(seq.text, list(seq.out_ids), seq.finish or "stop"))
        keep = [i for i, s in enumerate(self._rows) if s.finish is None]
        if not keep:
            self._rows, self._cache, self._mask = [], None, None
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self._cache.batch_select_indices(index)
        self._mask = self._mask[index]
        self._rows = [self._rows[i] for i in keep]
        if self._joinable:
            real = self._mask.any(dim=0)
            first = int(real.nonzero()[0]) if bool(real.any()) else 0
            if first > 0:
                for layer in self._cache.layers:
                    layer.keys = layer.keys[:, :, first:, :]
                    layer.values = layer.values[:, :, first:, :]
                self._mask = self._mask[:, first:]
