"""Generating completions with the openai SDK: templates, concurrent requests with retries, the
Batch API, and prices.

- `run`: `generate` and its threaded run.
- `batch`: the Batch API path and `BatchRun`.
- `prices`: USD per million tokens, for ``cost_usd``.
"""
