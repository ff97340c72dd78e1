"""Coverage per street: which road surfaces the chosen cameras leave blind.

Each demand point lies on one road surface feature (:attr:`placement.model.Demand.road`: a
``tran:Road``, or its traffic area where LOD2/3 splits it). Summing the points' weights per
feature answers the planner's question "which streets stay blind?" with a list one can sort,
and ``coverage.geojson``'s ``road_id`` lets QGIS join the points to the same features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from placement.crs import to_lonlat
from placement.model import City, Demand


def street_coverage(
    city: City, demand: Demand, covered: npt.NDArray[np.bool_]
) -> list[dict[str, Any]]:
    """One row per road surface feature with demand points, the least covered first.

    Parameters
    ----------
    city : the loaded city (feature ids and classes).
    demand : the N demand points, with ``road`` recorded.
    covered : (N,) whether each point counts as covered (k cameras, minimum level).

    Returns
    -------
    Dicts with the keys of :data:`placement.io.STREET_COLUMNS`: ``road_id``, ``class``,
    ``street_id`` (the tran:Road a traffic area belongs to, else ``road_id`` itself: sum
    the rows of one street by it), ``points``, ``weight``, ``covered_weight``,
    ``covered_fraction`` (of the weight; of the points when the weight is 0),
    ``uncovered_weight``, and ``lon``/``lat`` of the point nearest the street's mean point.
    Sorted by uncovered weight (largest first), then id.
    """
    road = demand.road
    if road is None or not len(demand):
        return []
    known = np.flatnonzero(road >= 0)
    rows_of, inverse = np.unique(road[known], return_inverse=True)
    k = rows_of.size
    w = demand.weight[known]
    cov = np.asarray(covered, bool)[known]
    points = np.bincount(inverse, minlength=k)
    weight = np.bincount(inverse, weights=w, minlength=k)
    cov_w = np.bincount(inverse, weights=np.where(cov, w, 0.0), minlength=k)
    cov_n = np.bincount(inverse, weights=cov.astype(np.float64), minlength=k)
    xy = demand.xyz[known, :2]
    mean = np.column_stack(
        [np.bincount(inverse, weights=xy[:, j], minlength=k) / points for j in range(2)]
    )
    # The street's own point nearest its mean (a mean of an L-shaped street may lie off it).
    d2 = ((xy - mean[inverse]) ** 2).sum(axis=1)
    order = np.lexsort((d2, inverse))
    first = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]
    lon, lat = to_lonlat(xy[first, 0], xy[first, 1], city.crs)
    frac = np.where(weight > 0, cov_w / np.where(weight > 0, weight, 1.0), cov_n / points)
    street = city.features.street_of(rows_of).tolist()
    rows: list[dict[str, Any]] = [
        {
            "road_id": city.features.ids[int(f)],
            "class": city.features.cls[int(f)],
            "street_id": city.features.ids[street[i]],
            "points": int(points[i]),
            "weight": round(float(weight[i]), 6),
            "covered_weight": round(float(cov_w[i]), 6),
            "covered_fraction": round(float(frac[i]), 4),
            "uncovered_weight": round(float(weight[i] - cov_w[i]), 6),
            "lon": round(float(lon[i]), 7),
            "lat": round(float(lat[i]), 7),
        }
        for i, f in enumerate(rows_of.tolist())
    ]
    rows.sort(key=lambda r: (-r["uncovered_weight"], r["road_id"]))
    return rows


def street_summary(rows: list[dict[str, Any]], top: int = 10) -> dict[str, Any]:
    """Counts for summary.json: streets, with no point covered (``not_seen``: covered as the
    run counts, so at ``min_level`` by ``k`` cameras), fully covered, and the ``top``
    least covered (id, class, points, covered fraction, uncovered weight, and the lon / lat
    of one of its points, to find it on a map)."""
    keys = ("road_id", "class", "points", "covered_fraction", "uncovered_weight", "lon", "lat")
    return {
        "total": len(rows),
        "not_seen": sum(1 for r in rows if r["covered_weight"] == 0 and r["covered_fraction"] == 0),
        "fully_covered": sum(1 for r in rows if r["covered_fraction"] >= 1.0),
        "least_covered": [{k: r[k] for k in keys} for r in rows[:top]],
    }
