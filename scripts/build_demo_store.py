#!/usr/bin/env python3
"""Build the Pinecrest Outfitters demo store data (catalog, categories, product images, orders).

Deterministic: one seeded ``random.Random(2026)`` (and the history its own ``random.Random(HISTORY_SEED)``, run
last, so the other files do not depend on it), no network, no clock (all dates are anchored at the
constant TODAY below). Re-running it rewrites byte-identical files and removes stale product images.

Writes, under knowledge_base/demo/:
    catalog.jsonl      one product per line
    categories.yml     the 10 categories with a description and complementary categories
    images/P*.svg      one small placeholder image per product
    orders.json        {"customers": [...], "orders": [...]}
    history.csv        shopper,timestamp,event,product_id: 3,000 shoppers' browsing and purchases (personas,
                       browse-then-buy sessions, complements after a purchase, repeating brand/colour/size)
    reviews.jsonl      product reviews written from templates (its own seed): each product's count and mean
                       stars are its review_count and rating; some "waterproof" boots and jackets leak, some
                       shoes run small

Store facts (shipping prices and carriers, free-shipping thresholds, order statuses, payment methods,
international countries) are read from knowledge_base/demo/store.yml so the orders always agree with it.

Usage: python3.11 scripts/build_demo_store.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "knowledge_base" / "demo"
SEED = 2026
TODAY = date(2026, 11, 20)
NOW = datetime.combine(TODAY, time(9, 0))          # store time (America/New_York)
ORDERS_FROM = datetime(2026, 8, 1, 7, 0)
FIRST_PRODUCT_ID = 1001
FIRST_ORDER_ID = 10401
TAX_RATE = Decimal("0.07")
CENT = Decimal("0.01")
HOLIDAYS = {date(2026, 9, 7)}                      # Labor Day: no pickups or deliveries

CATEGORIES = [
    "Running Shoes", "Hiking Footwear", "Jackets & Outerwear", "Tops & Base Layers", "Pants & Shorts",
    "Backpacks & Bags", "Camping & Tents", "Electronics", "Hydration & Kitchen", "Accessories",
]

CATEGORY_INFO = {
    "Running Shoes": ("Road, trail, racing and recovery shoes for every pace and surface.",
                      ["Accessories", "Tops & Base Layers", "Hydration & Kitchen", "Electronics"]),
    "Hiking Footwear": ("Boots, hiking shoes, sandals and camp shoes for trails, scrambles and snow.",
                        ["Accessories", "Backpacks & Bags", "Pants & Shorts"]),
    "Jackets & Outerwear": ("Rain shells, insulated jackets, fleece and wind layers for changing weather.",
                            ["Tops & Base Layers", "Accessories", "Pants & Shorts"]),
    "Tops & Base Layers": ("Running tees, merino base layers, sun shirts and hoodies that manage sweat and temperature.",
                           ["Jackets & Outerwear", "Pants & Shorts", "Running Shoes"]),
    "Pants & Shorts": ("Hiking pants, running shorts and tights, joggers and rain pants built to move.",
                       ["Tops & Base Layers", "Hiking Footwear", "Running Shoes", "Accessories"]),
    "Backpacks & Bags": ("Daypacks, backpacking packs, running vests, travel duffels and everyday bags.",
                         ["Hydration & Kitchen", "Camping & Tents", "Electronics"]),
    "Camping & Tents": ("Tents, sleeping bags, sleeping pads, camp furniture and lanterns for nights outside.",
                        ["Hydration & Kitchen", "Electronics", "Backpacks & Bags"]),
    "Electronics": ("Headphones, earbuds, GPS sport watches, headlamps, power banks and portable speakers.",
                    ["Running Shoes", "Camping & Tents", "Backpacks & Bags"]),
    "Hydration & Kitchen": ("Water bottles, travel mugs, camp stoves, cookware and water filters.",
                            ["Camping & Tents", "Backpacks & Bags", "Running Shoes"]),
    "Accessories": ("Socks, hats, gloves, sunglasses, belts, gaiters and trekking poles to finish the kit.",
                    ["Running Shoes", "Hiking Footwear", "Jackets & Outerwear", "Pants & Shorts"]),
}

# Invented brands; each appears only in the categories listed in BRAND_CATEGORIES (checked at build time).
BRAND_CATEGORIES = {
    "Pinecrest": ["Tops & Base Layers", "Pants & Shorts", "Backpacks & Bags", "Hydration & Kitchen", "Accessories"],
    "Summitline": ["Jackets & Outerwear", "Hiking Footwear", "Backpacks & Bags", "Camping & Tents"],
    "Ridgeway": ["Hiking Footwear", "Pants & Shorts", "Accessories"],
    "Kestrel": ["Running Shoes", "Tops & Base Layers", "Pants & Shorts", "Accessories"],
    "Tidewater": ["Jackets & Outerwear", "Backpacks & Bags", "Hydration & Kitchen"],
    "Northfork": ["Camping & Tents", "Hydration & Kitchen", "Backpacks & Bags"],
    "Alder & Co": ["Tops & Base Layers", "Pants & Shorts", "Backpacks & Bags", "Hydration & Kitchen", "Accessories"],
    "Voltline": ["Electronics"],
    "Stridewell": ["Running Shoes", "Accessories"],
    "Talon Peak": ["Jackets & Outerwear", "Hiking Footwear", "Camping & Tents", "Accessories"],
    "Boreal Works": ["Jackets & Outerwear", "Tops & Base Layers", "Accessories"],
    "Fernbrook": ["Tops & Base Layers", "Pants & Shorts", "Jackets & Outerwear"],
    "Cadence Audio": ["Electronics"],
    "Meridian Sport": ["Electronics", "Running Shoes"],
    "Lumen Trail": ["Electronics", "Camping & Tents"],
    "Basalt": ["Camping & Tents", "Hydration & Kitchen"],
    "Driftline": ["Backpacks & Bags", "Accessories"],
    "Copperleaf": ["Hydration & Kitchen"],
    "Switchback": ["Hiking Footwear", "Running Shoes"],
    "Emberline": ["Hydration & Kitchen", "Camping & Tents"],
}

PALETTE_HEX = {
    "black": "#2f3437", "white": "#eeeeea", "grey": "#8a9099", "navy": "#1f3a5f", "blue": "#3b7dd8",
    "red": "#c8453b", "green": "#3f8f4e", "olive": "#6b7233", "orange": "#e07b2a", "yellow": "#e8c547",
    "purple": "#7652a8", "pink": "#e58fb0", "brown": "#7a5034", "tan": "#c8a97e", "teal": "#2a9d8f",
}
LIGHT_COLORS = {"white", "yellow", "tan", "pink"}

COLOR_SETS = {
    "bright": ["black", "white", "grey", "navy", "blue", "red", "green", "orange", "yellow", "purple", "pink", "teal"],
    "earth": ["black", "grey", "navy", "green", "olive", "brown", "tan", "orange", "red", "blue", "teal"],
    "apparel": ["black", "white", "grey", "navy", "blue", "red", "green", "olive", "purple", "pink", "teal", "tan"],
    "gear": ["black", "grey", "navy", "blue", "green", "olive", "orange", "red", "tan", "teal"],
    "tech": ["black", "white", "grey", "navy", "blue", "red", "green", "teal"],
    "kitchen": ["black", "white", "grey", "navy", "blue", "red", "green", "olive", "orange", "yellow", "teal", "pink"],
}

MODELS = {
    "speed": ["Stratus", "Cirrus", "Swift", "Tempo", "Pacer", "Stride", "Velocity", "Kinetic", "Momentum", "Flux",
              "Surge", "Dash", "Sprint", "Glide", "Zephyr", "Lark", "Tern", "Plover", "Comet", "Vega", "Lyra",
              "Altair", "Orion", "Meteor", "Quickline", "Aero", "Slipstream", "Fleet", "Rally", "Chase"],
    "trail": ["Talus", "Scree", "Cairn", "Moraine", "Granite", "Basin", "Sierra", "Cascade", "Juniper", "Larch",
              "Tamarack", "Hemlock", "Mesa", "Canyon", "Arroyo", "Bluff", "Crag", "Spire", "Saddle", "Traverse",
              "Ascent", "Ibex", "Chamois", "Marten", "Lynx", "Bobcat", "Caribou", "Bison", "Coyote", "Elk",
              "Trailhead", "Waypoint", "Outpost", "Flint", "Summit Pass", "Boulder", "Talon", "Kettle"],
    "weather": ["Squall", "Gale", "Mistral", "Chinook", "Monsoon", "Cloudburst", "Drizzle", "Thaw", "Frost", "Rime",
                "Flurry", "Cornice", "Aurora", "Borealis", "Polaris", "Solstice", "Equinox", "Fjord", "Glacier",
                "Tundra", "Driftwood", "Headwind", "Halyard", "Stormline", "Northwind", "Updraft"],
    "nature": ["Cedar", "Aspen", "Birch", "Willow", "Maple", "Sequoia", "Redwood", "Hickory", "Fern", "Sage",
               "Yarrow", "Lupine", "Thistle", "Heron", "Wren", "Finch", "Raven", "Otter", "Loon", "Harbor",
               "Eddy", "Riffle", "Shoal", "Current", "Meadow", "Bramble", "Clover", "Hollow", "Juniper", "Alder"],
    "camp": ["Basecamp", "Hearth", "Kindling", "Cinder", "Ember", "Timber", "Homestead", "Lantern", "Beacon",
             "Compass", "Bivy", "Trailhead", "Campfire", "Starfield", "Nightjar", "Moonrise", "Dusk", "Dawn",
             "Firefly", "Hollow", "Ridgeline", "Lakeshore", "Pinefall", "Switchyard", "Outpost", "Kettle"],
    "tech": ["Pulse", "Echo", "Arc", "Ion", "Photon", "Halo", "Prism", "Sonic", "Aria", "Chorus", "Volt", "Signal",
             "Vector", "Beam", "Flare", "Nova", "Quanta", "Axis", "Orbit", "Relay", "Radiant", "Spark", "Tone",
             "Cadenza", "Pilot", "Atlas", "Helix", "Lumen", "Kilo", "Drift"],
}

# --------------------------------------------------------------------------------------------------
# Subcategory specs. n = products to build; price = (low, high) USD; sizes = a key of SIZE_RULES;
# waterproof: True/False/probability/None (None: attribute omitted); capacity: list of strings or None;
# battery: (low, high) hours or None; weight: (low, high) grams or None.
# Title templates: {m} model name, {v} optional version number, {c} number taken from the capacity.
# --------------------------------------------------------------------------------------------------
SPECS: list[dict] = [
    # ---------------- Running Shoes ----------------
    dict(cat="Running Shoes", sub="road running shoes", n=10, noun="road running shoe", models="speed",
         brands=["Kestrel", "Stridewell", "Meridian Sport"], price=(95, 165), sizes="shoes",
         titles=["{m} Road Runner{v}", "{m} Road{v}", "{m} Trainer{v}", "{m} Daily{v}"],
         genders=["men", "women", "unisex"], colors="bright", weight=(220, 310), waterproof=False,
         materials=["engineered mesh upper with an EVA foam midsole", "recycled knit upper with a supercritical foam midsole",
                    "breathable jacquard mesh with a rubber outsole", "recycled polyester mesh with a nitrogen-infused foam midsole"],
         tags=["running", "road"], extra_tags=["cushioned", "daily-trainer", "lightweight", "breathable", "marathon"],
         uses=["daily road miles", "easy runs and long runs", "half-marathon training", "steady miles on pavement",
               "tempo days and recovery jogs"],
         features=["a rockered midsole for smooth heel-to-toe transitions", "a padded heel collar",
                   "an 8 mm heel-to-toe drop", "reflective details for dawn runs", "a roomy toe box",
                   "a durable rubber outsole in high-wear zones", "a gusseted tongue that stays put",
                   "soft, bouncy foam that holds up over hundreds of miles"]),
    dict(cat="Running Shoes", sub="trail running shoes", n=9, noun="trail running shoe", models="trail",
         brands=["Kestrel", "Switchback", "Stridewell"], price=(110, 175), sizes="shoes",
         titles=["{m} Trail Runner{v}", "{m} TR{v}", "{m} Trail{v}"], genders=["men", "women", "unisex"],
         colors="earth", weight=(250, 340), waterproof=0.3,
         materials=["abrasion-resistant mesh upper with a sticky rubber outsole", "ripstop mesh with a rock plate and EVA midsole",
                    "recycled polyester upper with 5 mm lugs"],
         tags=["running", "trail"], extra_tags=["grippy", "mountain", "ultra", "lightweight", "mud"],
         uses=["technical singletrack", "muddy forest trails", "mountain ultras", "rocky fire roads",
               "mixed road-to-trail runs"],
         features=["5 mm multidirectional lugs", "a flexible rock plate", "a protective toe bumper",
                   "quick-lace cords with a lace garage", "a debris-shedding mesh", "a stable, wide platform",
                   "a sticky rubber compound that grips wet rock"]),
    dict(cat="Running Shoes", sub="racing shoes", n=5, noun="racing shoe", models="speed",
         brands=["Kestrel", "Meridian Sport"], price=(150, 190), sizes="shoes", titles=["{m} Racer{v}", "{m} Elite{v}", "{m} Carbon{v}"],
         genders=["men", "women", "unisex"], colors="bright", weight=(180, 230), waterproof=False,
         materials=["monofilament mesh with a carbon-fiber plate", "featherweight knit with a PEBA foam midsole"],
         tags=["running", "racing", "road"], extra_tags=["lightweight", "marathon", "fast", "carbon"],
         uses=["race day and fast workouts", "5K to marathon racing", "interval sessions on the track and road"],
         features=["a full-length carbon plate", "a snappy, responsive foam stack", "a thin, race-fit tongue",
                   "a minimal rubber outsole to save weight", "a locked-in midfoot wrap"]),
    dict(cat="Running Shoes", sub="stability running shoes", n=5, noun="stability running shoe", models="speed",
         brands=["Stridewell", "Kestrel"], price=(120, 160), sizes="shoes", titles=["{m} Stable{v}", "{m} Guide{v}", "{m} Support{v}"],
         genders=["men", "women"], colors="bright", weight=(260, 320), waterproof=False,
         materials=["engineered mesh upper with a dual-density foam midsole", "recycled mesh with a firm medial post"],
         tags=["running", "road", "support"], extra_tags=["cushioned", "overpronation", "daily-trainer"],
         uses=["runners who overpronate", "high-mileage training weeks", "long runs when form starts to fade"],
         features=["a guide rail that keeps the foot centered", "a wide, stable base", "a firm heel counter",
                   "plush cushioning under the forefoot", "an extra-wide option in most sizes"]),
    dict(cat="Running Shoes", sub="recovery sandals", n=4, noun="recovery slide", models="speed",
         brands=["Stridewell", "Kestrel"], price=(39, 65), sizes="shoes", titles=["{m} Recovery Slide", "{m} Recover Sandal"],
         genders=["unisex"], colors="bright", weight=(150, 230), waterproof=None,
         materials=["soft closed-cell foam", "plant-based EVA foam"],
         tags=["running", "recovery", "sandals"], extra_tags=["vegan", "gift", "summer", "travel"],
         uses=["post-run recovery", "lounging after a long race", "pool decks and campsites"],
         features=["a contoured arch", "a soft, absorbent footbed", "a grippy, non-marking sole", "a quick-drying strap"]),

    # ---------------- Hiking Footwear ----------------
    dict(cat="Hiking Footwear", sub="hiking boots", n=9, noun="hiking boot", models="trail",
         brands=["Summitline", "Ridgeway", "Talon Peak", "Switchback"], price=(140, 260), sizes="shoes",
         titles=["{m} Mid WP", "{m} Hiker Mid{v}", "{m} Boot{v}", "{m} Trek Mid"], genders=["men", "women"],
         colors="earth", weight=(480, 760), waterproof=True,
         materials=["full-grain leather with a waterproof membrane", "nubuck leather and nylon with a waterproof membrane",
                    "recycled polyester and suede with a waterproof membrane"],
         tags=["hiking", "waterproof", "boots"], extra_tags=["backpacking", "trail", "durable", "mountain"],
         uses=["multi-day backpacking trips", "wet and rocky trails", "steep mountain hikes", "long days with a loaded pack"],
         features=["a supportive mid-height collar", "a grippy lugged rubber outsole", "a protective rubber toe cap",
                   "a cushioned, shock-absorbing midsole", "speed hooks for quick lacing", "a removable molded insole"]),
    dict(cat="Hiking Footwear", sub="hiking shoes", n=8, noun="hiking shoe", models="trail",
         brands=["Ridgeway", "Switchback", "Summitline", "Talon Peak"], price=(110, 170), sizes="shoes",
         titles=["{m} Low{v}", "{m} Hiker{v}", "{m} Low WP", "{m} Trek{v}"], genders=["men", "women", "unisex"],
         colors="earth", weight=(340, 480), waterproof=0.5,
         materials=["suede and mesh", "synthetic mesh with TPU overlays", "recycled mesh and leather"],
         tags=["hiking", "trail"], extra_tags=["day-hiking", "lightweight", "travel", "breathable"],
         uses=["day hikes", "fast-and-light trail days", "travel and city walking", "well-groomed trails"],
         features=["a low-cut, flexible design", "a cushioned EVA midsole", "a lugged rubber outsole",
                   "a padded tongue and collar", "a TPU heel counter for stability"]),
    dict(cat="Hiking Footwear", sub="approach shoes", n=4, noun="approach shoe", models="trail",
         brands=["Talon Peak", "Switchback"], price=(120, 170), sizes="shoes", titles=["{m} Approach{v}", "{m} Scramble{v}"],
         genders=["men", "women"], colors="earth", weight=(380, 460), waterproof=False,
         materials=["suede leather with a sticky rubber rand", "synthetic leather with climbing rubber"],
         tags=["hiking", "climbing", "scrambling"], extra_tags=["durable", "mountain", "rock"],
         uses=["approaches to the crag", "scrambling and via ferrata", "rocky alpine trails"],
         features=["a climbing-zone toe for edging", "a full rubber rand", "lace-to-toe fit adjustment", "a sticky rubber outsole"]),
    dict(cat="Hiking Footwear", sub="trail sandals", n=4, noun="trail sandal", models="nature",
         brands=["Ridgeway", "Summitline"], price=(55, 110), sizes="shoes", titles=["{m} Sandal", "{m} River Sandal", "{m} Trail Sandal"],
         genders=["men", "women", "unisex"], colors="bright", weight=(250, 380), waterproof=None,
         materials=["recycled polyester webbing with a rubber outsole", "quick-dry webbing and an EVA footbed"],
         tags=["hiking", "sandals", "summer"], extra_tags=["water", "travel", "vegan", "river"],
         uses=["river crossings", "summer hikes and travel", "canyon hikes with water"],
         features=["adjustable straps", "a contoured footbed", "a grippy lugged sole", "quick-drying webbing"]),
    dict(cat="Hiking Footwear", sub="winter boots", n=4, noun="winter boot", models="weather",
         brands=["Summitline", "Talon Peak"], price=(130, 220), sizes="shoes", titles=["{m} Winter Boot", "{m} Snow Boot", "{m} Insulated Boot"],
         genders=["men", "women"], colors="earth", weight=(650, 950), waterproof=True,
         materials=["waterproof leather with 200 g synthetic insulation", "nylon and leather with a waterproof membrane and 400 g insulation"],
         tags=["winter", "snow", "waterproof", "boots"], extra_tags=["insulated", "hiking", "warm"],
         uses=["snowy trails and town", "winter hikes", "cold, slushy commutes"],
         features=["a cold-rated rubber outsole", "a gusseted, snow-proof tongue", "a warm fleece lining",
                   "a removable felt liner", "an attachment point for traction devices"]),
    dict(cat="Hiking Footwear", sub="camp shoes", n=3, noun="camp shoe", models="camp",
         brands=["Summitline", "Ridgeway"], price=(45, 75), sizes="shoes", titles=["{m} Camp Moc", "{m} Camp Shoe"],
         genders=["unisex"], colors="earth", weight=(200, 300), waterproof=False,
         materials=["quilted ripstop nylon with a synthetic fill", "recycled felt with a rubber sole"],
         tags=["camping", "slip-on"], extra_tags=["lightweight", "packable", "gift", "cozy"],
         uses=["evenings at camp", "hut trips", "cabin weekends"],
         features=["a collapsible heel", "a packable design", "a warm insulated upper", "a grippy sole for short walks"]),

    # ---------------- Jackets & Outerwear ----------------
    dict(cat="Jackets & Outerwear", sub="rain jacket", n=8, noun="rain jacket", models="weather",
         brands=["Summitline", "Tidewater", "Talon Peak", "Fernbrook"], price=(89, 229), sizes="apparel",
         titles=["{m} Rain Jacket", "{m} Rain Shell", "{m} 2.5L Jacket", "{m} Storm Jacket"],
         genders=["men", "women"], colors="apparel", weight=(230, 420), waterproof=True,
         materials=["2.5-layer recycled nylon with a waterproof-breathable membrane", "3-layer nylon ripstop with a PFC-free DWR finish",
                    "recycled polyester with a waterproof coating"],
         tags=["rain", "waterproof", "hiking"], extra_tags=["packable", "travel", "lightweight", "recycled", "commute"],
         uses=["wet hikes", "rainy commutes", "travel in unpredictable weather", "shoulder-season backpacking"],
         features=["fully taped seams", "pit zips for venting", "an adjustable, helmet-compatible hood",
                   "a stuff pocket that doubles as a carry sack", "hand pockets placed above a hip belt",
                   "adjustable cuffs and hem"]),
    dict(cat="Jackets & Outerwear", sub="insulated jacket", n=7, noun="insulated jacket", models="weather",
         brands=["Summitline", "Boreal Works", "Talon Peak"], price=(149, 329), sizes="apparel",
         titles=["{m} Down Jacket", "{m} Puffer", "{m} Insulated Hoody", "{m} Parka"], genders=["men", "women"],
         colors="apparel", weight=(280, 850), waterproof=False,
         materials=["800-fill responsibly sourced down in a ripstop nylon shell", "recycled synthetic insulation in a nylon shell",
                    "650-fill down with a water-resistant recycled polyester shell"],
         tags=["winter", "insulated", "warm"], extra_tags=["packable", "camping", "travel", "layering"],
         uses=["cold days around town", "winter camping", "belay stops and summit breaks", "chilly evenings at camp"],
         features=["a cinchable hood", "zippered hand-warmer pockets", "elastic cuffs", "a stuff sack",
                   "baffled construction that keeps the fill in place", "an internal media pocket"]),
    dict(cat="Jackets & Outerwear", sub="fleece jacket", n=7, noun="fleece jacket", models="nature",
         brands=["Boreal Works", "Summitline", "Fernbrook"], price=(49, 129), sizes="apparel",
         titles=["{m} Fleece", "{m} Full-Zip Fleece", "{m} Grid Fleece", "{m} Sherpa Jacket"], genders=["men", "women", "unisex"],
         colors="apparel", weight=(280, 520), waterproof=False,
         materials=["recycled polyester microfleece", "grid fleece made from recycled bottles", "high-pile sherpa fleece"],
         tags=["fleece", "layering", "warm"], extra_tags=["recycled", "casual", "camping", "gift"],
         uses=["layering on cold hikes", "cool mornings", "everyday wear", "campfire evenings"],
         features=["a full-length zip", "zippered hand pockets", "stretch binding at the cuffs", "a chest pocket",
                   "a high collar that blocks wind"]),
    dict(cat="Jackets & Outerwear", sub="softshell jacket", n=4, noun="softshell jacket", models="weather",
         brands=["Talon Peak", "Summitline"], price=(99, 189), sizes="apparel", titles=["{m} Softshell", "{m} Hybrid Jacket"],
         genders=["men", "women"], colors="earth", weight=(360, 520), waterproof=False,
         materials=["stretch-woven nylon with a brushed interior", "four-way stretch polyester with a DWR finish"],
         tags=["softshell", "hiking", "wind"], extra_tags=["climbing", "breathable", "stretch"],
         uses=["alpine climbing", "breezy hikes", "ski touring"],
         features=["four-way stretch", "a water-repellent finish", "a harness-friendly chest pocket", "a brushed, warm lining"]),
    dict(cat="Jackets & Outerwear", sub="windbreaker", n=4, noun="wind jacket", models="speed",
         brands=["Tidewater", "Fernbrook"], price=(55, 119), sizes="apparel", titles=["{m} Wind Jacket", "{m} Windbreaker", "{m} Anorak"],
         genders=["men", "women", "unisex"], colors="bright", weight=(90, 240), waterproof=False,
         materials=["featherweight ripstop nylon", "recycled polyester taffeta"],
         tags=["wind", "running", "packable"], extra_tags=["lightweight", "travel", "reflective"],
         uses=["breezy runs", "ridge walks", "spring travel"],
         features=["a packable chest pocket", "reflective trim", "a slim, quiet fabric", "an adjustable hood"]),
    dict(cat="Jackets & Outerwear", sub="insulated vest", n=3, noun="insulated vest", models="nature",
         brands=["Boreal Works", "Summitline"], price=(79, 149), sizes="apparel", titles=["{m} Down Vest", "{m} Insulated Vest"],
         genders=["men", "women"], colors="earth", weight=(180, 320), waterproof=False,
         materials=["650-fill down in a recycled nylon shell", "recycled synthetic insulation"],
         tags=["vest", "layering", "warm"], extra_tags=["packable", "travel", "casual"],
         uses=["core warmth on cool days", "layering under a shell", "fall errands"],
         features=["zippered hand pockets", "a packable design", "a stand-up collar"]),

    # ---------------- Tops & Base Layers ----------------
    dict(cat="Tops & Base Layers", sub="running t-shirt", n=7, noun="running tee", models="speed",
         brands=["Kestrel", "Pinecrest", "Fernbrook"], price=(25, 55), sizes="apparel",
         titles=["{m} Run Tee", "{m} Tech Tee", "{m} Short-Sleeve Top"], genders=["men", "women"], colors="bright",
         weight=(90, 140), waterproof=None,
         materials=["recycled polyester jersey", "lightweight polyester mesh", "polyester and elastane blend"],
         tags=["running", "t-shirt", "breathable"], extra_tags=["quick-dry", "reflective", "recycled", "lightweight"],
         uses=["hot-weather runs", "gym sessions", "race day"],
         features=["flatlock seams that will not chafe", "anti-odor treatment", "reflective logos", "mesh ventilation panels"]),
    dict(cat="Tops & Base Layers", sub="base layer top", n=7, noun="base layer top", models="weather",
         brands=["Boreal Works", "Pinecrest", "Alder & Co"], price=(55, 110), sizes="apparel",
         titles=["{m} Merino Crew", "{m} Base Layer Top", "{m} Half-Zip", "{m} Midweight Crew"], genders=["men", "women"],
         colors="earth", weight=(150, 260), waterproof=None,
         materials=["150 g/m2 merino wool", "250 g/m2 merino wool", "merino and recycled nylon blend", "recycled polyester grid knit"],
         tags=["base-layer", "winter", "layering"], extra_tags=["merino", "odor-resistant", "skiing", "hiking"],
         uses=["ski days", "cold-weather hiking", "multi-day trips where odor control matters"],
         features=["naturally odor-resistant fibers", "thumb loops", "a next-to-skin fit", "offset shoulder seams for pack comfort"]),
    dict(cat="Tops & Base Layers", sub="sun shirt", n=5, noun="sun shirt", models="nature",
         brands=["Pinecrest", "Fernbrook", "Alder & Co"], price=(45, 85), sizes="apparel",
         titles=["{m} Sun Shirt", "{m} Sun Hoody", "{m} Trail Shirt"], genders=["men", "women"], colors="apparel",
         weight=(140, 220), waterproof=None,
         materials=["UPF 50 recycled nylon", "quick-dry polyester with UPF 40 protection"],
         tags=["sun", "hiking", "summer"], extra_tags=["upf", "fishing", "travel", "quick-dry"],
         uses=["desert hikes", "fishing and paddling", "long days in strong sun"],
         features=["UPF sun protection", "a vented back yoke", "roll-up sleeve tabs", "a zippered chest pocket"]),
    dict(cat="Tops & Base Layers", sub="hoodie", n=5, noun="hoodie", models="nature",
         brands=["Alder & Co", "Pinecrest", "Fernbrook"], price=(55, 95), sizes="apparel",
         titles=["{m} Hoodie", "{m} Pullover Hoodie", "{m} Zip Hoodie"], genders=["men", "women", "unisex"],
         colors="apparel", weight=(420, 620), waterproof=None,
         materials=["organic cotton fleece", "recycled cotton and polyester blend", "brushed-back French terry"],
         tags=["casual", "hoodie", "everyday"], extra_tags=["gift", "organic", "travel", "cozy"],
         uses=["everyday wear", "road trips", "post-hike lounging"],
         features=["a kangaroo pocket", "ribbed cuffs", "a lined hood", "a relaxed fit"]),
    dict(cat="Tops & Base Layers", sub="tank top", n=4, noun="tank top", models="speed",
         brands=["Kestrel", "Fernbrook"], price=(22, 40), sizes="apparel", titles=["{m} Tank", "{m} Singlet"],
         genders=["men", "women"], colors="bright", weight=(60, 110), waterproof=None,
         materials=["recycled polyester mesh", "polyester and elastane blend"],
         tags=["running", "summer", "breathable"], extra_tags=["lightweight", "racing", "quick-dry"],
         uses=["summer racing", "hot track sessions", "yoga and gym workouts"],
         features=["a featherweight feel", "bonded hems", "laser-cut ventilation"]),
    dict(cat="Tops & Base Layers", sub="long-sleeve running top", n=5, noun="long-sleeve top", models="speed",
         brands=["Kestrel", "Pinecrest"], price=(35, 65), sizes="apparel", titles=["{m} Long Sleeve", "{m} Quarter-Zip", "{m} Thermal Top"],
         genders=["men", "women"], colors="bright", weight=(130, 210), waterproof=None,
         materials=["brushed polyester jersey", "recycled polyester waffle knit"],
         tags=["running", "layering", "fall"], extra_tags=["reflective", "thumb-loops", "winter", "quick-dry"],
         uses=["cool-morning runs", "layering under a shell", "fall training"],
         features=["thumb loops", "a zip neck for venting", "reflective details", "a soft brushed interior"]),

    # ---------------- Pants & Shorts ----------------
    dict(cat="Pants & Shorts", sub="hiking pants", n=7, noun="hiking pant", models="trail",
         brands=["Ridgeway", "Pinecrest", "Fernbrook", "Alder & Co"], price=(59, 119), sizes="apparel",
         titles=["{m} Hiking Pant", "{m} Trek Pant", "{m} Convertible Pant", "{m} Trail Pant"],
         genders=["men", "women"], colors="earth", weight=(260, 420), waterproof=False,
         materials=["stretch nylon with a DWR finish", "recycled nylon canvas", "organic cotton canvas with stretch"],
         tags=["hiking", "pants", "travel"], extra_tags=["stretch", "quick-dry", "upf", "durable"],
         uses=["long trail days", "travel and hiking", "rocky scrambles"],
         features=["zip-off legs", "an integrated belt", "articulated knees", "a zippered thigh pocket", "UPF 50 sun protection"]),
    dict(cat="Pants & Shorts", sub="running shorts", n=6, noun="running short", models="speed",
         brands=["Kestrel", "Pinecrest"], price=(30, 60), sizes="apparel", titles=['{m} 5" Short', '{m} 7" Short', "{m} Run Short", "{m} Split Short"],
         genders=["men", "women"], colors="bright", weight=(80, 140), waterproof=False,
         materials=["recycled polyester woven with a brief liner", "stretch woven polyester"],
         tags=["running", "shorts", "summer"], extra_tags=["lightweight", "quick-dry", "racing"],
         uses=["hot-weather runs", "race day", "track workouts"],
         features=["a built-in liner", "a zippered back pocket", "side splits for full stride", "gel pockets at the waist"]),
    dict(cat="Pants & Shorts", sub="running tights", n=5, noun="running tight", models="speed",
         brands=["Kestrel", "Fernbrook"], price=(45, 95), sizes="apparel", titles=["{m} Tight", "{m} Thermal Tight", "{m} 7/8 Legging"],
         genders=["men", "women"], colors="bright", weight=(160, 260), waterproof=False,
         materials=["brushed nylon and elastane", "recycled polyester and spandex"],
         tags=["running", "tights", "winter"], extra_tags=["reflective", "compression", "yoga"],
         uses=["winter runs", "cold track sessions", "studio workouts"],
         features=["phone pockets on both thighs", "a high, comfortable waistband", "ankle zips", "reflective details"]),
    dict(cat="Pants & Shorts", sub="hiking shorts", n=5, noun="hiking short", models="trail",
         brands=["Ridgeway", "Pinecrest", "Alder & Co"], price=(40, 75), sizes="apparel", titles=["{m} Hike Short", "{m} Trail Short", "{m} Cargo Short"],
         genders=["men", "women"], colors="earth", weight=(150, 240), waterproof=False,
         materials=["stretch nylon", "recycled nylon canvas", "organic cotton twill"],
         tags=["hiking", "shorts", "summer"], extra_tags=["quick-dry", "travel", "stretch"],
         uses=["summer hikes", "travel days", "climbing gyms"],
         features=["a gusseted crotch", "zippered pockets", "an adjustable waist"]),
    dict(cat="Pants & Shorts", sub="joggers", n=4, noun="jogger", models="nature",
         brands=["Alder & Co", "Pinecrest"], price=(50, 90), sizes="apparel", titles=["{m} Jogger", "{m} Travel Jogger"],
         genders=["men", "women", "unisex"], colors="apparel", weight=(300, 450), waterproof=False,
         materials=["organic cotton fleece", "stretch double-weave nylon"],
         tags=["casual", "travel", "everyday"], extra_tags=["gift", "cozy", "stretch"],
         uses=["travel days", "lounging after a hike", "everyday wear"],
         features=["a drawcord waist", "tapered cuffs", "a hidden zip pocket"]),
    dict(cat="Pants & Shorts", sub="rain pants", n=3, noun="rain pant", models="weather",
         brands=["Ridgeway", "Fernbrook"], price=(69, 149), sizes="apparel", titles=["{m} Rain Pant", "{m} Full-Zip Rain Pant"],
         genders=["men", "women"], colors="earth", weight=(200, 330), waterproof=True,
         materials=["2.5-layer recycled nylon", "3-layer waterproof-breathable nylon"],
         tags=["rain", "waterproof", "hiking"], extra_tags=["packable", "backpacking"],
         uses=["stormy hikes", "wet commutes", "backpacking in the Pacific Northwest"],
         features=["ankle zips to pull on over boots", "fully taped seams", "an elastic waist"]),
    dict(cat="Pants & Shorts", sub="base layer bottoms", n=3, noun="base layer bottom", models="weather",
         brands=["Pinecrest", "Ridgeway"], price=(45, 95), sizes="apparel", titles=["{m} Merino Bottom", "{m} Base Layer Pant"],
         genders=["men", "women"], colors="earth", weight=(150, 240), waterproof=False,
         materials=["200 g/m2 merino wool", "recycled polyester grid fleece"],
         tags=["base-layer", "winter", "layering"], extra_tags=["merino", "skiing", "warm"],
         uses=["ski days", "winter camping", "cold-weather layering"],
         features=["a flat waistband that sits under a hip belt", "flatlock seams", "a gusseted crotch"]),

    # ---------------- Backpacks & Bags ----------------
    dict(cat="Backpacks & Bags", sub="daypack", n=8, noun="daypack", models="trail",
         brands=["Summitline", "Northfork", "Pinecrest", "Tidewater"], price=(49, 139), sizes="one",
         titles=["{m} {c} Daypack", "{m} {c}", "{m} Day {c}"], genders=["unisex"], colors="gear",
         weight=(520, 1100), waterproof=0.2, capacity=["18 L", "20 L", "22 L", "24 L", "26 L", "28 L", "30 L"],
         materials=["recycled ripstop nylon", "210D nylon with a PU coating", "recycled polyester canvas"],
         tags=["hiking", "daypack", "backpack"], extra_tags=["lightweight", "travel", "hydration-compatible", "recycled"],
         uses=["day hikes", "summit scrambles", "commutes and weekend trips"],
         features=["a ventilated mesh back panel", "a hydration sleeve", "stretch side pockets", "a padded hip belt",
                   "an integrated rain cover", "a trekking-pole attachment", "a top lid pocket for small items"]),
    dict(cat="Backpacks & Bags", sub="backpacking pack", n=5, noun="backpacking pack", models="trail",
         brands=["Summitline", "Northfork"], price=(179, 329), sizes="torso", titles=["{m} {c}", "{m} {c} Pack"],
         genders=["men", "women", "unisex"], colors="gear", weight=(1100, 2100), waterproof=False,
         capacity=["45 L", "50 L", "55 L", "60 L", "65 L", "70 L"],
         materials=["recycled 420D nylon with an aluminum frame", "high-tenacity ripstop nylon with a carbon stay"],
         tags=["backpacking", "camping", "backpack"], extra_tags=["hiking", "multi-day", "thru-hiking"],
         uses=["multi-day backpacking trips", "thru-hikes", "hut-to-hut treks"],
         features=["an adjustable torso length", "a suspended mesh back panel", "a removable lid that converts to a hip pack",
                   "hip-belt pockets", "a front stretch pocket for wet layers", "a sleeping bag compartment"]),
    dict(cat="Backpacks & Bags", sub="running vest", n=4, noun="running vest", models="speed",
         brands=["Tidewater", "Pinecrest"], price=(79, 159), sizes="apparel", titles=["{m} {c} Run Vest", "{m} Race Vest {c}"],
         genders=["men", "women", "unisex"], colors="bright", weight=(180, 300), waterproof=False,
         capacity=["5 L", "8 L", "10 L", "12 L"],
         materials=["stretch mesh with recycled nylon pockets", "lightweight mesh"],
         tags=["running", "trail", "hydration"], extra_tags=["ultra", "lightweight", "race"],
         uses=["trail ultras", "long mountain runs", "fast-packing"],
         features=["two 500 ml soft flasks", "bounce-free chest straps", "a pole holster", "a whistle and emergency pocket"]),
    dict(cat="Backpacks & Bags", sub="travel duffel", n=5, noun="duffel", models="nature",
         brands=["Driftline", "Tidewater", "Alder & Co"], price=(69, 179), sizes="one", titles=["{m} Duffel {c}", "{m} {c} Duffel"],
         genders=["unisex"], colors="gear", weight=(700, 1500), waterproof=0.5,
         capacity=["40 L", "55 L", "70 L", "90 L"],
         materials=["TPU-laminated polyester", "recycled 600D polyester", "waxed cotton canvas with leather trim"],
         tags=["travel", "duffel", "bag"], extra_tags=["weekend", "gym", "gift", "carry-on"],
         uses=["weekend trips", "gear hauling on road trips", "airport travel"],
         features=["stowaway backpack straps", "a shoe compartment", "end pockets", "lockable zippers", "a wide D-shaped opening"]),
    dict(cat="Backpacks & Bags", sub="everyday backpack", n=5, noun="everyday backpack", models="nature",
         brands=["Alder & Co", "Driftline", "Pinecrest"], price=(59, 149), sizes="one", titles=["{m} Commuter {c}", "{m} Everyday Pack", "{m} Laptop Pack {c}"],
         genders=["unisex"], colors="gear", weight=(650, 1100), waterproof=0.3, capacity=["20 L", "24 L", "26 L", "28 L"],
         materials=["recycled polyester canvas", "waxed cotton canvas", "water-resistant nylon"],
         tags=["commute", "laptop", "everyday"], extra_tags=["travel", "school", "gift"],
         uses=["daily commutes", "campus and office", "carry-on travel"],
         features=["a padded 16-inch laptop sleeve", "a clamshell opening", "a luggage pass-through", "an organizer panel"]),
    dict(cat="Backpacks & Bags", sub="hip pack", n=3, noun="hip pack", models="speed",
         brands=["Driftline", "Pinecrest"], price=(25, 55), sizes="one", titles=["{m} Hip Pack", "{m} Waist Pack"],
         genders=["unisex"], colors="bright", weight=(120, 260), waterproof=False, capacity=["1.5 L", "2 L", "3 L"],
         materials=["recycled nylon ripstop", "water-resistant polyester"],
         tags=["hip-pack", "travel", "running"], extra_tags=["gift", "festival", "lightweight"],
         uses=["short hikes", "festivals and travel", "dog walks"],
         features=["a zippered main pocket", "an adjustable strap", "a secure back pocket"]),
    dict(cat="Backpacks & Bags", sub="dry bag", n=3, noun="dry bag", models="nature",
         brands=["Tidewater", "Northfork"], price=(19, 45), sizes="one", titles=["{m} Dry Bag {c}", "{m} Dry Sack {c}"],
         genders=["unisex"], colors="bright", weight=(90, 260), waterproof=True, capacity=["5 L", "10 L", "20 L", "35 L"],
         materials=["TPU-coated nylon", "PVC-free laminated polyester"],
         tags=["waterproof", "paddling", "travel"], extra_tags=["kayak", "camping", "beach"],
         uses=["kayak trips", "beach days", "keeping a sleeping bag dry"],
         features=["a roll-top closure", "welded seams", "a D-ring attachment point"]),

    # ---------------- Camping & Tents ----------------
    dict(cat="Camping & Tents", sub="backpacking tent", n=7, noun="backpacking tent", models="camp",
         brands=["Summitline", "Basalt", "Talon Peak"], price=(149, 549), sizes="none", titles=["{m} {c} Tent", "{m} UL{c}", "{m} {c}P"],
         genders=["unisex"], colors="gear", weight=(900, 2600), waterproof=True, capacity=["1-person", "2-person", "3-person"],
         materials=["silicone-coated ripstop nylon with aluminum poles", "20D polyester fly with DAC aluminum poles"],
         tags=["camping", "tent", "backpacking"], extra_tags=["lightweight", "waterproof", "freestanding", "three-season"],
         uses=["three-season backpacking", "bikepacking", "thru-hikes"],
         features=["two doors and two vestibules", "a freestanding hubbed pole design", "color-coded clips for fast pitching",
                   "interior mesh pockets", "a fully taped rainfly"]),
    dict(cat="Camping & Tents", sub="car camping tent", n=4, noun="camping tent", models="camp",
         brands=["Northfork", "Basalt"], price=(199, 499), sizes="none", titles=["{m} {c} Dome", "{m} Cabin {c}"],
         genders=["unisex"], colors="gear", weight=(4500, 9800), waterproof=True, capacity=["4-person", "6-person"],
         materials=["150D polyester with fiberglass and steel poles", "polyester taffeta with aluminum poles"],
         tags=["camping", "tent", "family"], extra_tags=["car-camping", "waterproof", "spacious"],
         uses=["family car camping", "festival weekends", "basecamp trips"],
         features=["near-vertical walls", "a large vestibule for gear", "a gear loft", "an electrical cord port"]),
    dict(cat="Camping & Tents", sub="sleeping bag", n=6, noun="sleeping bag", models="camp",
         brands=["Summitline", "Northfork", "Basalt"], price=(99, 399), sizes="bag", titles=["{m} {c} Bag", "{m} {c}", "{m} Quilt {c}"],
         genders=["men", "women", "unisex"], colors="gear", weight=(700, 1700), waterproof=False,
         capacity=["15°F", "20°F", "30°F", "40°F"],
         materials=["650-fill responsibly sourced down", "850-fill hydrophobic down", "recycled synthetic insulation"],
         tags=["camping", "sleeping-bag", "backpacking"], extra_tags=["warm", "lightweight", "three-season"],
         uses=["three-season backpacking", "car camping", "shoulder-season trips"],
         features=["a draft collar", "a contoured hood", "a full-length anti-snag zipper", "a compression stuff sack"]),
    dict(cat="Camping & Tents", sub="sleeping pad", n=5, noun="sleeping pad", models="camp",
         brands=["Northfork", "Basalt", "Talon Peak"], price=(49, 199), sizes="bag", titles=["{m} Air Pad", "{m} Sleeping Pad", "{m} Foam Pad"],
         genders=["unisex"], colors="gear", weight=(350, 900), waterproof=None,
         materials=["30D nylon with reflective insulation", "closed-cell foam", "self-inflating open-cell foam"],
         tags=["camping", "sleeping-pad", "backpacking"], extra_tags=["lightweight", "insulated", "comfort"],
         uses=["backpacking trips", "winter camping", "car camping"],
         features=["an R-value of 4.2", "a fast-inflate valve", "quiet, crinkle-free fabric", "an included pump sack"]),
    dict(cat="Camping & Tents", sub="camp chair", n=4, noun="camp chair", models="camp",
         brands=["Northfork", "Basalt", "Emberline"], price=(39, 129), sizes="none", titles=["{m} Camp Chair", "{m} Chair", "{m} Lounger"],
         genders=["unisex"], colors="gear", weight=(900, 3200), waterproof=None,
         materials=["polyester fabric on an aluminum frame", "ripstop nylon with shock-corded poles"],
         tags=["camping", "chair", "festival"], extra_tags=["packable", "beach", "gift"],
         uses=["campsites and tailgates", "beach days", "backyard fires"],
         features=["a cup holder", "a packable carry bag", "a high back with headrest"]),
    dict(cat="Camping & Tents", sub="lantern", n=4, noun="lantern", models="camp",
         brands=["Lumen Trail", "Emberline"], price=(25, 69), sizes="none", titles=["{m} Lantern", "{m} Camp Light"],
         genders=["unisex"], colors="gear", weight=(150, 420), waterproof=False, battery=(10, 72),
         materials=["polycarbonate and aluminum", "silicone with a rechargeable lithium battery"],
         tags=["camping", "lantern", "lighting"], extra_tags=["rechargeable", "gift", "emergency"],
         uses=["tents and campsites", "power outages", "porch dinners"],
         features=["dimmable warm light", "USB-C charging", "a hanging hook", "a red night mode"]),
    dict(cat="Camping & Tents", sub="hammock", n=3, noun="hammock", models="nature",
         brands=["Northfork", "Summitline"], price=(49, 99), sizes="none", titles=["{m} Hammock", "{m} Double Hammock"],
         genders=["unisex"], colors="bright", weight=(400, 800), waterproof=None, capacity=["1-person", "2-person"],
         materials=["breathable parachute nylon", "recycled ripstop nylon"],
         tags=["camping", "hammock", "relaxing"], extra_tags=["packable", "gift", "backyard"],
         uses=["lazy afternoons at camp", "backyard lounging", "beach trips"],
         features=["tree-friendly straps", "an attached stuff sack", "aluminum carabiners"]),

    # ---------------- Electronics ----------------
    dict(cat="Electronics", sub="wireless earbuds", n=6, noun="pair of wireless earbuds", models="tech",
         brands=["Cadence Audio", "Voltline"], price=(49, 199), sizes="none", titles=["{m} Buds{v}", "{m} Sport Earbuds", "{m} Buds Pro"],
         genders=["unisex"], colors="tech", weight=(45, 70), waterproof=False, battery=(6, 10),
         materials=["silicone ear tips with a matte polycarbonate shell", "soft-touch polymer housing"],
         tags=["audio", "earbuds", "running"], extra_tags=["wireless", "bluetooth", "gym", "gift"],
         uses=["runs and gym sessions", "commutes", "calls on the go"],
         features=["active noise cancellation", "IPX4 sweat resistance", "secure-fit ear wings", "a pocketable charging case",
                   "Bluetooth 5.3 multipoint"]),
    dict(cat="Electronics", sub="headphones", n=5, noun="pair of headphones", models="tech",
         brands=["Cadence Audio"], price=(79, 349), sizes="none", titles=["{m} Headphones", "{m} Over-Ear", "{m} ANC{v}"],
         genders=["unisex"], colors="tech", weight=(220, 320), waterproof=False, battery=(20, 45),
         materials=["memory-foam cushions with an aluminum headband", "recycled plastic with protein-leather ear pads"],
         tags=["audio", "headphones", "travel"], extra_tags=["noise-cancelling", "wireless", "gift", "commute"],
         uses=["long flights", "focused work", "daily commutes"],
         features=["adaptive noise cancellation", "a fold-flat design", "fast charging", "a detachable audio cable"]),
    dict(cat="Electronics", sub="gps watch", n=6, noun="GPS sport watch", models="tech",
         brands=["Meridian Sport", "Voltline"], price=(149, 549), sizes="none", titles=["{m} GPS{v}", "{m} Watch{v}", "{m} Multisport{v}"],
         genders=["unisex"], colors="tech", weight=(40, 80), waterproof=True, battery=(20, 80),
         materials=["fiber-reinforced polymer case with a silicone strap", "titanium bezel with a sapphire lens and nylon strap"],
         tags=["running", "gps", "watch"], extra_tags=["training", "hiking", "heart-rate", "gift"],
         uses=["training for road and trail races", "multisport days", "navigation on big hikes"],
         features=["multi-band GPS", "wrist-based heart rate", "offline topo maps", "training-load insights", "5 ATM water rating"]),
    dict(cat="Electronics", sub="headlamp", n=6, noun="headlamp", models="tech",
         brands=["Lumen Trail", "Voltline"], price=(19, 89), sizes="none", titles=["{m} {c}", "{m} Headlamp", "{m} {c} Headlamp"],
         genders=["unisex"], colors="tech", weight=(60, 120), waterproof=0.5, battery=(5, 60),
         capacity=["200 lm", "350 lm", "450 lm", "600 lm", "900 lm"],
         materials=["polycarbonate housing with a reflective strap", "aluminum housing and recycled elastic strap"],
         tags=["lighting", "headlamp", "camping"], extra_tags=["running", "rechargeable", "hiking", "emergency"],
         uses=["night runs", "alpine starts", "camp chores after dark"],
         features=["a red-light mode", "USB-C charging", "a tilting beam", "a lock mode for packing", "a battery indicator"]),
    dict(cat="Electronics", sub="power bank", n=5, noun="power bank", models="tech",
         brands=["Voltline"], price=(29, 129), sizes="none", titles=["{m} {c} Power Bank", "{m} Charger {c}"],
         genders=["unisex"], colors="tech", weight=(150, 480), waterproof=False,
         capacity=["5000 mAh", "10000 mAh", "20000 mAh", "26800 mAh"],
         materials=["aluminum shell", "rugged rubberized polycarbonate"],
         tags=["charging", "power-bank", "travel"], extra_tags=["backpacking", "usb-c", "gift", "emergency"],
         uses=["multi-day trips", "travel days", "keeping a phone and watch topped up"],
         features=["USB-C power delivery", "two outputs", "pass-through charging", "a rugged shell"]),
    dict(cat="Electronics", sub="bluetooth speaker", n=5, noun="Bluetooth speaker", models="tech",
         brands=["Cadence Audio", "Voltline"], price=(39, 179), sizes="none", titles=["{m} Speaker", "{m} Mini Speaker", "{m} Boom{v}"],
         genders=["unisex"], colors="tech", weight=(250, 900), waterproof=True, battery=(10, 24),
         materials=["rubberized housing with a fabric grille", "recycled plastic with an aluminum grille"],
         tags=["audio", "speaker", "camping"], extra_tags=["waterproof", "beach", "gift", "party"],
         uses=["beach days", "campsites", "backyard parties"],
         features=["IP67 dust and water protection", "a carabiner loop", "stereo pairing", "a built-in mic for calls"]),

    # ---------------- Hydration & Kitchen ----------------
    dict(cat="Hydration & Kitchen", sub="water bottle", n=7, noun="water bottle", models="nature",
         brands=["Copperleaf", "Tidewater", "Pinecrest"], price=(19, 45), sizes="none", titles=["{m} {c} Bottle", "{m} Bottle", "{m} Insulated Bottle"],
         genders=["unisex"], colors="kitchen", weight=(150, 480), waterproof=None, capacity=["500 ml", "750 ml", "1000 ml", "1200 ml"],
         materials=["double-wall vacuum-insulated stainless steel", "BPA-free Tritan plastic", "18/8 stainless steel"],
         tags=["hydration", "bottle", "travel"], extra_tags=["insulated", "gift", "bpa-free", "hiking"],
         uses=["long days on the trail", "the gym and office", "road trips"],
         features=["a leakproof cap", "a wide mouth that fits ice cubes", "a powder-coat finish", "a carry loop",
                   "24 hours of cold and 12 hours of hot"]),
    dict(cat="Hydration & Kitchen", sub="travel mug", n=5, noun="travel mug", models="nature",
         brands=["Copperleaf", "Alder & Co", "Pinecrest"], price=(19, 35), sizes="none", titles=["{m} Travel Mug", "{m} Tumbler", "{m} Camp Mug"],
         genders=["unisex"], colors="kitchen", weight=(180, 340), waterproof=None, capacity=["350 ml", "400 ml", "475 ml"],
         materials=["vacuum-insulated stainless steel", "enamel-coated steel"],
         tags=["coffee", "mug", "travel"], extra_tags=["gift", "insulated", "camping"],
         uses=["morning commutes", "camp coffee", "desk and car"],
         features=["a splash-proof slider lid", "a cupholder-friendly base", "dishwasher-safe parts"]),
    dict(cat="Hydration & Kitchen", sub="camp stove", n=5, noun="camp stove", models="camp",
         brands=["Emberline", "Northfork", "Basalt"], price=(39, 149), sizes="none", titles=["{m} Stove", "{m} Micro Stove", "{m} Two-Burner"],
         genders=["unisex"], colors="gear", weight=(80, 4200), waterproof=None,
         materials=["stainless steel and aluminum", "titanium", "powder-coated steel"],
         tags=["camping", "stove", "cooking"], extra_tags=["backpacking", "lightweight", "car-camping"],
         uses=["backpacking meals", "car-camping breakfasts", "boiling water fast"],
         features=["push-button ignition", "a wind-resistant burner", "fine simmer control", "a folding pot support"]),
    dict(cat="Hydration & Kitchen", sub="cookware set", n=5, noun="cookware set", models="camp",
         brands=["Basalt", "Northfork", "Emberline"], price=(29, 119), sizes="none", titles=["{m} Cook Set", "{m} Pot {c}", "{m} Camp Kitchen Set"],
         genders=["unisex"], colors="kitchen", weight=(180, 1400), waterproof=None, capacity=["0.75 L", "1.2 L", "1.8 L", "2.5 L"],
         materials=["hard-anodized aluminum", "titanium", "stainless steel with a nonstick coating"],
         tags=["camping", "cookware", "cooking"], extra_tags=["backpacking", "nesting", "car-camping"],
         uses=["backpacking meals", "family camp dinners", "hut trips"],
         features=["nesting pieces", "folding handles", "a strainer lid", "measurement marks"]),
    dict(cat="Hydration & Kitchen", sub="water filter", n=4, noun="water filter", models="nature",
         brands=["Tidewater", "Northfork"], price=(24, 99), sizes="none", titles=["{m} Filter", "{m} Squeeze Filter", "{m} Gravity Filter {c}"],
         genders=["unisex"], colors="kitchen", weight=(60, 350), waterproof=None, capacity=["1 L", "3 L", "6 L"],
         materials=["hollow-fiber membrane with a BPA-free housing"],
         tags=["hydration", "filter", "backpacking"], extra_tags=["travel", "emergency", "camping"],
         uses=["backcountry water sources", "international travel", "emergency kits"],
         features=["0.1-micron filtration", "a fast flow rate", "easy back-flushing"]),
    dict(cat="Hydration & Kitchen", sub="hydration reservoir", n=3, noun="hydration reservoir", models="speed",
         brands=["Tidewater", "Pinecrest"], price=(25, 45), sizes="none", titles=["{m} Reservoir {c}", "{m} Hydration Bladder {c}"],
         genders=["unisex"], colors="kitchen", weight=(160, 240), waterproof=None, capacity=["1.5 L", "2 L", "3 L"],
         materials=["BPA-free TPU"],
         tags=["hydration", "hiking", "running"], extra_tags=["backpacking", "biking"],
         uses=["long hikes", "mountain biking", "trail runs"],
         features=["a quick-disconnect hose", "a wide opening for cleaning", "a bite valve with shutoff"]),
    dict(cat="Hydration & Kitchen", sub="utensil set", n=4, noun="utensil set", models="camp",
         brands=["Copperleaf", "Basalt"], price=(10, 25), sizes="none", titles=["{m} Utensil Set", "{m} Spork", "{m} Camp Cutlery"],
         genders=["unisex"], colors="kitchen", weight=(20, 120), waterproof=None,
         materials=["titanium", "bamboo", "recycled stainless steel"],
         tags=["camping", "utensils", "cooking"], extra_tags=["gift", "lightweight", "zero-waste"],
         uses=["lunch on the go", "backpacking kitchens", "picnics"],
         features=["a carry pouch", "a long handle for dehydrated meals", "a bottle-opener end"]),

    # ---------------- Accessories ----------------
    dict(cat="Accessories", sub="running socks", n=5, noun="pair of running socks", models="speed",
         brands=["Stridewell", "Kestrel"], price=(12, 20), sizes="socks", titles=["{m} Run Sock", "{m} No-Show Sock", "{m} Crew Sock"],
         genders=["unisex"], colors="bright", weight=None, waterproof=None,
         materials=["merino wool blend", "recycled nylon and spandex", "moisture-wicking polyester blend"],
         tags=["running", "socks", "breathable"], extra_tags=["gift", "blister-free", "merino"],
         uses=["everyday training", "race day", "hot summer miles"],
         features=["a seamless toe", "arch compression", "a cushioned heel tab", "mesh venting"]),
    dict(cat="Accessories", sub="hiking socks", n=4, noun="pair of hiking socks", models="trail",
         brands=["Ridgeway", "Pinecrest"], price=(16, 24), sizes="socks", titles=["{m} Hiker Sock", "{m} Trek Crew Sock", "{m} Boot Sock"],
         genders=["unisex"], colors="earth", weight=None, waterproof=None,
         materials=["merino wool and nylon", "recycled wool blend"],
         tags=["hiking", "socks", "merino"], extra_tags=["gift", "warm", "backpacking"],
         uses=["long hikes", "boot days", "cold-weather trips"],
         features=["full cushioning", "a lifetime guarantee against holes", "a non-slip cuff"]),
    dict(cat="Accessories", sub="beanie", n=4, noun="beanie", models="weather",
         brands=["Boreal Works", "Alder & Co", "Pinecrest"], price=(19, 39), sizes="onesize", titles=["{m} Beanie", "{m} Cuff Beanie"],
         genders=["unisex"], colors="apparel", weight=None, waterproof=None,
         materials=["merino wool", "recycled acrylic knit", "wool and cashmere blend"],
         tags=["winter", "hat", "warm"], extra_tags=["gift", "skiing", "casual"],
         uses=["cold mornings", "ski days", "winter walks"],
         features=["a fold-up cuff", "a fleece headband lining", "a classic rib knit"]),
    dict(cat="Accessories", sub="cap", n=4, noun="cap", models="speed",
         brands=["Kestrel", "Pinecrest", "Driftline"], price=(22, 38), sizes="onesize", titles=["{m} Run Cap", "{m} Trucker Hat", "{m} Five-Panel"],
         genders=["unisex"], colors="bright", weight=None, waterproof=None,
         materials=["recycled polyester", "organic cotton twill", "lightweight nylon"],
         tags=["hat", "sun", "running"], extra_tags=["gift", "summer", "quick-dry"],
         uses=["sunny runs", "summer hikes", "travel"],
         features=["an adjustable strap", "a sweat-wicking band", "a packable brim"]),
    dict(cat="Accessories", sub="sun hat", n=3, noun="sun hat", models="nature",
         brands=["Ridgeway", "Talon Peak"], price=(29, 45), sizes="hat", titles=["{m} Sun Hat", "{m} Bucket Hat"],
         genders=["unisex"], colors="earth", weight=None, waterproof=None,
         materials=["UPF 50 nylon", "cotton canvas"],
         tags=["hat", "sun", "hiking"], extra_tags=["upf", "summer", "fishing"],
         uses=["desert hikes", "fishing trips", "gardening"],
         features=["a wide brim", "a chin cord", "mesh venting"]),
    dict(cat="Accessories", sub="gloves", n=4, noun="pair of gloves", models="weather",
         brands=["Boreal Works", "Talon Peak"], price=(24, 79), sizes="gloves", titles=["{m} Glove", "{m} Liner Glove", "{m} Insulated Glove"],
         genders=["unisex"], colors="earth", weight=None, waterproof=0.5,
         materials=["stretch fleece", "goatskin leather with synthetic insulation", "merino wool"],
         tags=["winter", "gloves", "warm"], extra_tags=["touchscreen", "skiing", "running"],
         uses=["cold runs", "ski days", "winter commutes"],
         features=["touchscreen fingertips", "a grippy palm", "a wrist cinch", "a soft nose wipe"]),
    dict(cat="Accessories", sub="sunglasses", n=4, noun="pair of sunglasses", models="speed",
         brands=["Driftline", "Kestrel"], price=(49, 169), sizes="onesize", titles=["{m} Sunglasses", "{m} Shield", "{m} Polarized"],
         genders=["unisex"], colors="tech", weight=None, waterproof=None,
         materials=["lightweight nylon frame with polarized lenses", "bio-based acetate frame with polycarbonate lenses"],
         tags=["sunglasses", "sun", "running"], extra_tags=["polarized", "fishing", "cycling", "gift"],
         uses=["sunny runs", "days on the water", "road trips"],
         features=["polarized lenses", "100% UV protection", "non-slip nose pads", "a microfiber case"]),
    dict(cat="Accessories", sub="belt", n=3, noun="belt", models="nature",
         brands=["Alder & Co", "Ridgeway"], price=(25, 49), sizes="belt", titles=["{m} Belt", "{m} Web Belt"],
         genders=["unisex"], colors="earth", weight=None, waterproof=None,
         materials=["recycled nylon webbing with an aluminum buckle", "full-grain leather"],
         tags=["belt", "travel", "everyday"], extra_tags=["gift", "durable"],
         uses=["travel days", "hiking pants", "everyday wear"],
         features=["a low-profile buckle", "an adjustable fit", "a hidden money pocket"]),
    dict(cat="Accessories", sub="trekking poles", n=4, noun="pair of trekking poles", models="trail",
         brands=["Ridgeway", "Talon Peak"], price=(59, 179), sizes="onesize", titles=["{m} Trek Poles", "{m} Carbon Poles", "{m} Folding Poles"],
         genders=["unisex"], colors="gear", weight=(280, 560), waterproof=None,
         materials=["7075 aluminum shafts with cork grips", "carbon-fiber shafts with foam grips"],
         tags=["hiking", "trekking-poles", "backpacking"], extra_tags=["lightweight", "adjustable", "snow"],
         uses=["steep descents", "river crossings", "long backpacking days"],
         features=["quick-lock length adjustment", "carbide tips", "swappable snow baskets", "a folding design"]),
    dict(cat="Accessories", sub="neck gaiter", n=3, noun="neck gaiter", models="weather",
         brands=["Pinecrest", "Boreal Works"], price=(15, 25), sizes="onesize", titles=["{m} Neck Gaiter", "{m} Tube Gaiter"],
         genders=["unisex"], colors="bright", weight=None, waterproof=None,
         materials=["recycled polyester microfiber", "merino wool"],
         tags=["gaiter", "running", "sun"], extra_tags=["winter", "gift", "upf"],
         uses=["cold runs", "sunny hikes", "ski days"],
         features=["UPF 50 protection", "a seamless tube design", "quick-dry fabric"]),
]

SIZE_RULES = {
    "shoes_men": [f"{n / 2:g}" for n in range(14, 27)],     # 7 .. 13 incl. halves
    "shoes_women": [f"{n / 2:g}" for n in range(14, 23)],   # 7 .. 11 incl. halves
    "apparel": ["XS", "S", "M", "L", "XL", "XXL"],
}

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def slugify(text: str) -> str:
    text = text.lower().replace("&", " and ").replace('"', " in ").replace("°", " ")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_weight(grams: int) -> str:
    if grams < 1000:
        return f"{grams} g ({grams / 28.3495:.1f} oz)"
    return f"{grams / 1000:.2f} kg ({grams / 453.592:.1f} lb)"


def pick_price(rng: random.Random, low: int, high: int) -> float:
    while True:
        whole = rng.randint(low, high)
        ending = rng.choice([".95", ".95", ".99", ".00", ".50"])
        if ending == ".00":
            whole = int(round(whole / 5.0)) * 5
        else:
            whole = whole - 1 if whole > low else whole
        price = Decimal(f"{whole}{ending}")
        if low <= price <= high:
            return float(price)


def pick_colors(rng: random.Random, palette: str) -> list[str]:
    colors = COLOR_SETS[palette]
    count = rng.choices([1, 2, 3, 4, 5], weights=[2, 4, 4, 3, 1])[0]
    return rng.sample(colors, count)


def pick_sizes(rng: random.Random, rule: str, gender: str) -> list[str]:
    if rule == "shoes":
        sizes = SIZE_RULES["shoes_women"] if gender == "women" else SIZE_RULES["shoes_men"]
        start = rng.choice([0, 0, 1, 2])
        end = len(sizes) - rng.choice([0, 0, 1, 2])
        return sizes[start:end]
    if rule == "apparel":
        sizes = SIZE_RULES["apparel"]
        start = rng.choice([0, 0, 1]) if gender != "men" else rng.choice([1, 1, 0])
        end = len(sizes) - (rng.choice([0, 1]) if gender != "women" else rng.choice([0, 1, 1]))
        return sizes[start:end]
    return {
        "socks": ["S/M", "L/XL"],
        "gloves": ["S/M", "L/XL"],
        "belt": ["S/M", "L/XL"],
        "hat": ["S/M", "L/XL"],
        "onesize": ["One Size"],
        "one": ["One Size"],
        "torso": ["S/M", "M/L"],
        "bag": ["Regular", "Long"],
        "none": [],
    }[rule]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def join_and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


ADJECTIVES = ["versatile", "dependable", "thoughtfully built", "well-rounded", "no-fuss", "durable", "comfortable"]


def capacity_clause(spec: dict, capacity: str) -> str:
    sub = spec["sub"]
    if "tent" in sub or sub == "hammock":
        return f"sleeps {capacity.split('-')[0]}" if "tent" in sub else f"fits {capacity.split('-')[0]}"
    if sub == "sleeping bag":
        return f"is rated to {capacity}"
    if sub == "headlamp":
        return f"throws up to {capacity.replace(' lm', ' lumens')}"
    if sub == "power bank":
        return f"stores {capacity}"
    return f"holds {capacity}"


def describe(rng: random.Random, spec: dict, title: str, brand: str, attrs: dict) -> str:
    use, use2 = rng.sample(spec["uses"], 2) if len(spec["uses"]) > 1 else (spec["uses"][0], spec["uses"][0])
    feats = rng.sample(spec["features"], min(3, len(spec["features"])))
    noun = spec["noun"]
    adj = rng.choice(ADJECTIVES if (attrs.get("weight_g") or 0) > 900 else ADJECTIVES + ["lightweight", "light and packable"])
    article = "an" if adj[0] in "aeiou" else "a"
    noun_plain = noun.replace("pair of ", "")
    openers = [
        f"The {title} is {article} {adj} {noun_plain} built for {use}.",
        f"Built for {use}, the {title} from {brand} is {article} {adj} {noun_plain}.",
        f"{brand} designed the {title} for {use}.",
        f"Meet the {title}: {article} {adj} {noun_plain} for {use}.",
        f"If your plans include {use}, the {title} is {article} {adj} choice.",
        f"The {brand} {title} is made for {use} and more.",
    ]
    feature_lines = [
        f"It pairs {feats[0]} with {feats[1]}.",
        f"Key details include {join_and(feats)}.",
        f"You get {feats[0]} and {feats[1]}, plus {feats[-1]}.",
        f"Look for {feats[0]} and {feats[1]}.",
        f"{cap(feats[0])} and {feats[1]} set it apart.",
    ]
    extras = []
    if attrs.get("capacity"):
        extras.append(capacity_clause(spec, attrs["capacity"]))
    if attrs.get("battery_hours"):
        extras.append(f"runs up to {attrs['battery_hours']} hours per charge")
    if attrs.get("waterproof") is True and spec["cat"] != "Electronics":
        extras.append(rng.choice(["is fully waterproof", "keeps water out in a downpour", "stays dry in steady rain"]))
    elif attrs.get("waterproof") is True:
        extras.append("shrugs off rain and splashes")
    material = attrs["material"]
    weight = attrs.get("weight_g")
    if weight:
        tail = f", and it {join_and(extras)}" if extras else ""
        spec_line = rng.choice([
            f"Made from {material}, it weighs {fmt_weight(weight)}{tail}.",
            f"Built with {material}, it comes in at {fmt_weight(weight)}{tail}.",
            f"Constructed from {material}, it tips the scales at {fmt_weight(weight)}{tail}.",
        ])
    else:
        tail = f" and {join_and(extras)}" if extras else ""
        spec_line = rng.choice([
            f"It is made from {material}{tail}.",
            f"Made from {material}, it is a favorite for {use2}{', and it ' + join_and(extras) if extras else ''}.",
            f"Built with {material}, it feels good all day{tail}.",
        ])
    closers = [f"A great pick for {use2}.", f"It is just as at home on {use2}.", "Backed by our 1-year warranty."]
    if spec["cat"] == "Electronics" or spec["sub"] == "lantern":
        closers[-1] = "Covered by our 2-year electronics warranty."
    elif spec["cat"] in ("Backpacks & Bags",) or "tent" in spec["sub"]:
        closers[-1] = "Covered by our 5-year pack and tent warranty."
    form = rng.random()
    if form < 0.5:
        sentences = [rng.choice(openers), rng.choice(feature_lines), spec_line]
    elif form < 0.75:
        sentences = [rng.choice(openers), spec_line[:-1] + f", with {feats[0]} and {feats[1]}."]
    else:
        lead = (f"{cap(feats[0])} and {feats[1]} make the {title} {article} {adj} {noun_plain} for {use}."
                if rng.random() < 0.5 else rng.choice(openers))
        sentences = [lead, spec_line]
        if rng.random() < 0.6:
            sentences.append(rng.choice(closers))
    return " ".join(sentences)


# --------------------------------------------------------------------------------------------------
# catalog
# --------------------------------------------------------------------------------------------------

def build_catalog(rng: random.Random) -> list[dict]:
    for spec in SPECS:
        for brand in spec["brands"]:
            assert spec["cat"] in BRAND_CATEGORIES[brand], (brand, spec["cat"])
    titles: set[str] = set()
    plan = [spec for spec in SPECS for _ in range(spec["n"])]
    products = []
    for index, spec in enumerate(plan):
        pid = f"P{FIRST_PRODUCT_ID + index}"
        brand = rng.choice(spec["brands"])
        gender = rng.choice(spec["genders"])
        capacity = rng.choice(spec["capacity"]) if spec.get("capacity") else None
        wp = spec.get("waterproof")
        waterproof = None if wp is None else (wp if isinstance(wp, bool) else rng.random() < wp)
        templates = [t for t in spec["titles"] if waterproof or " WP" not in t]
        for attempt in range(500):
            model = rng.choice(MODELS[spec["models"]])
            template = rng.choice(templates)
            version = rng.choice(["", "", f" {rng.randint(2, 6)}"]) if attempt < 50 else f" {rng.randint(2, 9)}"
            number = re.sub(r"[^0-9.]", "", capacity.split("-")[0]) if capacity else ""
            title = template.format(m=model, v=version, c=number).replace("  ", " ").strip()
            if title not in titles:
                break
        else:
            raise RuntimeError(f"could not find a unique title for {spec['sub']}")
        titles.add(title)

        attrs: dict = {"colors": pick_colors(rng, spec["colors"]), "sizes": pick_sizes(rng, spec["sizes"], gender),
                       "material": rng.choice(spec["materials"]), "gender": gender}
        # bigger capacity -> heavier and pricier (sleeping bags: a lower temperature rating is the "bigger" one)
        scale = None
        if capacity and len(spec["capacity"]) > 1:
            scale = spec["capacity"].index(capacity) / (len(spec["capacity"]) - 1)
            if spec["sub"] == "sleeping bag":
                scale = 1 - scale
        if spec.get("weight"):
            low, high = spec["weight"]
            grams = rng.randint(low, high) if scale is None else low + (high - low) * (0.75 * scale + 0.25 * rng.random())
            attrs["weight_g"] = int(round(grams / 5.0)) * 5
        if waterproof is not None:
            attrs["waterproof"] = waterproof
        if capacity:
            attrs["capacity"] = capacity
        if spec.get("battery"):
            attrs["battery_hours"] = rng.randint(*spec["battery"])

        tags = list(spec["tags"])
        if attrs.get("waterproof") and "waterproof" not in tags:
            tags.append("waterproof")
        material = attrs["material"].lower()
        if "recycled" in material and "recycled" not in tags:
            tags.append("recycled")
        animal = any(w in material for w in ("wool", "leather", "down", "suede", "nubuck", "goatskin", "cashmere"))
        if not animal and spec["cat"] in ("Running Shoes", "Hiking Footwear", "Tops & Base Layers", "Pants & Shorts") \
                and rng.random() < 0.35 and "vegan" not in tags:
            tags.append("vegan")
        extra = [t for t in spec["extra_tags"] if t not in tags and not (t == "vegan" and animal)]
        rng.shuffle(extra)
        while len(tags) < 3 or (len(tags) < 6 and extra and rng.random() < 0.45):
            tags.append(extra.pop())
        tags = tags[:6]

        low, high = spec["price"]
        if scale is not None:
            span = high - low
            low = int(low + span * 0.7 * scale)
            high = max(low + 4, int(low + span * 0.3))
        price = pick_price(rng, low, high)
        rating = round(min(4.9, max(3.2, rng.triangular(3.2, 4.9, 4.5))), 1)
        review_count = int(min(2400, rng.lognormvariate(3.6, 1.1))) + rng.randint(2, 9)
        product = {
            "id": pid, "title": title, "brand": brand, "category": spec["cat"], "subcategory": spec["sub"],
            "price": price, "currency": "USD", "description": "",
            "attributes": attrs, "stock": rng.randint(1, 250), "rating": rating, "review_count": review_count,
            "image": f"images/{pid}.svg", "url": f"/products/{pid.lower()}-{slugify(title)}", "tags": tags,
            "final_sale": False,
        }
        product["description"] = describe(rng, spec, title, brand, attrs)
        products.append(product)

    n = len(products)
    for i in rng.sample(range(n), round(n * 0.10)):
        products[i]["stock"] = 0
    for i in rng.sample(range(n), round(n * 0.05)):
        products[i]["final_sale"] = True
    return products


# --------------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------------

GLYPHS = {
    "Running Shoes": '<path d="M58 128v-30h34l22 14 52 8q16 3 16 14v6z"/>',
    "Hiking Footwear": '<path d="M76 134V66h34v40l50 8q14 3 14 14v6z"/>',
    "Jackets & Outerwear": '<path d="M96 58l24 12 24-12 30 20-10 22-10-5v47H86V95l-10 5-10-22z"/>',
    "Tops & Base Layers": '<path d="M100 62h40l28 16-10 18-12-6v50H94V90l-12 6-10-18z"/>',
    "Pants & Shorts": '<path d="M90 58h60l8 84h-26l-12-52-12 52H82z"/>',
    "Backpacks & Bags": '<rect x="86" y="60" width="68" height="82" rx="16"/>',
    "Camping & Tents": '<path d="M58 140l62-82 62 82z"/>',
    "Electronics": '<path d="M128 54l-38 54h26l-10 40 42-56h-26z"/>',
    "Hydration & Kitchen": '<path d="M110 54h20v12l8 10v64q0 6-6 6h-24q-6 0-6-6V76l8-10z"/>',
    "Accessories": '<circle cx="96" cy="102" r="20"/><circle cx="144" cy="102" r="20"/>',
}


def short_title(title: str, limit: int = 18) -> str:
    out = ""
    for word in title.split():
        candidate = f"{out} {word}".strip()
        if len(candidate) > limit and out:
            break
        out = candidate
    return out


def render_svg(product: dict) -> str:
    color = product["attributes"]["colors"][0]
    fill = PALETTE_HEX[color]
    ink = "#1e2428" if color in LIGHT_COLORS else "#ffffff"
    text = escape(short_title(product["title"]))
    glyph = GLYPHS[product["category"]]
    label = escape(product["brand"])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240" role="img" '
        f'aria-label="{escape(product["title"], {chr(34): "&quot;"})}">'
        f'<rect x="4" y="4" width="232" height="232" rx="28" fill="{fill}"/>'
        f'<g fill="{ink}" opacity="0.85">{glyph}</g>'
        f'<text x="120" y="184" fill="{ink}" font-family="Helvetica, Arial, sans-serif" font-size="19" '
        f'font-weight="bold" text-anchor="middle">{text}</text>'
        f'<text x="120" y="210" fill="{ink}" font-family="Helvetica, Arial, sans-serif" font-size="13" '
        f'text-anchor="middle" opacity="0.8">{label}</text></svg>\n'
    )


# --------------------------------------------------------------------------------------------------
# customers and orders
# --------------------------------------------------------------------------------------------------

US_PLACES = [
    ("Portland", "OR", "97214"), ("Seattle", "WA", "98103"), ("Denver", "CO", "80205"), ("Boulder", "CO", "80302"),
    ("Austin", "TX", "78704"), ("Chicago", "IL", "60614"), ("Minneapolis", "MN", "55408"), ("Boston", "MA", "02118"),
    ("Brooklyn", "NY", "11215"), ("Burlington", "VT", "05401"), ("Asheville", "NC", "28801"), ("Atlanta", "GA", "30307"),
    ("Salt Lake City", "UT", "84102"), ("Bend", "OR", "97701"), ("Boise", "ID", "83702"), ("Missoula", "MT", "59801"),
    ("San Diego", "CA", "92104"), ("Oakland", "CA", "94610"), ("Sacramento", "CA", "95816"), ("Phoenix", "AZ", "85004"),
    ("Flagstaff", "AZ", "86001"), ("Madison", "WI", "53703"), ("Ann Arbor", "MI", "48104"), ("Pittsburgh", "PA", "15213"),
    ("Richmond", "VA", "23220"), ("Charleston", "SC", "29401"), ("Nashville", "TN", "37206"), ("Albuquerque", "NM", "87106"),
    ("Anchorage", "AK", "99501"), ("Honolulu", "HI", "96814"), ("Portland", "ME", "04101"), ("Columbus", "OH", "43215"),
]
STREETS = ["Maple", "Oak", "Cedar", "Pine", "Elm", "Willow", "Birch", "Lake", "Hillcrest", "River", "Sunset", "Park",
           "Highland", "Forest", "Meadow", "Spruce", "Juniper", "Aspen", "Canyon", "Ridge"]
STREET_TYPES = ["St", "Ave", "Rd", "Ln", "Dr", "Way", "Ct", "Blvd"]
FIRST_NAMES = ["Maya", "Jordan", "Priya", "Marcus", "Elena", "Theo", "Aisha", "Daniel", "Sofia", "Noah", "Grace",
               "Mateo", "Hannah", "Isaac", "Leilani", "Caleb", "Nora", "Diego", "Ruth", "Owen", "Camila", "Wesley",
               "Ava", "Samuel", "Mei", "Julian", "Zoe", "Andre", "Lucy", "Ezra", "Fatima", "Graham", "Iris", "Rafael",
               "Tessa", "Kofi", "Naomi", "Levi", "Harper", "Miles"]
LAST_NAMES = ["Alvarez", "Bennett", "Chen", "Delgado", "Ellison", "Fischer", "Gallagher", "Hayes", "Ibrahim",
              "Jensen", "Kowalski", "Lindqvist", "Moreno", "Nakamura", "Okafor", "Patel", "Quinn", "Ramirez",
              "Sullivan", "Tanaka", "Underwood", "Vasquez", "Whitaker", "Xu", "Yamamoto", "Zimmerman", "Brooks",
              "Castillo", "Donovan", "Foster", "Greer", "Holloway", "Kim", "Larsen", "Mendoza", "Novak", "Ortega",
              "Park", "Reyes", "Stone"]
INTERNATIONAL = [
    ("Chloe", "Tremblay", {"line1": "455 Rue Saint-Paul Ouest", "city": "Montreal", "region": "QC", "postal_code": "H2Y 2A4", "country": "Canada"}, "+1 514-555-01{}"),
    ("Liam", "MacDonald", {"line1": "88 Water St, Unit 1204", "city": "Vancouver", "region": "BC", "postal_code": "V6B 1B8", "country": "Canada"}, "+1 604-555-01{}"),
    ("Avery", "Singh", {"line1": "210 Queens Quay W", "city": "Toronto", "region": "ON", "postal_code": "M5J 2Y3", "country": "Canada"}, "+1 416-555-01{}"),
    ("Oliver", "Hughes", {"line1": "14 Albert Road", "city": "Manchester", "region": "Greater Manchester", "postal_code": "M19 2EQ", "country": "United Kingdom"}, "+44 161 555 01{}"),
    ("Freya", "Campbell", {"line1": "7 Marchmont Crescent", "city": "Edinburgh", "region": "Scotland", "postal_code": "EH9 1HN", "country": "United Kingdom"}, "+44 131 555 01{}"),
    ("Lena", "Hoffmann", {"line1": "Schönhauser Allee 112", "city": "Berlin", "region": "Berlin", "postal_code": "10437", "country": "Germany"}, "+49 30 555 01{}"),
    ("Jonas", "Weber", {"line1": "Leopoldstraße 64", "city": "Munich", "region": "Bavaria", "postal_code": "80802", "country": "Germany"}, "+49 89 555 01{}"),
    ("Isla", "Fraser", {"line1": "23 Brunswick St", "city": "Fitzroy", "region": "VIC", "postal_code": "3065", "country": "Australia"}, "+61 3 5550 01{}"),
]
US_AREA = {"OR": "503", "WA": "206", "CO": "303", "TX": "512", "IL": "312", "MN": "612", "MA": "617", "NY": "718",
           "VT": "802", "NC": "828", "GA": "404", "UT": "801", "ID": "208", "MT": "406", "CA": "619", "AZ": "602",
           "WI": "608", "MI": "734", "PA": "412", "VA": "804", "SC": "843", "TN": "615", "NM": "505", "AK": "907",
           "HI": "808", "ME": "207", "OH": "614"}
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]


def build_customers(rng: random.Random, intl_countries: list[str]) -> list[dict]:
    customers = []
    phone_suffixes = rng.sample(range(100), 40)
    firsts = rng.sample(FIRST_NAMES, 32)
    lasts = rng.sample(LAST_NAMES, 32)
    remote = [p for p in US_PLACES if p[1] in ("AK", "HI")]          # always include Alaska and Hawaii
    places = remote + rng.sample([p for p in US_PLACES if p not in remote], 30 - len(remote))
    rng.shuffle(places)
    people = []
    for i in range(32):
        city, state, zipcode = places[i % len(places)]
        if i == 7:
            line1 = f"PO Box {rng.randint(100, 9999)}"
        else:
            line1 = f"{rng.randint(12, 9899)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
            if rng.random() < 0.25:
                line1 += f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
        address = {"line1": line1, "city": city, "region": state, "postal_code": zipcode, "country": "United States"}
        people.append((firsts[i], lasts[i], address, f"+1 {US_AREA[state]}-555-01{{}}"))
    for first, last, address, phone in INTERNATIONAL:
        assert address["country"] in intl_countries, address["country"]
        people.append((first, last, dict(address), phone))
    order = list(range(len(people)))
    rng.shuffle(order)
    emails = set()
    for n, idx in enumerate(order):
        first, last, address, phone = people[idx]
        style = rng.choice(["{f}.{l}", "{f}{l}", "{fi}{l}", "{f}_{l}{n}", "{f}.{l}{n}"])
        email = style.format(f=first.lower(), l=last.lower(), fi=first[0].lower(), n=rng.randint(1, 99))
        email = f"{email}@{rng.choice(EMAIL_DOMAINS)}"
        while email in emails:
            email = email.replace("@", f"{rng.randint(1, 9)}@")
        emails.add(email)
        customers.append({
            "id": f"C{n + 1:03d}", "name": f"{first} {last}", "email": email,
            "phone": phone.format(f"{phone_suffixes[n]:02d}"), "address": address,
        })
    return customers


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def ship_time(rng: random.Random, placed: datetime) -> datetime:
    """Orders placed before 1 pm ET on a business day ship that day; others the next business day."""
    day = placed.date()
    if not (is_business_day(day) and placed.hour < 13):
        day = add_business_days(day, 1)
    return datetime.combine(day, time(rng.randint(15, 18), rng.randint(0, 59)))


def transit_days(rng: random.Random, method: str, region: str) -> int:
    if method == "Standard":
        return rng.randint(5, 8) if region in ("AK", "HI") else rng.randint(3, 5)
    return {"Expedited": 2, "Overnight": 1}.get(method) or rng.randint(7, 14)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    offset = "-04:00" if moment < datetime(2026, 11, 1, 2, 0) else "-05:00"   # EDT until Nov 1, 2026
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    moment = start + timedelta(seconds=rng.randint(0, seconds))
    if moment.hour < 6:                                   # few people shop at 3 am
        moment = moment.replace(hour=rng.randint(7, 22))
        if moment > end:
            moment = end - timedelta(minutes=rng.randint(5, 90))
    return moment.replace(second=0)


def tracking_number(rng: random.Random, carrier: str) -> str:
    digits = "0123456789"
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + "".join(rng.choice(digits) for _ in range(18))
    if carrier == "FedEx":
        return str(rng.randint(1, 9)) + "".join(rng.choice(digits) for _ in range(11))
    return str(rng.randint(1, 9)) + "".join(rng.choice(digits) for _ in range(9))     # DHL Express: 10 digits


RETURN_REASONS = ["Too small", "Too large", "Colour not as expected", "No longer needed", "Ordered the wrong model",
                  "Fit was not right", "Changed my mind"]


def schedule(rng: random.Random, status: str, kind: str, method: str, region: str) -> dict:
    """Pick consistent timestamps for one order; retries until the status constraints hold."""
    recent_cutoff = NOW - timedelta(days=30)
    for _ in range(10000):
        out = {"shipped_at": None, "delivered_at": None, "cancelled_at": None, "returned_at": None,
               "estimated_delivery": None}
        if status in ("placed", "paid"):
            out["placed_at"] = random_moment(rng, NOW - timedelta(days=3), NOW - timedelta(minutes=20))
            return out
        if status == "cancelled":
            placed = random_moment(rng, ORDERS_FROM, NOW - timedelta(hours=2))
            ships = ship_time(rng, placed)
            window = min(ships, NOW) - placed
            if window < timedelta(minutes=30):
                continue
            cancelled = placed + timedelta(minutes=rng.randint(15, int(window.total_seconds() // 60) - 5))
            out.update(placed_at=placed, cancelled_at=cancelled.replace(second=0))
            return out
        if status == "shipped":
            placed = random_moment(rng, NOW - timedelta(days=16 if method == "International" else 6), NOW - timedelta(hours=20))
        elif status == "delivered" and kind == "recent":
            placed = random_moment(rng, recent_cutoff - timedelta(days=6), NOW - timedelta(days=2))
        elif status == "delivered":
            placed = random_moment(rng, ORDERS_FROM, recent_cutoff - timedelta(days=20))
        else:  # returned
            placed = random_moment(rng, ORDERS_FROM, NOW - timedelta(days=16))
        shipped = ship_time(rng, placed)
        due = add_business_days(shipped.date(), transit_days(rng, method, region))
        delivered = datetime.combine(due, time(rng.randint(10, 19), rng.randint(0, 59)))
        if shipped > NOW - timedelta(hours=1):
            continue
        if status == "shipped":
            if delivered <= NOW:                         # still in transit (may arrive later today)
                continue
            out.update(placed_at=placed, shipped_at=shipped, estimated_delivery=due.isoformat())
            return out
        if delivered > NOW - timedelta(hours=2):
            continue
        if status == "delivered":
            if (kind == "recent") != (delivered >= recent_cutoff):
                continue
            out.update(placed_at=placed, shipped_at=shipped, delivered_at=delivered)
            return out
        returned_day = delivered.date() + timedelta(days=rng.randint(4, 24))
        while not is_business_day(returned_day):
            returned_day += timedelta(days=1)
        returned = datetime.combine(returned_day, time(rng.randint(9, 16), rng.randint(0, 59)))
        if returned > NOW - timedelta(hours=1) or returned_day > delivered.date() + timedelta(days=30):
            continue
        refund_day = add_business_days(returned_day, 3)    # refunds post 3 business days after the return arrives
        refunded = datetime.combine(refund_day, time(rng.randint(10, 16), rng.randint(0, 59)))
        if (kind == "processing") != (refunded > NOW):
            continue
        out.update(placed_at=placed, shipped_at=shipped, delivered_at=delivered, returned_at=returned,
                   refunded_at=None if refunded > NOW else refunded)
        return out
    raise RuntimeError(f"could not schedule a {status} order")


def build_orders(rng: random.Random, store: dict, catalog: list[dict], customers: list[dict]) -> list[dict]:
    shipping = store["shipping"]
    prices = {m["name"]: money(m["price"]) for m in shipping["methods"]}
    free_threshold = money(shipping["free_shipping_threshold"])
    intl_price = money(shipping["international"]["price"])
    intl_free = money(shipping["international"]["free_threshold"])
    payments = list(store["payments"]["methods"])
    statuses = list(store["orders"]["statuses"])
    plan = {"placed": 10, "paid": 10, "shipped": 12, "delivered": 24, "cancelled": 10, "returned": 14}
    assert set(plan) == set(statuses), (plan, statuses)

    # status list with a sub-kind (delivered: recent/old; returned: refunded/processing)
    jobs = []
    for status in statuses:
        for i in range(plan[status]):
            kind = ""
            if status == "delivered":
                kind = "recent" if i < 11 else "old"
            elif status == "returned":
                kind = "processing" if i < 4 else "refunded"
            jobs.append((status, kind))
    rng.shuffle(jobs)

    # customers: some with 1 order, several with 2-4
    counts = [1] * 16 + [2] * 12 + [3] * 8 + [4] * 4                # 16 + 24 + 24 + 16 = 80
    assert sum(counts) == len(jobs) and len(counts) == len(customers)
    rng.shuffle(counts)
    owners = [c for c, k in zip(customers, counts) for _ in range(k)]
    rng.shuffle(owners)

    in_stock = [p for p in catalog if p["stock"] > 0]
    returnable = [p for p in catalog if not p["final_sale"]]
    drafts = []
    for (status, kind), customer in zip(jobs, owners):
        address = customer["address"]
        domestic = address["country"] == "United States"
        if not domestic:
            method = "International"
        elif address["line1"].startswith("PO Box"):
            method = "Standard"
        else:
            method = rng.choices(["Standard", "Expedited", "Overnight"], weights=[70, 20, 10])[0]
        times = schedule(rng, status, kind, method, address["region"])

        pool = returnable if status == "returned" else (in_stock if status in ("placed", "paid") else catalog)
        n_lines = rng.choices([1, 2, 3, 4], weights=[40, 32, 18, 10])[0]
        items = []
        for product in rng.sample(pool, n_lines):
            attrs = product["attributes"]
            cheap = product["price"] < 40
            line = {"product_id": product["id"], "title": product["title"],
                    "quantity": rng.choices([1, 2, 3], weights=[80, 15, 5] if cheap else [92, 8, 0])[0],
                    "unit_price": product["price"]}
            if attrs.get("sizes"):
                line["size"] = rng.choice(attrs["sizes"])
            line["color"] = rng.choice(attrs["colors"])
            items.append(line)
        subtotal = sum((money(i["unit_price"]) * i["quantity"] for i in items), Decimal("0.00"))
        if method == "International":
            ship_cost = Decimal("0.00") if subtotal >= intl_free else intl_price
        elif method == "Standard":
            ship_cost = Decimal("0.00") if subtotal >= free_threshold else prices["Standard"]
        else:
            ship_cost = prices[method]
        tax = money(subtotal * TAX_RATE) if domestic else Decimal("0.00")
        total = subtotal + ship_cost + tax

        carrier = tracking = None
        if times["shipped_at"] is not None:
            carrier = {"Expedited": "UPS", "Overnight": "FedEx", "International": "DHL"}.get(method)
            if carrier is None:
                carrier = "USPS" if address["line1"].startswith("PO Box") else rng.choice(["USPS", "UPS"])
            tracking = tracking_number(rng, carrier)
        cards_only = status == "returned" or not domestic      # gift-card refunds become store credit; keep returns simple
        payment = rng.choice([m for m in payments if not (cards_only and "gift card" in m.lower())])
        order = {
            "id": None, "customer_id": customer["id"], "email": customer["email"], "status": status,
            "placed_at": times["placed_at"], "items": items, "subtotal": float(subtotal),
            "shipping_method": method, "shipping_cost": float(ship_cost), "tax": float(tax), "total": float(total),
            "currency": store.get("currency", "USD"), "payment_method": payment,
            "shipping_address": dict(address), "carrier": carrier, "tracking_number": tracking,
            "estimated_delivery": times["estimated_delivery"],
            "shipped_at": times["shipped_at"], "delivered_at": times["delivered_at"],
            "cancelled_at": times["cancelled_at"], "returned_at": times["returned_at"],
        }
        if status == "returned":
            refund_amount = subtotal + tax          # original shipping is not refunded for customer-choice returns
            order["return_id"] = None
            order["return_reason"] = rng.choice(RETURN_REASONS)
            order["refund"] = {
                "amount": float(refund_amount),
                "status": "refunded" if times["refunded_at"] else "processing",
                "refunded_at": iso(times["refunded_at"]),
            }
        drafts.append(order)

    drafts.sort(key=lambda o: o["placed_at"])
    return_ids = sorted(rng.sample(range(100000, 999999), plan["returned"]))
    r = 0
    for n, order in enumerate(drafts):
        order["id"] = str(FIRST_ORDER_ID + n)
        for key in ("placed_at", "shipped_at", "delivered_at", "cancelled_at", "returned_at"):
            order[key] = iso(order[key])
        if order["status"] == "returned":
            order["return_id"] = f"R{return_ids[r]}"
            r += 1
    return drafts


# --------------------------------------------------------------------------------------------------
# browsing and purchase history (history.csv): its own seeded generator, run after everything else, so the
# files above never change when it does
# --------------------------------------------------------------------------------------------------

HISTORY_SEED = 1602
HISTORY_SHOPPERS = 3000
HISTORY_FROM = datetime(2026, 3, 1, 12, 0)          # UTC
HISTORY_TO = datetime(2026, 11, 20, 14, 0)         # UTC: NOW in store time

# What a shopper goes on to buy after a subcategory, likeliest first (weights halve down the list).
COMPLEMENTS = {
    "trail running shoes": ["running socks", "running vest", "gps watch", "running shorts", "headlamp"],
    "road running shoes": ["running socks", "running shorts", "running t-shirt", "gps watch", "wireless earbuds"],
    "racing shoes": ["running socks", "running shorts", "gps watch", "tank top"],
    "stability running shoes": ["running socks", "running tights", "long-sleeve running top", "gps watch"],
    "recovery sandals": ["joggers", "water bottle"],
    "hiking boots": ["hiking socks", "trekking poles", "hiking pants", "daypack"],
    "hiking shoes": ["hiking socks", "daypack", "hiking shorts", "trekking poles"],
    "approach shoes": ["hiking socks", "daypack", "gloves", "softshell jacket"],
    "winter boots": ["hiking socks", "beanie", "gloves", "insulated jacket"],
    "trail sandals": ["dry bag", "sun hat", "hiking shorts"],
    "camp shoes": ["camp chair", "lantern"],
    "backpacking tent": ["sleeping bag", "sleeping pad", "backpacking pack", "headlamp"],
    "car camping tent": ["sleeping bag", "camp chair", "lantern", "sleeping pad"],
    "sleeping bag": ["sleeping pad", "camp stove", "headlamp"],
    "sleeping pad": ["camp stove", "lantern", "headlamp"],
    "camp stove": ["cookware set", "utensil set", "water filter"],
    "cookware set": ["utensil set", "travel mug"],
    "utensil set": ["travel mug", "water bottle"],
    "hammock": ["dry bag", "headlamp"],
    "lantern": ["power bank", "camp chair"],
    "camp chair": ["lantern", "bluetooth speaker"],
    "backpacking pack": ["hydration reservoir", "water filter", "dry bag", "trekking poles"],
    "daypack": ["water bottle", "hydration reservoir", "sun hat"],
    "running vest": ["hydration reservoir", "headlamp", "running socks"],
    "everyday backpack": ["travel mug", "headphones", "power bank"],
    "travel duffel": ["power bank", "headphones", "travel mug"],
    "hip pack": ["water bottle", "sunglasses"],
    "dry bag": ["hammock", "sun hat"],
    "rain jacket": ["rain pants", "base layer top", "cap"],
    "insulated jacket": ["beanie", "gloves", "base layer top"],
    "fleece jacket": ["beanie", "base layer top", "gloves"],
    "softshell jacket": ["gloves", "neck gaiter", "hiking pants"],
    "windbreaker": ["running t-shirt", "cap", "running tights"],
    "insulated vest": ["base layer top", "beanie"],
    "base layer top": ["base layer bottoms", "hiking socks", "neck gaiter"],
    "base layer bottoms": ["hiking socks", "beanie"],
    "running t-shirt": ["running shorts", "running socks", "cap"],
    "long-sleeve running top": ["running tights", "gloves", "headlamp"],
    "tank top": ["running shorts", "sunglasses"],
    "sun shirt": ["sun hat", "sunglasses", "hiking shorts"],
    "hoodie": ["joggers", "beanie"],
    "hiking pants": ["belt", "hiking socks", "sun shirt"],
    "hiking shorts": ["sun shirt", "sun hat", "hiking socks"],
    "running shorts": ["running socks", "tank top", "running t-shirt"],
    "running tights": ["long-sleeve running top", "gloves"],
    "joggers": ["hoodie", "travel mug"],
    "rain pants": ["rain jacket", "hiking socks"],
    "gps watch": ["wireless earbuds", "running vest", "headlamp"],
    "wireless earbuds": ["gps watch", "power bank"],
    "headphones": ["power bank", "travel duffel"],
    "headlamp": ["power bank", "lantern"],
    "power bank": ["headlamp", "bluetooth speaker"],
    "bluetooth speaker": ["camp chair", "power bank"],
    "water bottle": ["hip pack", "travel mug"],
    "travel mug": ["water bottle"],
    "water filter": ["hydration reservoir", "water bottle"],
    "hydration reservoir": ["water filter", "running vest"],
    "running socks": ["cap", "running shorts"],
    "hiking socks": ["trekking poles", "hiking pants"],
    "trekking poles": ["hiking socks", "daypack"],
    "beanie": ["gloves", "neck gaiter"],
    "gloves": ["beanie", "neck gaiter"],
    "cap": ["sunglasses"],
    "sun hat": ["sunglasses", "sun shirt"],
    "sunglasses": ["cap", "sun hat"],
    "neck gaiter": ["gloves", "beanie"],
    "belt": ["hiking pants"],
}

# Personas: (share of shoppers, the subcategories they come to the store for, likeliest first).
PERSONAS = {
    "trail runner": (10, ["trail running shoes", "running vest", "gps watch", "running shorts", "headlamp"]),
    "road runner": (14, ["road running shoes", "stability running shoes", "racing shoes", "running t-shirt",
                         "running shorts", "gps watch", "wireless earbuds", "running tights"]),
    "camper": (12, ["car camping tent", "sleeping bag", "camp chair", "lantern", "camp stove", "bluetooth speaker"]),
    "backpacker": (9, ["backpacking tent", "backpacking pack", "sleeping bag", "sleeping pad", "water filter",
                       "camp stove"]),
    "day hiker": (14, ["hiking shoes", "hiking boots", "daypack", "trekking poles", "hiking pants", "sun shirt",
                       "water bottle"]),
    "winter adventurer": (8, ["winter boots", "insulated jacket", "base layer top", "fleece jacket", "beanie",
                              "gloves"]),
    "commuter": (11, ["everyday backpack", "rain jacket", "headphones", "travel mug", "softshell jacket",
                      "power bank"]),
    "traveller": (8, ["travel duffel", "headphones", "power bank", "hoodie", "joggers", "travel mug"]),
    "scrambler": (6, ["approach shoes", "softshell jacket", "hip pack", "gloves", "daypack"]),
    "paddler": (8, ["trail sandals", "dry bag", "sun hat", "sunglasses", "sun shirt", "hammock"]),
}
VISIT_HOURS = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 0, 1, 2]   # UTC: 8 am to 10 pm on the US east coast
REPEATABLE = {"running socks", "hiking socks", "water bottle", "gloves", "cap"}   # bought again now and then


SIZE_GROUPS = {
    "shoes": set(SIZE_RULES["shoes_men"]) | set(SIZE_RULES["shoes_women"]),
    "apparel": set(SIZE_RULES["apparel"]),
    "pairs": {"S/M", "L/XL"},
}


def _history_weight(product: dict, shopper: dict) -> float:
    """How much this shopper wants this product: popularity, tempered, times their gender, size, colour and
    brand preferences."""
    attrs = product["attributes"]
    weight = (1 + product["review_count"]) ** 0.4 * max(product["rating"] - 2.8, 0.3)
    if attrs.get("gender") not in ("unisex", shopper["gender"]):
        weight *= 0.05
    sizes = set(attrs.get("sizes") or [])
    for group, size in shopper["sizes"].items():
        if sizes & SIZE_GROUPS[group] and size not in sizes:
            weight *= 0.05
    if set(attrs.get("colors") or []) & shopper["colors"]:
        weight *= 3.0
    if product["brand"] in shopper["brands"]:
        weight *= 5.0
    return weight


def _new_shopper(rng: random.Random, by_sub: dict[str, list[dict]]) -> dict:
    names = list(PERSONAS)
    persona = rng.choices(names, weights=[PERSONAS[n][0] for n in names])[0]
    gender = rng.choice(["women", "men"])
    shoe = rng.choice(SIZE_RULES["shoes_women"][1:-2] if gender == "women" else SIZE_RULES["shoes_men"][2:-2])
    apparel = rng.choices(["XS", "S", "M", "L", "XL", "XXL"],
                          weights=[3, 6, 6, 3, 1, 0.5] if gender == "women" else [0.5, 2, 6, 6, 4, 1.5])[0]
    pair = "S/M" if apparel in ("XS", "S", "M") else "L/XL"
    brands = sorted({p["brand"] for sub in PERSONAS[persona][1] for p in by_sub[sub]})
    palette = sorted(PALETTE_HEX)
    return {"persona": persona, "gender": gender, "sizes": {"shoes": shoe, "apparel": apparel, "pairs": pair},
            "colors": set(rng.sample(palette, 2)), "brands": set(rng.sample(brands, 2))}


def _ranked_pick(rng: random.Random, options: list[str]) -> str:
    """One of `options`, the first likeliest, each next one half as likely."""
    return rng.choices(options, weights=[0.5 ** i for i in range(len(options))])[0]


def _next_mission(rng: random.Random, shopper: dict, bought: list[str]) -> str:
    """The subcategory the shopper comes back for: mostly a complement of what they bought last, else one of their
    persona's interests they have not bought yet."""
    if bought and rng.random() < 0.75:
        options = [s for s in COMPLEMENTS[bought[-1]] if s not in bought or s in REPEATABLE]
        if options:
            return _ranked_pick(rng, options)
    interests = [s for s in PERSONAS[shopper["persona"]][1] if s not in bought] or PERSONAS[shopper["persona"]][1]
    return _ranked_pick(rng, interests)


