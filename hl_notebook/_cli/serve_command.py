"""``hl-notebook serve``: a local model behind an OpenAI-compatible API, until Ctrl+C."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from .common import CLIError
from .output import say


def add_serve(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a local model (SmolLM2, a model folder or a LoRA adapter) with an OpenAI-compatible API",
        description=(
            "Serve a model on this machine at an OpenAI-compatible endpoint (POST /v1/chat/completions,\n"
            "GET /v1/models), batching concurrent requests together. MODEL is 'smollm2' (default), a\n"
            "Hugging Face causal-LM folder, or a LoRA adapter folder. No API key is checked: keep the\n"
            "default host 127.0.0.1 unless every machine that can reach the port may use it."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", nargs="?", default="smollm2", metavar="MODEL",
                   help="'smollm2' (default), a model folder, or an adapter folder")
    p.add_argument("--adapter", metavar="DIR", default=None, help="a LoRA adapter folder to put on MODEL")
    p.add_argument("--port", type=int, default=8000, metavar="N",
                   help="the port (default: 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    p.add_argument("--max-batch", type=int, default=16, metavar="N",
                   help="most sequences generated together (default: 16)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="PyTorch CPU threads (default: PyTorch's choice, one per core; on a busy "
                        "machine fewer threads than cores is often faster)")
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from .._local.server import LocalServer

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be from 0 to 65535; got {args.port}.")
    if args.max_batch < 1:
        raise CLIError(f"--max-batch must be at least 1; got {args.max_batch}.")
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be at least 1; got {args.threads}.")
        from .._local.models import require

        require("torch")
        import torch

        torch.set_num_threads(args.threads)
    server = LocalServer(args.host, args.port, max_batch=args.max_batch)
    try:
        server.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
                       "pick another with --port N (0 for a free one).") from None
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        say(f"loading {args.model}" + (f" with the adapter {args.adapter}" if args.adapter else "")
            + " ...")
        name = server.serve(args.model, adapter=args.adapter)
        say(f"Serving {name!r} at {server.url} (OpenAI-compatible; no API key needed). "
              "Press Ctrl+C to stop.")
        say("In another notebook:")
        say(f'    client = openai.OpenAI(base_url="{server.url}", api_key="unused")')
        say(f'    hl.generate(df, "{{prompt}}", model="{name}", client=client)')
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    say("stopped")
    return 0
