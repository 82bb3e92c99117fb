"""Deterministic plant-and-seed catalogue generator for scenarios.

A scenario can list products literally or ask for ``generate: {plants: N, seeds: M}``; the
same seed always yields the same SKUs, titles and prices, so tests and demos are reproducible.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

PLANTS = (
    "Monstera Deliciosa",
    "Fiddle Leaf Fig",
    "Snake Plant",
    "Pothos Golden",
    "ZZ Plant",
    "Peace Lily",
    "Rubber Plant",
    "Calathea Orbifolia",
    "Philodendron Brasil",
    "Bird of Paradise",
    "Chinese Evergreen",
    "Spider Plant",
    "Boston Fern",
    "Parlor Palm",
    "Alocasia Polly",
    "Hoya Carnosa",
    "String of Pearls",
    "Jade Plant",
    "Aloe Vera",
    "Echeveria Lola",
    "Haworthia Zebra",
    "Ponytail Palm",
    "Dracaena Marginata",
    "Croton Petra",
    "Maranta Red",
    "Peperomia Watermelon",
    "Pilea Peperomioides",
    "Olive Tree",
    "Meyer Lemon",
    "Lavender Munstead",
    "Rosemary Arp",
    "Kentia Palm",
    "Anthurium Red",
    "Begonia Maculata",
    "Tradescantia Zebrina",
    "Syngonium Pink",
    "Dieffenbachia Camille",
    "Schefflera Arboricola",
    "Areca Palm",
    "Cast Iron Plant",
)
SEEDS = (
    "Tomato Cherokee Purple",
    "Tomato Sungold",
    "Basil Genovese",
    "Basil Thai",
    "Zinnia Benary",
    "Sunflower Mammoth",
    "Carrot Danvers",
    "Carrot Nantes",
    "Lettuce Buttercrunch",
    "Kale Lacinato",
    "Pepper Jalapeno",
    "Pepper California Wonder",
    "Cucumber Marketmore",
    "Squash Butternut",
    "Pumpkin Jack O Lantern",
    "Bean Blue Lake",
    "Pea Sugar Snap",
    "Radish Cherry Belle",
    "Beet Detroit Red",
    "Spinach Bloomsdale",
    "Cilantro Santo",
    "Dill Bouquet",
    "Parsley Italian",
    "Marigold French",
    "Cosmos Sensation",
    "Nasturtium Jewel",
    "Sweet Pea Cupani",
    "Poppy Lauren",
    "Chard Bright Lights",
    "Onion Walla Walla",
    "Melon Hales Best",
    "Watermelon Sugar Baby",
    "Corn Golden Bantam",
    "Eggplant Black Beauty",
    "Okra Clemson",
    "Arugula Rocket",
    "Broccoli Calabrese",
    "Cabbage Golden Acre",
    "Leek American Flag",
    "Chamomile German",
)
PLANT_SIZES = (('4" pot', "04", 14), ('6" pot', "06", 26), ('10" pot', "10", 58))
SEED_SIZES = (("Packet", "PK", 4), ("Bulk 1 oz", "OZ", 15))


def _code(title: str) -> str:
    words = title.upper().replace("'", "").split()
    return (words[0][:4] + "".join(w[:2] for w in words[1:]))[:8]


def generate(spec: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Products (scenario literal form) for ``spec = {plants: N, seeds: M, retailer_cost: f}``."""
    rng = random.Random(seed)
    cost_share = float(spec.get("retailer_cost", 0.9))
    products: list[dict[str, Any]] = []
    kinds = (
        ("PLT", PLANTS, PLANT_SIZES, "Greenhouse Growers"),
        ("SEED", SEEDS, SEED_SIZES, "Seed Co."),
    )
    for (prefix, names, sizes, vendor), count in zip(
        kinds, (int(spec.get("plants", 40)), int(spec.get("seeds", 40))), strict=True
    ):
        for i in range(count):
            base = names[i % len(names)]
            title = base if i < len(names) else f"{base} {chr(65 + i // len(names))}"
            variants = []
            for size_title, size_code, price in sizes:
                amount = Decimal(price) + Decimal(rng.randint(0, 400)) / 100
                variant = {
                    "sku": f"{prefix}-{_code(title)}-{i:03d}-{size_code}",
                    "title": size_title,
                    "price": str(amount.quantize(Decimal("0.01"))),
                }
                if rng.random() < cost_share:
                    variant["retailer_cost"] = str(
                        (amount * Decimal("0.55")).quantize(Decimal("0.01"))
                    )
                variants.append(variant)
            products.append({"title": title, "vendor": vendor, "variants": variants})
    return products
