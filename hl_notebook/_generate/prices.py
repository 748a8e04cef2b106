"""What a model costs per million tokens, for the ``cost_usd`` column of `generate`.

Source: OpenAI's public API pricing page (standard tier, text tokens, USD per 1M tokens),
transcribed as listed in 2025-06 and not re-checked since (this project's machines have no
network). Prices change: check your provider's page and override with `set_price`. Cached-input
discounts, the Batch API's 50 % discount and other tiers are not applied. A model with no entry
gets ``cost_usd = NaN``: hl_notebook never guesses a price.
"""

from __future__ import annotations

import math
import re

from .._schema import HLValueError, describe

__all__ = ["PRICES", "PRICES_AS_OF", "PRICES_SOURCE", "cost_usd", "price_of", "set_price"]

PRICES_SOURCE = "OpenAI API pricing page (standard tier, text tokens)"
PRICES_AS_OF = "2025-06"

#: model -> (USD per 1M input tokens, USD per 1M output tokens). Extend with `set_price` or by
#: assigning ``hl.PRICES["my-model"] = (0.2, 0.8)``.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}

_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def set_price(model: str, *, input_per_1m: float, output_per_1m: float) -> None:
    """Set what ``model`` costs in USD per million input and output tokens.

    Examples
    --------
    >>> import hl_notebook as hl
    >>> hl.set_price("my-vllm-model", input_per_1m=0.0, output_per_1m=0.0)
    >>> hl.PRICES["my-vllm-model"]
    (0.0, 0.0)
    """
    if not isinstance(model, str) or not model.strip():
        raise HLValueError(f"model must be a non-empty string; got {describe(model)}.")
    prices = []
    for name, value in (("input_per_1m", input_per_1m), ("output_per_1m", output_per_1m)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise HLValueError(f"{name} must be a price in USD per 1M tokens (a number >= 0); got {describe(value)}.")
        prices.append(float(value))
    PRICES[model] = (prices[0], prices[1])


def price_of(model: str | None) -> tuple[float, float] | None:
    """The price of ``model``, of its undated name (``gpt-4o-2024-08-06`` -> ``gpt-4o``), or None.

    Fine-tuned models (``ft:...``) are priced only when their full id is in `PRICES`.
    """
    if not isinstance(model, str):
        return None
    if model in PRICES:
        return PRICES[model]
    if model.startswith("ft:"):
        return None
    undated = _DATED.sub("", model)
    return PRICES.get(undated)


def cost_usd(model: str | None, prompt_tokens: float | None, completion_tokens: float | None) -> float:
    """USD for one request, or NaN when the model's price or the token counts are unknown."""
    price = price_of(model)
    if price is None or prompt_tokens is None or completion_tokens is None:
        return math.nan
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
