"""Training data for the NLU: Rasa-format `nlu.yml` (intents, inline entities, synonyms, regexes, lookup
tables), `text,label` CSV, and sentiment examples; with `rasa data validate`-style checks.

>>> data = load_nlu_data(Path("knowledge_base/demo/nlu.yml"))
>>> data.examples[0].intent, data.examples[0].text
('greet', 'hi')
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from retrieval.loaders.errors import DataError, DataIssue
from retrieval.loaders.records import compose_yaml

SENTIMENT_LABELS = ("negative", "neutral", "positive")
# [value](entity), [value](entity:synonym) or [value]{"entity": "name", "value": "synonym"}
_ANNOTATION = re.compile(r"\[(?P<value>[^\[\]]+)\](?:\((?P<short>[^()]+)\)|(?P<long>\{[^{}]*\}))")


@dataclass(frozen=True)
class EntitySpan:
    """An entity annotated in a training example (character offsets into the plain text)."""

    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    """One training sentence with its label and where it was written."""

    text: str
    label: str
    entities: tuple[EntitySpan, ...] = ()
    file: str = ""
    line: int | None = None


@dataclass
class NluData:
    """Everything an `nlu.yml` holds."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)        # variant (lowercase) -> canonical value
    regexes: dict[str, list[str]] = field(default_factory=dict)   # entity name -> patterns
    lookups: dict[str, list[str]] = field(default_factory=dict)   # entity name -> values

    @property
    def labels(self) -> list[str]:
        return sorted({e.label for e in self.examples})

    def counts(self) -> Counter[str]:
        return Counter(e.label for e in self.examples)


def parse_annotated(text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip Rasa entity annotations: `"order [10482](order_id)"` -> `("order 10482", (EntitySpan(...),))`."""
    plain, spans, last = [], [], 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[last:match.start()]
        plain.append(before)
        length += len(before)
        value = match.group("value")
        if match.group("short"):
            entity, _, synonym = match.group("short").partition(":")
        else:
            try:
                spec = json.loads(match.group("long"))
            except json.JSONDecodeError:
                raise ValueError(f"invalid entity annotation {match.group(0)!r}") from None
            entity, synonym = str(spec.get("entity", "")), str(spec.get("value", ""))
        if not entity.strip():
            raise ValueError(f"entity annotation without a name: {match.group(0)!r}")
        spans.append(EntitySpan(entity.strip(), synonym.strip() or value, length, length + len(value)))
        plain.append(value)
        length += len(value)
        last = match.end()
    plain.append(text[last:])
    result = "".join(plain)
    if re.search(r"\[[^\]]*\]\(", result) or result.count("[") != result.count("]"):
        raise ValueError("unbalanced or malformed entity annotation")
    return result, tuple(spans)


def _block_lines(node: yaml.Node) -> int:
    """First line (1-based) of a block scalar's content."""
    return node.start_mark.line + (2 if getattr(node, "style", None) in ("|", ">") else 1)


def load_nlu_data(path: Path) -> NluData:
    """Read a Rasa `nlu.yml` (or a folder of them), or a `text,label` CSV; raise `DataError` on any problem."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml", ".csv"))
        if not files:
            raise DataError([DataIssue(str(path), "no .yml or .csv training files in this folder")])
        merged, problems = NluData(), []
        for file in files:
            try:
                part = load_nlu_data(file)
            except DataError as exc:
                problems += exc.issues
                continue
            merged.examples += part.examples
            merged.synonyms.update(part.synonyms)
            for name, values in part.regexes.items():
                merged.regexes.setdefault(name, []).extend(values)
            for name, values in part.lookups.items():
                merged.lookups.setdefault(name, []).extend(values)
        if problems:
            raise DataError(problems)
        return merged
    if not path.is_file():
        raise DataError([DataIssue(str(path), "file not found")])
    if path.suffix.lower() == ".csv":
        return NluData(examples=load_labelled_csv(path))
    return _load_rasa_yaml(path)


def load_labelled_csv(path: Path, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Read a `text,label` CSV; with `labels`, any other label is an error."""
    problems: list[DataIssue] = []
    examples: list[Example] = []
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError([DataIssue(str(path), f"cannot read: {exc.strerror}")]) from None
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise DataError([DataIssue(str(path), "the header must have the columns text,label", 1)])
        line = 2
        for row in reader:
            text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
            if not text:
                problems.append(DataIssue(str(path), "missing required value", line, "text"))
            elif not label:
                problems.append(DataIssue(str(path), "missing required value", line, "label"))
            elif labels is not None and label not in labels:
                problems.append(DataIssue(str(path), f"unknown label '{label}' (use {', '.join(labels)})", line, "label"))
            else:
                examples.append(Example(text, label, file=str(path), line=line))
            line = reader.line_num + 1
    if problems:
        raise DataError(problems)
    if not examples:
        raise DataError([DataIssue(str(path), "no examples")])
    return examples


def _load_rasa_yaml(path: Path) -> NluData:
    root = compose_yaml(path)
    problems: list[DataIssue] = []
    data = NluData()
    if root is None or not isinstance(root, yaml.MappingNode):
        raise DataError([DataIssue(str(path), "expected a mapping with an 'nlu:' list", 1)])
    top = {k.value: v for k, v in root.value}
    items = top.get("nlu")
    if not isinstance(items, yaml.SequenceNode):
        raise DataError([DataIssue(str(path), "expected an 'nlu:' list", root.start_mark.line + 1, "nlu")])
    for item in items.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            problems.append(DataIssue(str(path), "each nlu item must be a mapping", line))
            continue
        fields = {k.value: v for k, v in item.value}
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in fields]
        if len(kinds) != 1:
            problems.append(DataIssue(str(path), "an nlu item needs exactly one of intent, synonym, regex, lookup", line))
            continue
        kind, name = kinds[0], str(fields[kinds[0]].value).strip()
        examples = fields.get("examples")
        if not name:
            problems.append(DataIssue(str(path), "empty name", line, kind))
            continue
        if not isinstance(examples, yaml.ScalarNode) or not str(examples.value).strip():
            problems.append(DataIssue(str(path), "missing 'examples: |' block", line, "examples"))
            continue
        first = _block_lines(examples)
        for offset, raw in enumerate(str(examples.value).splitlines()):
            entry = raw.strip()
            if not entry:
                continue
            here = first + offset
            if not entry.startswith("- "):
                problems.append(DataIssue(str(path), f"example lines start with '- ', got {entry[:30]!r}", here, "examples"))
                continue
            value = entry[2:].strip()
            if kind == "intent":
                try:
                    plain, spans = parse_annotated(value)
                except ValueError as exc:
                    problems.append(DataIssue(str(path), str(exc), here, "examples"))
                    continue
                data.examples.append(Example(plain, name, spans, str(path), here))
            elif kind == "synonym":
                data.synonyms[value.lower()] = name
            elif kind == "regex":
                try:
                    re.compile(value)
                except re.error as exc:
                    problems.append(DataIssue(str(path), f"invalid regex: {exc}", here, "examples"))
                    continue
                data.regexes.setdefault(name, []).append(value)
            else:
                data.lookups.setdefault(name, []).append(value)
    if problems:
        raise DataError(problems)
    return data


