"""What other apps add to a product's page, without the catalogue importing them (it sits below orders):

    register_product_panel(ProductPanel("orders", area="orders", template="orders/_product_orders.html",
                                        context=lambda actor, product: {...}, position=10))

A panel is shown to roles that may read its permission area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProductPanel:
    key: str
    area: str
    template: str
    context: Callable[[Any, Any], dict]  # (actor, product) → the template's context
    position: int = 100


_panels: dict[str, ProductPanel] = {}


def register_product_panel(panel: ProductPanel) -> None:
    if _panels.get(panel.key, panel) != panel:
        raise ValueError(f"product panel '{panel.key}' is already registered")
    _panels[panel.key] = panel


def product_panels() -> list[ProductPanel]:
    return sorted(_panels.values(), key=lambda p: (p.position, p.key))
