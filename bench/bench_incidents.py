"""Acceptance and speed of gold.incident_impact and gold.unexplained_spikes on planted truth.

    .venv/bin/python bench/bench_incidents.py [--days 91] [--customers 2000 5000] [--seeds 1 2 3]

For each (customers, seed): generates the history, takes every conversation's opening at the
time it was planted, negative when its planted emotion is (`planted_openings`: what a perfect
emotion model gives, so the figures judge the marts, not the scorer), builds both marts with
Spark exactly as build_gold does, and prints the planted SEV1's lift (target >= 3) and lead
time (target: within 30 minutes of the planted one), the SEV3 decoys flagged (target 0),
whether the dark outage is an unexplained spike and the silent incident unnoticed, other
unexplained spikes, and the seconds both marts took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from planted_histories import START, parse_args, planted_histories  # noqa: E402


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], days=91)

    from voicelake.generator.judge import incident_detection, landed_incidents
    from voicelake.jobs.transforms.incidents import IncidentParams, build_incident_impact, build_unexplained_spikes

    params = IncidentParams()
    for h in planted_histories(args):
        incidents = landed_incidents(h.spark, h.landing).cache()
        n = h.openings.count()
        t0 = time.perf_counter()
        impact = build_incident_impact(incidents, h.openings, params, START).cache()
        spikes = build_unexplained_spikes(h.openings, incidents, impact, params, None, START).toPandas()
        impact_rows = impact.toPandas()
        seconds = time.perf_counter() - t0
        found = incident_detection(impact_rows, spikes, h.scenarios)
        print(f"customers {h.customers} seed {h.seed}: SEV1 lift {found.sev1_lift:.1f} impact {found.sev1_impact}, "
              f"lead {found.lead_minutes} min (planted {found.planted_lead_minutes:.0f}); decoys flagged "
              f"{found.decoys_flagged}/{found.decoys}; dark outage found {found.dark_outage_found}, "
              f"other unexplained spikes {found.other_spikes}; silent incident unnoticed "
              f"{found.silent_unnoticed}; {n} openings, both marts in {seconds:.1f}s")
        incidents.unpersist()
        impact.unpersist()


if __name__ == "__main__":
    main()
