"""One line of the bench report's targets: a measured value against its goal."""

from __future__ import annotations


def at_least(name: str, value: float, goal: float) -> dict:
    return {"name": name, "value": value, "target": f">= {goal:g}", "met": value >= goal}


def at_most(name: str, value: float, goal: float) -> dict:
    return {"name": name, "value": value, "target": f"<= {goal:g}", "met": value <= goal}
