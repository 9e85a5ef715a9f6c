"""Maps that work offline. NiceGUI's ``ui.leaflet`` adds an internet tile layer by default;
that layer is removed and replaced by a configured tile server (``WAYHOUSE_MAP_TILE_URL``)
when there is one, and always by a base drawn from the project's own data: a coordinate
grid with labelled lines every few kilometres and the outline of the area being shown, so
trucks, stops and routes are readable with no network at all."""

from __future__ import annotations

import math
from collections.abc import Sequence

from nicegui import ui

from wayhouse.config import get_settings

ROUTE_COLOURS = ("#1976d2", "#d32f2f", "#388e3c", "#f57c00", "#7b1fa2", "#0097a7", "#5d4037")


def colour(i: int) -> str:
    return ROUTE_COLOURS[i % len(ROUTE_COLOURS)]


def _grid(south: float, west: float, north: float, east: float) -> dict[str, object]:
    """GeoJSON lines on a round step (about ten across the view), as a base to read
    distances and directions from."""
    span = max(north - south, east - west, 1e-3)
    step = 10 ** math.floor(math.log10(span / 5))
    if span / step > 20:
        step *= 5
    elif span / step > 10:
        step *= 2
    features = []
    lat = math.floor(south / step) * step
    while lat <= north + step:
        coords = [[west - step, lat], [east + step, lat]]
        features.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": coords},
            }
        )
        lat += step
    lon = math.floor(west / step) * step
    while lon <= east + step:
        coords = [[lon, south - step], [lon, north + step]]
        features.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": coords},
            }
        )
        lon += step
    return {"type": "FeatureCollection", "features": features}


def offline_map(points: Sequence[tuple[float, float]], height: str = "28rem") -> ui.leaflet:
    """A map fitted to ``points`` (lat, lon) with the offline base (and the configured tiles)."""
    lats = [p[0] for p in points] or [45.76]
    lons = [p[1] for p in points] or [4.95]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    centre = ((south + north) / 2, (west + east) / 2)
    m = ui.leaflet(center=centre, zoom=fit_zoom(south, west, north, east))
    m.style(f"height: {height}").classes("w-full")
    m.clear_layers()  # drops the default internet tile layer
    settings = get_settings()
    if settings.map_tile_url:
        m.tile_layer(
            url_template=settings.map_tile_url,
            options={"attribution": settings.map_tile_attribution, "maxZoom": 19},
        )
    # The grid reaches well past the points, so panning and zooming out still show a base.
    pad = max(north - south, east - west, 0.05)
    m.generic_layer(
        name="geoJSON",
        args=[
            _grid(south - pad, west - pad, north + pad, east + pad),
            {"style": {"color": "#9e9e9e", "weight": 0.6}},
        ],
    )
    outline = [[south, west], [south, east], [north, east], [north, west]]
    m.generic_layer(
        name="polygon",
        args=[outline, {"color": "#607d8b", "weight": 1, "fill": False, "dashArray": "4"}],
    )
    return m


def fit_zoom(south: float, west: float, north: float, east: float, pixels: int = 360) -> int:
    """The largest web-mercator zoom at which the box fits in about ``pixels`` (computed
    here: Leaflet's fitBounds cannot run before the map exists in the browser)."""
    if east - west < 1e-4 and north - south < 1e-4:
        return 13  # one point: a street-level view around it
    lon_span = max(east - west, 1e-4)
    y = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    lat_span = max(abs(y(north) - y(south)) * 180 / math.pi, 1e-4)
    zoom = math.log2(pixels / 256 * 360 / max(lon_span, lat_span))
    return max(3, min(16, math.floor(zoom)))


def route_line(m: ui.leaflet, latlngs: Sequence[tuple[float, float]], i: int) -> None:
    m.generic_layer(
        name="polyline", args=[[list(p) for p in latlngs], {"color": colour(i), "weight": 3}]
    )


def dot(m: ui.leaflet, lat: float, lon: float, i: int | None, tooltip: str = "") -> None:
    """A stop or a truck as a circle marker (no marker images needed)."""
    fill = colour(i) if i is not None else "#757575"
    layer = m.generic_layer(
        name="circleMarker",
        args=[
            [lat, lon],
            {"radius": 7, "color": "#ffffff", "weight": 2, "fillColor": fill, "fillOpacity": 0.95},
        ],
    )
    if tooltip:
        m.run_layer_method(layer.id, "bindTooltip", tooltip)
