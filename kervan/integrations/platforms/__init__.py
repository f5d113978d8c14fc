"""The platforms Kervan connects to, one folder each (see base.py for what a folder provides), named by
kervan.integrations.models.Platform: adding a platform is a new folder and a new choice there."""

from importlib import import_module

from kervan.integrations.models import Platform as PlatformChoice
from kervan.integrations.platforms.base import Platform

MODULES = {key: f"kervan.integrations.platforms.{key}" for key in PlatformChoice.values}
_loaded: dict[str, Platform] = {}


def platform_for(key: str) -> Platform:
    if key not in _loaded:
        _loaded[key] = import_module(MODULES[key]).PLATFORM
    return _loaded[key]


def available() -> dict[str, Platform]:
    return {key: platform_for(key) for key in MODULES}