def _session(rng: random.Random, shopper: dict, mission: str, by_sub: dict[str, list[dict]],
             catalog: list[dict], weights: dict[str, float]) -> tuple[list[tuple[str, str]], str | None]:
    """One visit: browse several products of `mission`, maybe add one to the cart and buy it (sometimes with a
    complement); a few stray views of anything. Returns the (event, product id) list and the subcategory bought."""
    candidates = by_sub[mission]
    looks = min(len(candidates), 1 + min(int(rng.expovariate(1 / 2.2)), 6))
    pool = list(candidates)
    viewed: list[dict] = []
    for _ in range(looks):
        product = rng.choices(pool, weights=[weights[p["id"]] for p in pool])[0]
        pool.remove(product)
        viewed.append(product)
    events: list[tuple[str, str]] = []
    for product in viewed:
        if rng.random() < 0.08:                                        # noise: a stray view of anything
            stray = rng.choices(catalog, weights=[weights[p["id"]] for p in catalog])[0]
            events.append(("product_viewed", stray["id"]))
        if rng.random() < 0.3:
            events.append(("card_clicked", product["id"]))
        events.append(("product_viewed", product["id"]))
    choice = rng.choices(viewed, weights=[weights[p["id"]] ** 1.5 for p in viewed])[0]
    if choice is not viewed[-1] and rng.random() < 0.5:                 # back to the one they liked
        events.append(("product_viewed", choice["id"]))
    if rng.random() > 0.55:
        return events, None
    events.append(("added_to_cart", choice["id"]))
    if rng.random() < 0.2:                                              # a complement into the same order
        extra_sub = _ranked_pick(rng, COMPLEMENTS[mission])
        extra = rng.choices(by_sub[extra_sub], weights=[weights[p["id"]] for p in by_sub[extra_sub]])[0]
        if rng.random() < 0.5:
            events.append(("card_clicked", extra["id"]))
        events += [("product_viewed", extra["id"]), ("added_to_cart", extra["id"])]
    else:
        extra = None
    if rng.random() > 0.8:
        return events, None
    events.append(("purchased", choice["id"]))
    if extra is not None:
        events.append(("purchased", extra["id"]))
    return events, mission


