"""What the chat language check costs when the language is right (no model involved).

Prints the time of one language detection and of one request's plan (detection of the user's
message plus the scan for language names), for short and long texts.

    .venv/bin/python benchmarks/bench_language.py
"""

from __future__ import annotations

import time

from causerie.language import detect
from causerie.protocol.openai import ChatCompletionRequest

TEXTS = {
    "fr, 1 sentence": "Peux-tu m'expliquer comment fonctionne la photosynthèse des plantes ?",
    "ja, 1 sentence": "富士山について一文で教えてください。日本で一番高い山ですか？",
    "fr, 5 kB": "La photosynthèse transforme la lumière en énergie chimique pour la plante. " * 70,
}


def per_call(function, repeat: int = 300) -> float:
    function()  # warm-up (loads the fastText model once)
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    from causerie.services.consistency import plan_for

    print(f"{'text':<16} {'detect (µs)':>12} {'plan (µs)':>10}")
    for name, text in TEXTS.items():
        request = ChatCompletionRequest(messages=[{"role": "user", "content": text}])
        print(
            f"{name:<16} {per_call(lambda text=text: detect(text)):>12.0f} {per_call(lambda request=request: plan_for(request)):>10.0f}"
        )
    print(
        "A checked reply costs one plan, then one detection per piece until its start is judged (a few pieces):"
        " compare with ~40 ms per decoded token. Time to first token: benchmarks/bench_language_ttft.py."
    )


if __name__ == "__main__":
    main()
