"""What every admin route gets: settings, the store, the proxy control, the live hub, templates."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from .brain_cache import BrainCache
from .control import Control
from .live import LiveHub
from .settings import AdminSettings

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


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
        return cls(settings, store, control, hub, Jinja2Templates(directory=str(TEMPLATES)), BrainCache(store))
