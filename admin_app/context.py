"""What every admin route gets: settings, the store, the proxy control, the live hub, templates."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.templating import Jinja2Templates

from .brain_cache import BrainCache
from .control import Control
from .live import LiveHub
from .settings import AdminSettings

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
# Bidirectional controls reorder the text around them (`U+202E` shows "evil" as "live": Trojan Source):
# in text from traffic they are shown as what they are (app.js's mimic.visible does the same in pages).
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Verbatim(str):
    """A value that goes back to the server as it is (a form field, an attribute a script sends back):
    `{{ value|verbatim }}` keeps its characters, bidirectional controls included (escaped as any value)."""


def visible_controls(value: Any) -> Any:
    """A string with its bidirectional controls written out (`<U+202E>`); anything else as it is."""
    if isinstance(value, str) and not isinstance(value, Verbatim) and _BIDI.search(value):
        if isinstance(value, Markup):  # (markup already: the marker goes in escaped)
            return Markup(_BIDI.sub(lambda m: f"&lt;U+{ord(m.group()):04X}&gt;", value))
        return _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", value)
    return value


def templates() -> Jinja2Templates:
    """The pages' templates: autoescaping (everything learned comes from strangers), bidirectional
    controls written out in every value rendered."""
    t = Jinja2Templates(directory=str(TEMPLATES))
    t.env.finalize = visible_controls
    t.env.filters["verbatim"] = lambda value: Verbatim("" if value is None else value)
    return t


@dataclass
class AdminContext:
    settings: AdminSettings
    store: Any  # mimic_addon.store.Store
    control: Control
    hub: LiveHub
    templates: Jinja2Templates  # autoescaping: everything learned comes from strangers
    brains: BrainCache

    @classmethod
    def build(cls, settings: AdminSettings, store: Any, control: Control, hub: LiveHub) -> AdminContext:
        return cls(settings, store, control, hub, templates(), BrainCache(store))
