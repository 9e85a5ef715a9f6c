"""Live tracking core: route progress, geofence arrivals/departures, ETAs, tracking links.

Pure Python, no I/O and no clock: every time comes from a GPS fix, so replaying the same fixes
into the same state always gives the same progress, ETAs and events. An adapter keeps one
``TrackerState`` per truck (``to_dict``/``from_dict``) and calls ``RouteTracker.step`` with
each fix; the events go to the alarm engine, the ETAs to the live views.

| module | what |
|---|---|
| ``route`` | ``PlannedRoute`` / ``Waypoint`` (the plan, times in unix seconds), ``RouteGeometry`` |
| ``projection`` | local azimuthal-equidistant plane per route area (pyproj, cached) |
| ``geofence`` | enter/exit hysteresis with a minimum dwell (shapely) |
| ``progress`` | leg, fraction, metres off route; off-route and long-stop watchers |
| ``eta`` | routing's travel model x observed pace; service, waiting, late risk |
| ``tracker`` | ``RouteTracker.step(state, fix)``: all of the above, fix by fix |
| ``state`` / ``events`` | the per-truck state; what the alarm engine consumes |
| ``tokens`` | signed, expiring customer tracking links for one delivery |
| ``eta_eval`` / ``synthetic`` | ETA accuracy against true arrivals; model-true test drives |
| ``plans`` / ``handover`` | dispatch plans as routes (unix clock); progress onto a changed route |

The adapters around the core: ``evaluator`` (the live stream, in the evaluation worker) with
``store`` (its SQL), ``models`` (tracker states, tracking links), ``service`` (proof of
delivery at a stop, links and the public view, fleet and playback, for the API).
"""
