"""Parse a shopper's message into Rasa's shape: intent and ranking, entities, and sentiment.

>>> parser = NluParser.load(Path(".shopbot_cache/nlu/<model>"), extractor)
>>> parser.parse("where is my order 10482?")["intent"]
{'name': 'order_status', 'confidence': 0.97}
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.nlu.entities import EntityExtractor

if TYPE_CHECKING:  # torch and transformers load with the first model, not with this module
    from bot.nlu.model import JointIntentSentiment

MAX_CHARS = 2000   # longer messages are cut before tokenising (the model reads at most max_tokens anyway)
RANKING_SIZE = 10


class NluParser:
    """Runs the joint model (one forward pass for intent and sentiment) and the entity extractor."""

    def __init__(self, model: JointIntentSentiment | None, tokenizer: Any, metadata: dict[str, Any],
                 extractor: EntityExtractor | None = None, onnx_path: Path | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.metadata = metadata
        self.extractor = extractor or EntityExtractor()
        self.intents: list[str] = metadata["intents"]
        self.sentiments: list[str] = metadata["sentiments"]
        self.oos_label: str = metadata.get("oos_label", "oos")
        self.threshold = float(metadata.get("oos_threshold", 0.0))
        self._session: Any = None
        if onnx_path is not None:
            from retrieval.onnx_encoder import onnx_session

            self._session = onnx_session(onnx_path)
        self._onnx_inputs = [i.name for i in self._session.get_inputs()] if self._session is not None else []
        # Set to parse concurrent messages in one forward pass: anything with `submit(text) -> Future[parse]`, such
        # as `bot.inference.batcher.MicroBatcher("nlu", parser.parse_batch)` (`bot.app.batch_models` does).
        self.batcher: Any = None

    @property
    def backend(self) -> str:
        """"onnx" or "torch": what runs the model."""
        return "onnx" if self._session is not None else "torch"

    @classmethod
    def load(cls, folder: Path, extractor: EntityExtractor | None = None, device: str = "cpu",
             onnx: bool = True) -> NluParser:
        """Load a trained model; on the CPU it runs through ONNX Runtime (exported on first use) unless `onnx=False`.
        Its files are checked against their checksums first (`ModelIntegrityError` when the weights are damaged)."""
        from bot.nlu.model import ONNX_FILE, export_model_onnx, load_model, seal_model, verify_model

        folder = Path(folder)
        verify_model(folder)
        model, tokenizer, metadata = load_model(folder, device)
        onnx_path = None
        if onnx and device == "cpu":
            exported = not (folder / ONNX_FILE).is_file()
            onnx_path = export_model_onnx(model, tokenizer, folder)
            if exported:  # a first or repeated export: its checksum joins the others
                metadata = seal_model(folder, metadata)
        return cls(None if onnx_path else model, tokenizer, metadata, extractor, onnx_path)  # ONNX: no torch copy

    def parse(self, text: str) -> dict[str, Any]:
        """One message; see `parse_batch`."""
        return self.parse_batch([text])[0]

    async def parse_async(self, text: str) -> dict[str, Any]:
        """`parse` off the event loop: in a batch with concurrent messages when batching is on."""
        if self.batcher is None:
            return await asyncio.to_thread(self.parse, text)
        return await asyncio.wrap_future(self.batcher.submit(text))

    def parse_batch(self, texts: list[str]) -> list[dict[str, Any]]:
        """Parse messages together (one forward pass). Never raises on odd text: empty, emoji, any script."""
        cleaned = [(t or "")[:MAX_CHARS] for t in texts]
        live = [i for i, t in enumerate(cleaned) if t.strip()]
        results: list[dict[str, Any]] = [self._empty(t) for t in cleaned]
        if live:
            intent_probs, sentiment_probs = self._probabilities([cleaned[i] for i in live])
            for row, i in enumerate(live):
                results[i] = self._result(cleaned[i], intent_probs[row], sentiment_probs[row])
        return results

    def _probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated intent and sentiment probabilities from one forward pass over non-empty texts."""
        from bot.nlu.model import softmax

        max_tokens = int(self.metadata.get("max_tokens", 64))
        if self._session is not None:
            features = self.tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="np")
            intent_logits, sentiment_logits = self._session.run(
                None, {name: features[name].astype(np.int64) for name in self._onnx_inputs})
        else:
            import torch

            with torch.inference_mode():
                features = self.tokenizer(texts, padding=True, truncation=True, max_length=max_tokens,
                                          return_tensors="pt")
                features = {k: v.to(next(self.model.parameters()).device) for k, v in features.items()}
                intent_torch, sentiment_torch = self.model(**features)
            intent_logits, sentiment_logits = intent_torch.float().cpu().numpy(), sentiment_torch.float().cpu().numpy()
        intent_probs = softmax(intent_logits / self.metadata.get("intent_temperature", 1.0))
        sentiment_probs = softmax(sentiment_logits / self.metadata.get("sentiment_temperature", 1.0))
        return intent_probs, sentiment_probs

    def sentiment_probabilities(self, texts: list[str]) -> list[dict[str, float]]:
        """Calibrated probability of each sentiment label, per text."""
        cleaned = [(t or "")[:MAX_CHARS] or " " for t in texts]
        _, sentiment_probs = self._probabilities(cleaned)
        return [{label: float(p) for label, p in zip(self.sentiments, row)} for row in sentiment_probs]

    def _result(self, text: str, intent_probs: np.ndarray, sentiment_probs: np.ndarray) -> dict[str, Any]:
        order = np.argsort(-intent_probs)[:RANKING_SIZE]
        ranking = [{"name": self.intents[j], "confidence": round(float(intent_probs[j]), 4)} for j in order]
        best = ranking[0]
        intent = dict(best)
        if best["confidence"] < self.threshold and best["name"] != self.oos_label:
            intent = {"name": self.oos_label, "confidence": round(1.0 - best["confidence"], 4)}
        sentiment = int(np.argmax(sentiment_probs))
        return {"text": text, "intent": intent, "intent_ranking": ranking, "entities": self.extractor.extract(text),
                "sentiment": {"label": self.sentiments[sentiment], "score": round(float(sentiment_probs[sentiment]), 4),
                              "probabilities": {l: round(float(p), 4) for l, p in zip(self.sentiments, sentiment_probs)}}}

    def _empty(self, text: str) -> dict[str, Any]:
        return {"text": text, "intent": {"name": self.oos_label, "confidence": 0.0}, "intent_ranking": [],
                "entities": [], "sentiment": {"label": "neutral", "score": 0.0,
                                              "probabilities": {label: 0.0 for label in self.sentiments}}}