def build_history(rng: random.Random, catalog: list[dict]) -> list[tuple[str, str, str, str]]:
    """Browsing and purchase events of HISTORY_SHOPPERS shoppers: `(shopper, timestamp, event, product id)`
    rows, each shopper's in time order."""
    by_sub: dict[str, list[dict]] = {}
    for product in catalog:
        by_sub.setdefault(product["subcategory"], []).append(product)
    named = set(COMPLEMENTS) | {s for subs in COMPLEMENTS.values() for s in subs} | \
        {s for _, subs in PERSONAS.values() for s in subs}
    assert named <= set(by_sub), sorted(named - set(by_sub))
    assert set(by_sub) <= set(COMPLEMENTS), sorted(set(by_sub) - set(COMPLEMENTS))
    span = int((HISTORY_TO - HISTORY_FROM).total_seconds())
    rows = []
    for number in range(1, HISTORY_SHOPPERS + 1):
        shopper = _new_shopper(rng, by_sub)
        weights = {p["id"]: _history_weight(p, shopper) for p in catalog}
        name = f"s{number:04d}"
        moment = HISTORY_FROM + timedelta(seconds=rng.randint(0, span * 4 // 5))
        visits = 1 + min(int(rng.expovariate(1 / 2.6)), 14)
        bought: list[str] = []
        mission = _next_mission(rng, shopper, bought)
        while visits > 0:
            visits -= 1
            start = moment.replace(hour=rng.choice(VISIT_HOURS), minute=rng.randint(0, 59), second=rng.randint(0, 59))
            moment = start if start > moment else start + timedelta(days=1)
            if moment >= HISTORY_TO:
                break
            wanted = rng.choice(sorted(by_sub)) if rng.random() < 0.1 else mission  # noise: a visit for anything
            events, got = _session(rng, shopper, wanted, by_sub, catalog, weights)
            for event, product_id in events:
                if moment >= HISTORY_TO:
                    break
                rows.append((name, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), event, product_id))
                moment += timedelta(seconds=rng.randint(15, 240))
            if got is not None:
                bought.append(got)
                visits += rng.random() < 0.5                            # back for what goes with it
                mission = _next_mission(rng, shopper, bought)
                moment += timedelta(days=rng.randint(2, 24))
            else:
                if rng.random() < 0.4:                                  # gave up on this kind of product
                    mission = _next_mission(rng, shopper, bought)
                moment += timedelta(days=rng.randint(0, 9), hours=rng.randint(1, 20))
    return rows


# --------------------------------------------------------------------------------------------------
# product reviews (reviews.jsonl): their own seeded generator, run after the history, so no other file depends on
# it; each product's review_count and rating in catalog.jsonl are set from (and agree with) its reviews
# --------------------------------------------------------------------------------------------------

REVIEWS_SEED = 1717
REVIEWS_FROM = date(2025, 6, 1)
WEARABLE = ("Running Shoes", "Hiking Footwear", "Jackets & Outerwear", "Tops & Base Layers", "Pants & Shorts")
SHOES = ("Running Shoes", "Hiking Footwear")
LEAKY_SHARE = 0.35       # of the "waterproof" boots and jackets: reviewers report leaks
SMALL_SHARE = 0.25       # of the shoes: reviewers say they run small
# Sentences by aspect and polarity, written for this store ({t}: the product's kind, e.g. "trail running shoe").
REVIEW_SENTENCES: dict[tuple[str, str], list[str]] = {
    ("fit", "positive"): ["Fits true to size.", "I ordered my usual size and it fits perfectly.",
                          "The sizing is spot on.", "True to size for me, no surprises.",
                          "Fit is exactly what I expected from my normal size."],
    ("fit", "negative"): ["The fit is awkward and baggy in odd places.", "Sizing is inconsistent with the chart.",
                          "The cut just did not fit my shape."],
    ("comfort", "positive"): ["Really comfortable from the first day.", "Super comfy, even after a long day.",
                              "Soft and comfortable, I barely notice it.", "Comfort is excellent.",
                              "So comfortable I forget I have it on."],
    ("comfort", "negative"): ["It is uncomfortable after an hour.", "Not comfortable at all, it rubs and pinches.",
                              "The padding is stiff and uncomfortable.", "Gave me blisters on the first outing."],
    ("durability", "positive"): ["Holding up great after months of use.", "Well made and very durable.",
                                 "Still looks new after a season of abuse.", "The stitching and materials feel solid."],
    ("durability", "negative"): ["It started falling apart after a few weeks.", "The seams came apart quickly.",
                                 "Poor durability, it wore through fast.", "Broke after a month of light use."],
    ("waterproofing", "positive"): ["Stayed completely dry in a downpour.", "Kept me dry through a full day of rain.",
                                    "No leaks after a month of wet hikes.", "Never leaked, even in deep puddles."],
    ("waterproofing", "negative"): ["Water got in after an hour of rain.", "They leaked the first time I wore them "
                                    "in the rain.", "Soaked through at the seams in steady rain.",
                                    "Not waterproof at all, my feet were wet within minutes."],
    ("value", "positive"): ["Great value for the price.", "Worth every penny.", "A good deal for the quality.",
                            "Cheaper than similar ones and just as good."],
    ("value", "negative"): ["Overpriced for what you get.", "Not worth the money.",
                            "Too expensive for this quality."],
    ("shipping", "positive"): ["Arrived quickly and well packed.", "Shipping was fast.",
                               "Delivery came earlier than promised."],
    ("shipping", "negative"): ["Shipping took far too long.", "It arrived late and the box was damaged.",
                               "Delivery was slow."],
    (None, "positive"): ["Exactly what I was looking for.", "Very happy with this purchase.",
                         "I would buy it again.", "Highly recommend.", "Love it."],
    (None, "negative"): ["Disappointed overall.", "I would not buy it again.", "Sending it back.",
                         "Did not live up to the description."],
    (None, "neutral"): ["It does the job.", "Nothing special, but fine.", "Decent overall."],
}
RUNS_SMALL = ["Runs small, order a half size up.", "It runs about a half size small.",
              "Runs small, my usual size was too tight in the toes.", "Definitely runs small, size up."]
LEAKS = ["They leaked the first time I wore them in the rain.", "Water got in after an hour of rain.",
         "Soaked through at the seams in steady rain.", "Not waterproof at all, my feet were wet within minutes."]
TITLES = {"positive": ["Great buy", "Love it", "Excellent", "Very happy", "Would recommend", "Solid choice"],
          "neutral": ["It's okay", "Mixed feelings", "Decent", "Fine for the price"],
          "negative": ["Disappointed", "Not great", "Returned it", "Would not recommend", "Let down"]}
REVIEWER_NAMES = ["Alex", "Jordan", "Sam", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Drew", "Robin", "Avery",
               "Quinn", "Harper", "Rowan", "Elliot", "Sasha", "Noor", "Mateo", "Priya", "Kenji", "Lena", "Omar"]


def review_aspects(product: dict) -> list[str]:
    """The aspects a review of this product can talk about."""
    aspects = ["durability", "value", "shipping"]
    if product["category"] in WEARABLE or product["subcategory"] in ("sleeping bag", "sleeping pad") or \
            product["category"] == "Backpacks & Bags":
        aspects.append("comfort")
    if product["category"] in WEARABLE:
        aspects.append("fit")
    if product["attributes"].get("waterproof"):
        aspects.append("waterproofing")
    return aspects


def _review_count(product: dict) -> int:
    """How many reviews a product gets: grows with its popularity (the catalog's first draw), 2 to 24."""
    return max(2, min(24, round(1.5 + product["review_count"] ** 0.5 * 0.6)))


def _rating_plan(rng: random.Random, rating: float, n: int, forced: list[int]) -> list[int] | None:
    """`n` star ratings whose mean rounds (half up) to `rating`, starting with `forced`; None when impossible."""
    target = int((Decimal(str(rating)) * n).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if (Decimal(target) / n).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) != Decimal(str(rating)):
        return None
    free = n - len(forced)
    rest = target - sum(forced)
    if not free <= rest <= 5 * free:
        return None
    mean = rest / free
    stars = [min(5, max(1, round(rng.gauss(mean, 0.9)))) for _ in range(free)]
    while sum(stars) != rest:
        i = rng.randrange(free)
        if sum(stars) < rest and stars[i] < 5:
            stars[i] += 1
        elif sum(stars) > rest and stars[i] > 1:
            stars[i] -= 1
    return forced + stars


def _review_body(rng: random.Random, product: dict, stars: int, claim: str | None) -> tuple[str, list[tuple]]:
    """A review's text for its stars (and its planted claim), and its sentences' (aspect, polarity) truth."""
    aspects = review_aspects(product)
    if claim == "waterproof":          # a leaky "waterproof" product: a leak is the reason for the stars
        aspects = [a for a in aspects if a != "waterproofing"]
    if claim == "waterproof":
        plan = [("waterproofing", "negative", rng.choice(LEAKS))]
    elif claim == "runs_small":
        plan = [("fit", "negative", rng.choice(RUNS_SMALL))]
    else:
        plan = []
    polarity = "positive" if stars >= 4 else "negative" if stars <= 2 else "mixed"
    wanted = rng.choice((1, 1, 2, 2, 3)) - len(plan) + (polarity == "mixed")
    chosen = rng.sample(aspects, k=max(0, min(len(aspects), wanted)))
    if claim is not None:
        chosen = [a for a in chosen if a not in ("fit", "waterproofing")]
    for i, aspect in enumerate(chosen):
        if aspect == "waterproofing":
            tone = "positive"        # leaks are only planted (LEAKS): a waterproof product's other notes are praise
        elif polarity == "mixed":
            tone = "positive" if i == 0 else "negative"
        else:
            tone = polarity
        if aspect == "fit" and tone == "negative" and product["category"] in SHOES:
            tone = "positive"        # shoes run small only when planted; a shoe's other fit notes are praise
        plan.append((aspect, tone, rng.choice(REVIEW_SENTENCES[(aspect, tone)])))
    if not plan or rng.random() < 0.45:
        tone = "neutral" if polarity == "mixed" else polarity
        plan.append((None, tone, rng.choice(REVIEW_SENTENCES[(None, tone)])))
    if claim is None:
        rng.shuffle(plan)
    truth = [(aspect, tone) for aspect, tone, _ in plan]
    return " ".join(text for _, _, text in plan), truth


def build_reviews(rng: random.Random, catalog: list[dict]) -> list[dict]:
    """Reviews for every product (their count and mean stars set the product's review_count and rating), with
    the planted disagreements with the product page: "waterproof" boots and jackets that leak, shoes that run
    small. Each review carries its truth (`_truth`: sentences' aspects and polarities, `_claim`), which the
    writer leaves out of the file and benchmarks/reviews reads from here."""
    reviews: list[dict] = []
    span = (TODAY - REVIEWS_FROM).days
    for product in catalog:
        claim = None
        if product["attributes"].get("waterproof") is True and product["category"] in ("Hiking Footwear",
                                                                                        "Jackets & Outerwear"):
            claim = "waterproof" if rng.random() < LEAKY_SHARE and product["rating"] <= 4.5 else None
        elif product["category"] in SHOES:
            claim = "runs_small" if rng.random() < SMALL_SHARE else None
        n = _review_count(product)
        if claim is not None:
            n = max(n, 8)
        planted = 0 if claim is None else max(2, round(n * rng.uniform(0.2, 0.4)))
        forced = [rng.choice((1, 2, 2)) if claim == "waterproof" else rng.choice((3, 3, 4)) for _ in range(planted)]
        plan = _rating_plan(rng, product["rating"], n, forced)
        while plan is None:          # the mean cannot round to the rating with n reviews: one more review
            n += 1
            plan = _rating_plan(rng, product["rating"], n, forced)
        for k, stars in enumerate(plan):
            planted_here = claim if k < planted else None
            text, truth = _review_body(rng, product, stars, planted_here)
            tone = "positive" if stars >= 4 else "negative" if stars <= 2 else "neutral"
            review = {"review_id": f"{product['id']}-{k + 1:02d}", "product_id": product["id"], "rating": stars,
                      "title": rng.choice(TITLES[tone]), "text": text,
                      "date": (REVIEWS_FROM + timedelta(days=rng.randrange(span))).isoformat()}
            if rng.random() < 0.8:
                review["author"] = f"{rng.choice(REVIEWER_NAMES)} {rng.choice('ABCDEFGHJKLMNPRSTW')}."
            review["_truth"] = truth
            review["_claim"] = planted_here
            reviews.append(review)
        product["review_count"] = n
    order = list(range(len(reviews)))
    rng.shuffle(order)   # a store's export is not grouped by product
    return [reviews[i] for i in order]


def public_review(review: dict) -> dict:
    """A review as the file holds it (without the generator's truth)."""
    return {k: v for k, v in review.items() if not k.startswith("_")}


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------

def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output folder (default: knowledge_base/demo)")
    args = parser.parse_args()
    out: Path = args.out
    store = yaml.safe_load((DEMO_DIR / "store.yml").read_text(encoding="utf-8"))

    rng = random.Random(SEED)
    catalog = build_catalog(rng)
    customers = build_customers(rng, store["shipping"]["international"]["countries"])
    orders = build_orders(rng, store, catalog, customers)
    history = build_history(random.Random(HISTORY_SEED), catalog)     # its own generator, after all the rest
    reviews = build_reviews(random.Random(REVIEWS_SEED), catalog)     # sets review_count: after the history

    write_text(out / "catalog.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in catalog))

    categories = [{"name": name, "description": CATEGORY_INFO[name][0], "goes_with": CATEGORY_INFO[name][1]}
                  for name in CATEGORIES]
    header = ("# Generated by scripts/build_demo_store.py; edit the script, not this file.\n"
              "# goes_with: complementary categories for cross-sell suggestions.\n")
    write_text(out / "categories.yml", header + yaml.safe_dump({"categories": categories}, sort_keys=False,
                                                                 allow_unicode=True, width=120))

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for product in catalog:
        name = f"{product['id']}.svg"
        wanted.add(name)
        write_text(images / name, render_svg(product))
    for stale in sorted(images.glob("*.svg")):
        if stale.name not in wanted:
            stale.unlink()

    write_text(out / "orders.json", json.dumps({"customers": customers, "orders": orders}, indent=2,
                                               ensure_ascii=False) + "\n")
    write_text(out / "history.csv", "shopper,timestamp,event,product_id\n" + "".join(",".join(row) + "\n"
                                                                                  for row in history))
    write_text(out / "reviews.jsonl", "".join(json.dumps(public_review(r), ensure_ascii=False) + "\n"
                                              for r in reviews))
    per_cat = {c: sum(p["category"] == c for p in catalog) for c in CATEGORIES}
    print(f"{len(catalog)} products ({', '.join(f'{c}: {n}' for c, n in per_cat.items())})")
    print(f"{len(customers)} customers, {len(orders)} orders, "
          f"{len({row[0] for row in history})} shoppers' {len(history)} history events, "
          f"{len(reviews)} reviews -> {out}")


if __name__ == "__main__":
    main()
