"""Deterministic weather: the same city always gets the same report."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "showers", "windy", "foggy", "snow")


class Weather(BaseModel):
    city: str
    temperature_c: int
    conditions: str
    wind_kph: int


def _seed(*parts: object) -> int:
    text = "|".join(str(p).strip().lower() for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def weather_for(city: str, day: int = 0) -> Weather:
    """The weather in ``city`` on ``day`` days from today."""
    seed = _seed(city, day)
    conditions = CONDITIONS[seed % len(CONDITIONS)]
    temperature = (seed >> 8) % 40 - 5
    if conditions == "snow":
        temperature = min(temperature, 1)
    return Weather(
        city=city.strip(),
        temperature_c=temperature,
        conditions=conditions,
        wind_kph=(seed >> 16) % 60,
    )


def describe(weather: Weather) -> str:
    return (
        f"{weather.city}: {weather.conditions}, {weather.temperature_c}°C, "
        f"wind {weather.wind_kph} km/h"
    )