def load_sentiment_data(path: Path) -> list[Example]:
    """Sentiment examples from a `text,label` CSV or a YAML `sentiment:` list of `{label, examples: |}`."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return load_labelled_csv(path, SENTIMENT_LABELS)
    root = compose_yaml(path)
    top = {k.value: v for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}
    items = top.get("sentiment")
    if not isinstance(items, yaml.SequenceNode):
        raise DataError([DataIssue(str(path), "expected a 'sentiment:' list", 1, "sentiment")])
    problems, examples = [], []
    for item in items.value:
        fields = {k.value: v for k, v in item.value} if isinstance(item, yaml.MappingNode) else {}
        label = str(getattr(fields.get("label"), "value", "")).strip()
        if label not in SENTIMENT_LABELS:
            problems.append(DataIssue(str(path), f"unknown label '{label}' (use {', '.join(SENTIMENT_LABELS)})",
                                      item.start_mark.line + 1, "label"))
            continue
        block = fields.get("examples")
        first = _block_lines(block) if block is not None else item.start_mark.line + 1
        for offset, raw in enumerate(str(getattr(block, "value", "")).splitlines()):
            if raw.strip().startswith("- "):
                examples.append(Example(raw.strip()[2:].strip(), label, file=str(path), line=first + offset))
    if problems:
        raise DataError(problems)
    return examples


def validate_examples(examples: list[Example], min_per_label: int = 10,
                      known_labels: set[str] | None = None) -> list[DataIssue]:
    """`rasa data validate`-style checks: an example under two labels, too few examples, unknown labels."""
    issues: list[DataIssue] = []
    seen: dict[str, Example] = {}
    for example in examples:
        key = re.sub(r"\s+", " ", example.text.lower()).strip()
        first = seen.get(key)
        if first is not None and first.label != example.label:
            issues.append(DataIssue(example.file, f"example {example.text!r} is listed under '{example.label}' and "
                                                  f"'{first.label}' (line {first.line})", example.line, "examples"))
        seen.setdefault(key, example)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    for label, items in sorted(by_label.items()):
        if len(items) < min_per_label:
            issues.append(DataIssue(items[0].file, f"intent '{label}' has {len(items)} examples; at least "
                                                   f"{min_per_label} are needed", items[0].line, "intent"))
        if known_labels is not None and label not in known_labels:
            issues.append(DataIssue(items[0].file, f"intent '{label}' is not declared in the domain", items[0].line,
                                    "intent"))
    return issues
