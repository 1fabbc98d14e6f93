"""Writes the API's route keys (from template.yaml) as JSON for the web dashboard's build: the app asks only
routes this API has, so a section whose route a server lacks says "not available on this server" without a
request (and without the browser logging a failed load). `make web` runs it; the static function serves the
list in /app/config.json."""

from __future__ import annotations

import json
import sys

from local.gateway import routes_from_template


def route_keys() -> list[str]:
    # `$default` (the control API's catch-all, for its single Lambda permission) is no route the app calls
    return sorted(
        {
            route.route_key
            for route in routes_from_template()
            if route.authorizer is not None and route.route_key != "$default"
        }
    )


def main() -> int:
    json.dump(route_keys(), sys.stdout, indent=0)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
