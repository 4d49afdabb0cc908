"""Carbon from energy: gCO2e = kWh × PUE × grid intensity (location-based, annual average).

The shipped table holds annual average carbon intensities of electricity generation for 2023 (2022
where 2023 was missing), by ISO 3166 alpha-3 code, as published by Our World in Data from Ember's
yearly electricity data and the Energy Institute's Statistical Review, in the copy CodeCarbon 3.3.2
ships (``codecarbon/data/private_infra/global_energy_mix.json``). Countries not in this table are
looked up in that file when CodeCarbon is installed. The world default is 475 gCO2e/kWh, the IEA
Global Energy & CO2 Status Report 2019 figure CodeCarbon uses when the country is unknown (EcoLogits'
world mix is 473; Germany is 381 here and 344 in EcoLogits' table: expect ~10% spread between sources).

These are averages, not marginal or hourly figures, and not market-based (renewable contracts are not
reflected). PUE (data-centre overhead) defaults to 1.0 and is applied and reported separately.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from auditkit.errors import ConfigError

__all__ = ["DEFAULT_ZONE", "GRID_INTENSITY", "GridIntensity", "carbon_g", "grid_intensity"]

DEFAULT_ZONE = "WORLD"
_OWID = "Our World in Data (Ember, Energy Institute), via CodeCarbon 3.3.2 global_energy_mix.json"
_IEA = "IEA Global Energy & CO2 Status Report 2019 (CodeCarbon's world average)"

# zone: (gCO2e/kWh, year, country name)
GRID_INTENSITY: dict[str, tuple[float, int, str]] = {
    "ARE": (561.135, 2022, "United Arab Emirates"),
    "ARG": (354.103, 2023, "Argentina"),
    "AUS": (548.692, 2023, "Australia"),
    "AUT": (110.812, 2023, "Austria"),
    "BEL": (138.107, 2023, "Belgium"),
    "BRA": (98.348, 2023, "Brazil"),
    "CAN": (170.043, 2023, "Canada"),
    "CHE": (34.843, 2023, "Switzerland"),
    "CHN": (582.317, 2023, "China"),
    "DEU": (380.95, 2023, "Germany"),
    "DNK": (151.65, 2023, "Denmark"),
    "ESP": (174.05, 2023, "Spain"),
    "FIN": (79.158, 2023, "Finland"),
    "FRA": (56.039, 2023, "France"),
    "GBR": (237.589, 2023, "United Kingdom"),
    "IDN": (675.931, 2022, "Indonesia"),
    "IND": (713.441, 2023, "India"),
    "IRL": (290.805, 2023, "Ireland"),
    "ISR": (582.927, 2022, "Israel"),
    "ITA": (330.718, 2023, "Italy"),
    "JPN": (485.392, 2023, "Japan"),
    "KOR": (430.567, 2023, "South Korea"),
    "MEX": (507.245, 2023, "Mexico"),
    "NLD": (267.622, 2023, "Netherlands"),
    "NOR": (30.08, 2023, "Norway"),
    "NZL": (112.758, 2023, "New Zealand"),
    "POL": (661.926, 2023, "Poland"),
    "RUS": (441.039, 2023, "Russia"),
    "SAU": (706.791, 2022, "Saudi Arabia"),
    "SGP": (470.783, 2023, "Singapore"),
    "SWE": (40.695, 2023, "Sweden"),
    "TUR": (464.586, 2023, "Turkey"),
    "TWN": (642.378, 2023, "Taiwan"),
    "USA": (369.473, 2023, "United States"),
    "ZAF": (707.686, 2023, "South Africa"),
    "WORLD": (475.0, 2019, "World average"),
}
_ALPHA2 = {
    "AE": "ARE",
    "AR": "ARG",
    "AU": "AUS",
    "AT": "AUT",
    "BE": "BEL",
    "BR": "BRA",
    "CA": "CAN",
    "CH": "CHE",
    "CN": "CHN",
    "DE": "DEU",
    "DK": "DNK",
    "ES": "ESP",
    "FI": "FIN",
    "FR": "FRA",
    "GB": "GBR",
    "UK": "GBR",
    "ID": "IDN",
    "IN": "IND",
    "IE": "IRL",
    "IL": "ISR",
    "IT": "ITA",
    "JP": "JPN",
    "KR": "KOR",
    "MX": "MEX",
    "NL": "NLD",
    "NO": "NOR",
    "NZ": "NZL",
    "PL": "POL",
    "RU": "RUS",
    "SA": "SAU",
    "SG": "SGP",
    "SE": "SWE",
    "TR": "TUR",
    "TW": "TWN",
    "US": "USA",
    "ZA": "ZAF",
    "WOR": "WORLD",
    "WORLD": "WORLD",
}


@dataclass(frozen=True, slots=True)
class GridIntensity:
    """A grid's carbon intensity with where it came from."""

    zone: str
    g_per_kwh: float
    source: str
    year: int | None
    name: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def grid_intensity(*, zone: str | None = None, g_per_kwh: float | None = None) -> GridIntensity:
    """Intensity for an ISO country code (alpha-2 or alpha-3), or an explicit value; world by default.

    Raises ``ConfigError`` for an unknown code or a negative value, naming the option to fix.
    """
    if g_per_kwh is not None:
        if g_per_kwh < 0:
            raise ConfigError(f"energy.grid_g_per_kwh must be ≥ 0 gCO2e/kWh, got {g_per_kwh}.")
        return GridIntensity(
            zone=(zone or "custom").upper(),
            g_per_kwh=float(g_per_kwh),
            source="explicit value given by the user (energy.grid_g_per_kwh)",
            year=None,
            name="user-supplied",
        )
    code = (zone or DEFAULT_ZONE).strip().upper()
    code = _ALPHA2.get(code, code)
    row = GRID_INTENSITY.get(code)
    if row is not None:
        value, year, name = row
        return GridIntensity(
            zone=code, g_per_kwh=value, source=_IEA if code == "WORLD" else _OWID, year=year, name=name
        )
    found = _codecarbon_intensity(code)
    if found is not None:
        return found
    known = ", ".join(sorted(GRID_INTENSITY))
    raise ConfigError(
        f"energy.grid: unknown grid zone {zone!r}. Use an ISO 3166 country code ({known}; more when "
        "codecarbon is installed) or give the intensity itself with energy.grid_g_per_kwh=<gCO2e/kWh>."
    )


def carbon_g(*, joules: float | None, intensity: GridIntensity, pue: float = 1.0) -> float | None:
    """gCO2e of ``joules`` at the facility (``× pue``) on this grid; ``None`` stays ``None``."""
    if joules is None:
        return None
    return joules / 3.6e6 * pue * intensity.g_per_kwh


def _codecarbon_intensity(code: str) -> GridIntensity | None:
    try:
        from codecarbon.input import DataSource
    except ImportError:
        return None
    try:
        mix = DataSource().get_global_energy_mix_data()
    except Exception:  # noqa: BLE001 — a broken optional data file only means "unknown zone"
        return None
    row = mix.get(code)
    if not row or row.get("carbon_intensity") is None:
        return None
    return GridIntensity(
        zone=code,
        g_per_kwh=float(row["carbon_intensity"]),
        source=_OWID,
        year=int(row["year"]) if row.get("year") else None,
        name=str(row.get("country_name", code)),
    )
