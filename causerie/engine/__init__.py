"""How tokens are produced: one Engine protocol and its implementations."""

from causerie.engine.base import (
    Engine,
    EngineCapabilities,
    GenerationChunk,
    GenerationFinish,
    GenerationRequest,
    SamplingParams,
    TokenLogprob,
)

__all__ = [
    "Engine",
    "EngineCapabilities",
    "GenerationChunk",
    "GenerationFinish",
    "GenerationRequest",
    "SamplingParams",
    "TokenLogprob",
]
