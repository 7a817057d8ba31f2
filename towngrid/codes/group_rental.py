"""群租 (overcrowded group rental) by Shanghai's criteria (上海市居住房屋租赁管理办法):

1. at least 5 m² of living area (居住面积) per person;
2. at most 2 people per originally designed room, unless the occupants have legal support
   obligations to each other (a family);
3. kitchens, bathrooms, balconies and basement storage may not be let for living;
4. the smallest unit let is an originally designed room: no partitioning, no letting by bed.

``assess(house)`` returns the criteria a house breaks, each with a Chinese explanation and the
figures behind it, e.g. "人均居住面积 3.2 m²，低于 5 m²". It reads attributes only (no database),
so it is the same in a single recompute, in ``recompute_many`` and in tests.

Decisions:
- The rule is about letting: a house that is not let (not ``is_rented``, ``use`` not "rented"
  or "mixed", no tenants) is not a group rental, whatever its crowding.
- People counted: the larger of ``occupants`` (people actually living there) and
  ``tenant_count`` (people on the lease).
- Without a recorded living area, the building area (``floor_area``) is used as an upper bound:
  living area never exceeds it, so building area under 5 m² per person proves the breach; the
  explanation says which area was used.
- Comparisons are exact (Decimal, no division): 5.00 m² per person and 2 per room are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

MIN_AREA_PER_PERSON = Decimal(5)
MAX_PEOPLE_PER_ROOM = 2
NON_BEDROOMS = {
    "kitchen": "厨房",
    "bathroom": "卫生间",
    "balcony": "阳台",
    "basement": "地下储藏室",
}
RENTED_USES = {"rented", "mixed"}
# The house fields the rule reads (recompute_many loads only these and the rules' fields).
FIELDS = (
    "is_rented",
    "use",
    "tenant_count",
    "occupants",
    "living_area",
    "floor_area",
    "rooms",
    "rented_rooms",
    "is_family_occupancy",
    "non_bedroom_sleeping",
)


@dataclass(frozen=True)
class Finding:
    code: str  # area_per_person | people_per_room | non_bedroom | partitioned
    text: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "figures": self.figures}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _int(value) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _show(number: Decimal) -> str:
    """Two decimals at most, rounded down so that 4.999 never shows as "5"."""
    shown = number.quantize(Decimal("0.01"), rounding=ROUND_DOWN).normalize()
    text = format(shown, "f")
    return text


def is_let(house) -> bool:
    return bool(
        getattr(house, "is_rented", False)
        or getattr(house, "use", "") in RENTED_USES
        or _int(getattr(house, "tenant_count", 0)) > 0
    )


def people(house) -> int:
    return max(_int(getattr(house, "occupants", 0)), _int(getattr(house, "tenant_count", 0)))


def assess(house) -> list[Finding]:
    """The group-rental criteria ``house`` breaks (empty: not a group rental)."""
    if not is_let(house):
        return []
    findings: list[Finding] = []
    persons = people(house)

    # 1. Living area per person.
    living = _decimal(getattr(house, "living_area", None))
    area, area_name = (living, "居住面积") if living is not None else (None, "")
    if area is None:
        floor = _decimal(getattr(house, "floor_area", None))
        if floor is not None:
            area, area_name = floor, "建筑面积"
    if persons > 0 and area is not None and area >= 0 and area < MIN_AREA_PER_PERSON * persons:
        per_person = area / persons
        text = f"人均{area_name} {_show(per_person)} m²，低于 5 m²（{area_name} {_show(area)} m²，居住 {persons} 人）"
        if area_name == "建筑面积":
            text += "，居住面积只会更小"
        findings.append(
            Finding(
                "area_per_person",
                text,
                {
                    "area": float(area),
                    "area_kind": "living" if area_name == "居住面积" else "floor",
                    "people": persons,
                    "per_person": float(per_person.quantize(Decimal("0.01"), ROUND_DOWN)),
                },
            )
        )

    # 2. People per originally designed room, families excepted.
    rooms = _int(getattr(house, "rooms", 0))
    if rooms > 0 and persons > MAX_PEOPLE_PER_ROOM * rooms:
        if getattr(house, "is_family_occupancy", False):
            pass  # people with legal support obligations to each other are excepted
        else:
            per_room = Decimal(persons) / rooms
            findings.append(
                Finding(
                    "people_per_room",
                    f"每间居住 {_show(per_room)} 人，超过 2 人（{rooms} 间，居住 {persons} 人）",
                    {
                        "rooms": rooms,
                        "people": persons,
                        "per_room": float(per_room.quantize(Decimal("0.01"), ROUND_DOWN)),
                    },
                )
            )

    # 3. Kitchens, bathrooms, balconies, basements used as bedrooms.
    used = getattr(house, "non_bedroom_sleeping", None) or []
    if isinstance(used, str):
        used = [used]
    for key in NON_BEDROOMS:
        if key in used:
            findings.append(
                Finding(
                    "non_bedroom",
                    f"{NON_BEDROOMS[key]}被用作卧室出租居住",
                    {"space": key},
                )
            )

    # 4. Partitioning: more rooms let than the house was designed with.
    rented_rooms = _int(getattr(house, "rented_rooms", 0))
    if rooms > 0 and rented_rooms > rooms:
        findings.append(
            Finding(
                "partitioned",
                f"出租 {rented_rooms} 间，超过原始设计 {rooms} 间，存在分隔出租",
                {"rooms": rooms, "rented_rooms": rented_rooms},
            )
        )
    return findings


def explain(findings: list[Finding]) -> str:
    """One sentence for a reason: the findings joined with Chinese semicolons."""
    return "；".join(f.text for f in findings)
