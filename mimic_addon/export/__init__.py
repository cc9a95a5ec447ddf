"""What Mimic learned, exported: one function per kind, shared by the CLI and the admin API.

Each exporter takes an ExportRequest (the open store, the loaded Brain, an optional host filter) and
returns an ExportResult: the document (text or bytes) and a one-line summary for humans.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ..learn.brain import Brain
from ..model.plural import plural


class ExportError(Exception):
    """The export cannot be produced (nothing learned, nothing recorded, a generator failed)."""


@dataclass(frozen=True)
class ExportRequest:
    store: Any  # mimic_addon.store.Store, open
    brain: Brain
    host: str | None = None
    yaml: bool = False


@dataclass(frozen=True)
class ExportResult:
    content: str | bytes
    summary: str
    media_type: str = "application/json"
    filename: str = "export.json"


def _openapi(req: ExportRequest) -> ExportResult:
    from . import openapi

    doc = openapi.from_brain(req.brain, req.host)
    if req.yaml:
        import yaml

        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=False)
        return ExportResult(text, plural(len(doc['paths']), 'path'), "application/yaml", "openapi.yaml")
    return ExportResult(json.dumps(doc, indent=2, ensure_ascii=True) + "\n", plural(len(doc['paths']), 'path'),
                        "application/json", "openapi.json")


def _learned_types(module: str) -> Callable[[ExportRequest], ExportResult]:
    """jsonschema / typescript / pydantic: the module's `export`, imported on first use (the
    Pydantic one loads datamodel-code-generator)."""
    def run(req: ExportRequest) -> ExportResult:
        import importlib

        return importlib.import_module(f".{module}", __name__).export(req)
    return run


def _recordings(req: ExportRequest, kind: str) -> ExportResult:
    """har / flows: what record mode stored, through mitmproxy's HAR exporter or flow writer."""
    from . import recordings_export

    return recordings_export.export_har(req) if kind == "har" else recordings_export.export_flows(req)


EXPORTERS: dict[str, Callable[[ExportRequest], ExportResult]] = {
    "openapi": _openapi,
    "jsonschema": _learned_types("jsonschema_doc"),
    "typescript": _learned_types("typescript"),
    "pydantic": _learned_types("pydantic_models"),
    "har": lambda req: _recordings(req, "har"),
    "flows": lambda req: _recordings(req, "flows"),
}
