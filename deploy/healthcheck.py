"""Container healthcheck: GET a URL, exit 0 when it answers with an accepted status.

Used by docker-compose.yml for the API (``/health``, must answer 2xx) and the console (any
HTTP answer below 500 shows the server is up; it has no health endpoint of its own). Only the
standard library, so it runs in the image without curl:

    python /app/deploy/healthcheck.py http://127.0.0.1:8000/health
    python /app/deploy/healthcheck.py --max-status 499 http://127.0.0.1:8080/
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request


def check(url: str, max_status: int = 299, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether ``url`` answers with a status in 200..max_status, and what it answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url}: no answer ({reason})"
    return 200 <= status <= max_status, f"{url}: HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--max-status", type=int, default=299, help="highest accepted status")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    ok, message = check(args.url, args.max_status, args.timeout)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
