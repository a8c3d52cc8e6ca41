"""The emulator's model list: a realistic Generative Language catalogue (v1beta ⊃ v1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_GEN = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
_GEMMA = ("generateContent", "countTokens")
_EMBED = ("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent")
_EMBED_OLD = ("embedContent",)
_AQA = ("generateAnswer",)
_PREDICT = ("predict",)
_VIDEO = ("predictLongRunning",)
_LIVE = ("bidiGenerateContent",)
_TTS = ("countTokens", "generateContent")


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue entry; ``to_json`` gives Google's ``Model`` resource."""

    id: str
    display_name: str
    description: str
    version: str
    input_limit: int
    output_limit: int
    methods: tuple[str, ...]
    in_v1: bool = True
    thinking: bool = False
    sampling: tuple[float, float, float, int] | None = (1.0, 2.0, 0.95, 40)

    @property
    def name(self) -> str:
        return f"models/{self.id}"

    def to_json(self) -> dict[str, Any]:
        model: dict[str, Any] = {
            "name": self.name,
            "baseModelId": self.id,
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if self.sampling is not None:
            temperature, max_temperature, top_p, top_k = self.sampling
            model.update(temperature=temperature, maxTemperature=max_temperature, topP=top_p)
            if top_k:
                model["topK"] = top_k
        if self.thinking:
            model["thinking"] = True
        return model


def _gemini(
    id: str, display: str, version: str, *, thinking: bool, in_v1: bool = True, output: int = 0
) -> ModelInfo:
    return ModelInfo(
        id,
        display,
        f"{display}: emulated model, answers deterministically from the prompt.",
        version,
        1_048_576,
        output or (65_536 if thinking else 8_192),
        _GEN,
        in_v1,
        thinking,
        (1.0, 2.0, 0.95, 64 if thinking else 40),
    )


def _build() -> tuple[ModelInfo, ...]:
    models: list[ModelInfo] = []
    for family, label, variants in (
        (
            "gemini-2.5-pro",
            "Gemini 2.5 Pro",
            ("", "-preview-03-25", "-preview-05-06", "-preview-06-05"),
        ),
        (
            "gemini-2.5-flash",
            "Gemini 2.5 Flash",
            ("", "-preview-04-17", "-preview-05-20", "-preview-09-2025"),
        ),
        (
            "gemini-2.5-flash-lite",
            "Gemini 2.5 Flash-Lite",
            ("", "-preview-06-17", "-preview-09-2025"),
        ),
        ("gemini-2.5-flash-image", "Gemini 2.5 Flash Image", ("", "-preview")),
    ):
        for suffix in variants:
            version = "2.5" if not suffix else f"2.5{suffix}"
            display = f"{label} {suffix[1:].replace('preview', 'Preview').replace('-', ' ', 1)}"
            models.append(_gemini(family + suffix, display.strip(), version, thinking=True))
    for alias, label in (
        ("gemini-pro-latest", "Gemini Pro Latest"),
        ("gemini-flash-latest", "Gemini Flash Latest"),
        ("gemini-flash-lite-latest", "Gemini Flash-Lite Latest"),
    ):
        models.append(_gemini(alias, label, "latest", thinking=True))
    for id_, label, thinking in (
        ("gemini-2.0-flash", "Gemini 2.0 Flash", False),
        ("gemini-2.0-flash-001", "Gemini 2.0 Flash 001", False),
        ("gemini-2.0-flash-exp", "Gemini 2.0 Flash Experimental", False),
        ("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", False),
        ("gemini-2.0-flash-lite-001", "Gemini 2.0 Flash-Lite 001", False),
        ("gemini-2.0-flash-lite-preview", "Gemini 2.0 Flash-Lite Preview", False),
        ("gemini-2.0-flash-lite-preview-02-05", "Gemini 2.0 Flash-Lite Preview 02-05", False),
        ("gemini-2.0-flash-thinking-exp", "Gemini 2.0 Flash Thinking Experimental", True),
        ("gemini-2.0-flash-thinking-exp-01-21", "Gemini 2.0 Flash Thinking Exp 01-21", True),
        ("gemini-2.0-flash-thinking-exp-1219", "Gemini 2.0 Flash Thinking Exp 1219", True),
        ("gemini-2.0-pro-exp", "Gemini 2.0 Pro Experimental", True),
        ("gemini-2.0-pro-exp-02-05", "Gemini 2.0 Pro Experimental 02-05", True),
        ("gemini-exp-1206", "Gemini Experimental 1206", True),
        ("gemini-2.0-flash-exp-image-generation", "Gemini 2.0 Flash Image Generation", False),
        ("gemini-2.0-flash-preview-image-generation", "Gemini 2.0 Flash Image Preview", False),
    ):
        models.append(_gemini(id_, label, "2.0", thinking=thinking))
    for id_, label, version in (
        ("gemini-1.0-pro", "Gemini 1.0 Pro", "001"),
        ("gemini-1.0-pro-001", "Gemini 1.0 Pro 001 (Tuning)", "001"),
        ("gemini-1.0-pro-latest", "Gemini 1.0 Pro Latest", "001"),
        ("gemini-pro", "Gemini Pro", "001"),
        ("gemini-1.0-pro-vision-latest", "Gemini 1.0 Pro Vision", "001"),
        ("gemini-pro-vision", "Gemini 1.0 Pro Vision", "001"),
        ("gemini-1.5-pro", "Gemini 1.5 Pro", "001"),
        ("gemini-1.5-pro-001", "Gemini 1.5 Pro 001", "001"),
        ("gemini-1.5-pro-002", "Gemini 1.5 Pro 002", "002"),
        ("gemini-1.5-pro-latest", "Gemini 1.5 Pro Latest", "001"),
        ("gemini-1.5-flash", "Gemini 1.5 Flash", "001"),
        ("gemini-1.5-flash-001", "Gemini 1.5 Flash 001", "001"),
        ("gemini-1.5-flash-002", "Gemini 1.5 Flash 002", "002"),
        ("gemini-1.5-flash-latest", "Gemini 1.5 Flash Latest", "001"),
        ("gemini-1.5-flash-8b", "Gemini 1.5 Flash-8B", "001"),
        ("gemini-1.5-flash-8b-001", "Gemini 1.5 Flash-8B 001", "001"),
        ("gemini-1.5-flash-8b-latest", "Gemini 1.5 Flash-8B Latest", "001"),
    ):
        models.append(_gemini(id_, label, version, thinking=False))
    for id_, label in (
        ("gemma-3-1b-it", "Gemma 3 1B"),
        ("gemma-3-4b-it", "Gemma 3 4B"),
        ("gemma-3-12b-it", "Gemma 3 12B"),
        ("gemma-3-27b-it", "Gemma 3 27B"),
        ("gemma-3n-e2b-it", "Gemma 3n E2B"),
        ("gemma-3n-e4b-it", "Gemma 3n E4B"),
    ):
        models.append(
            ModelInfo(id_, label, f"{label}: emulated open model.", "001", 32_768, 8_192, _GEMMA)
        )
    models += [
        ModelInfo(
            "embedding-001",
            "Embedding 001",
            "Obtain a distributed representation of a text.",
            "001",
            2_048,
            1,
            _EMBED_OLD,
            sampling=None,
        ),
        ModelInfo(
            "text-embedding-004",
            "Text Embedding 004",
            "Obtain a distributed representation of a text.",
            "004",
            2_048,
            1,
            _EMBED_OLD,
            sampling=None,
        ),
        ModelInfo(
            "gemini-embedding-001",
            "Gemini Embedding 001",
            "Obtain a distributed representation of a text.",
            "001",
            2_048,
            1,
            _EMBED,
            sampling=None,
        ),
    ]
    beta_only = [
        ("gemini-embedding-exp", "Gemini Embedding Experimental", _EMBED, 8_192, 1),
        ("gemini-embedding-exp-03-07", "Gemini Embedding Experimental 03-07", _EMBED, 8_192, 1),
        ("aqa", "Model that performs Attributed Question Answering.", _AQA, 7_168, 1_024),
        ("imagen-3.0-generate-002", "Imagen 3.0", _PREDICT, 480, 8_192),
        ("imagen-4.0-generate-001", "Imagen 4", _PREDICT, 480, 8_192),
        ("imagen-4.0-ultra-generate-001", "Imagen 4 Ultra", _PREDICT, 480, 8_192),
        ("imagen-4.0-fast-generate-001", "Imagen 4 Fast", _PREDICT, 480, 8_192),
        ("imagen-4.0-generate-preview-06-06", "Imagen 4 (Preview)", _PREDICT, 480, 8_192),
        (
            "imagen-4.0-ultra-generate-preview-06-06",
            "Imagen 4 Ultra (Preview)",
            _PREDICT,
            480,
            8_192,
        ),
        ("veo-2.0-generate-001", "Veo 2", _VIDEO, 480, 8_192),
        ("veo-3.0-generate-preview", "Veo 3", _VIDEO, 1_024, 8_192),
        ("veo-3.0-fast-generate-preview", "Veo 3 fast", _VIDEO, 1_024, 8_192),
        ("gemini-2.0-flash-live-001", "Gemini 2.0 Flash 001 Live", _LIVE, 131_072, 8_192),
        ("gemini-live-2.5-flash-preview", "Gemini Live 2.5 Flash Preview", _LIVE, 131_072, 8_192),
        ("gemini-2.5-flash-preview-tts", "Gemini 2.5 Flash Preview TTS", _TTS, 8_192, 16_384),
        ("gemini-2.5-pro-preview-tts", "Gemini 2.5 Pro Preview TTS", _TTS, 8_192, 16_384),
        (
            "learnlm-2.0-flash-experimental",
            "LearnLM 2.0 Flash Experimental",
            _GEN,
            1_048_576,
            32_768,
        ),
        (
            "gemini-robotics-er-1.5-preview",
            "Gemini Robotics-ER 1.5 Preview",
            _GEN,
            1_048_576,
            65_536,
        ),
        (
            "gemini-2.5-computer-use-preview-10-2025",
            "Gemini 2.5 Computer Use Preview",
            _GEN,
            131_072,
            65_536,
        ),
    ]
    for id_, label, methods, input_limit, output_limit in beta_only:
        generative = "generateContent" in methods
        models.append(
            ModelInfo(
                id_,
                label,
                f"{label}: emulated, listed in v1beta only.",
                "001",
                input_limit,
                output_limit,
                methods,
                in_v1=False,
                sampling=(1.0, 2.0, 0.95, 64) if generative else None,
            )
        )
    return tuple(models)


MODELS: tuple[ModelInfo, ...] = _build()
_BY_ID = {m.id: m for m in MODELS}


def list_models(version: str) -> tuple[ModelInfo, ...]:
    """Models listed under ``version`` ("v1" or "v1beta"), in a stable order."""
    return MODELS if version == "v1beta" else tuple(m for m in MODELS if m.in_v1)


def find_model(version: str, model_id: str) -> ModelInfo | None:
    """The model ``model_id`` if ``version`` serves it."""
    model = _BY_ID.get(model_id)
    return model if model is not None and (model.in_v1 or version == "v1beta") else None
