"""``python -m bench.profile_split FILE.prof``: a host profile's own CPU time, by component.

Each function's own time (cProfile's ``tottime``, which does not count the functions it
calls) goes to the component its file belongs to: the store's SDK, the Graph client, the
product's packages, the HTTP server, the event loop. Built-in functions are attributed to
their callers' components in proportion to the time each call site spent in them.
"""

from __future__ import annotations

import argparse
import pstats
from collections import Counter
from collections.abc import Sequence

# First match wins: (component, substrings of the file path).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cosmos sdk (azure-cosmos, azure-core)", ("/azure/",)),
    (
        "graph sdk (msgraph, kiota, httpx, httpcore)",
        (
            "/msgraph",
            "/kiota",
            "/httpx/",
            "/httpcore/",
            "/stduritemplate/",
            "/anyio/",
            "/opentelemetry/",
        ),
    ),
    ("identity (jwt, cryptography)", ("/jwt/", "/cryptography/")),
    (
        "aiohttp (server and client)",
        ("/aiohttp/", "/multidict/", "/yarl/", "/aiohappyeyeballs/", "/propcache/"),
    ),
    ("pydantic", ("/pydantic",)),
    ("product: engine", ("/contactcenter/engine/",)),
    ("product: domain", ("/contactcenter/",)),
    ("product: storage", ("/storage/",)),
    ("product: graph adapter", ("/graph/",)),
    ("product: bot and tab", ("/bot/", "/tab/")),
    ("benchmark instrumentation", ("/bench/",)),
    ("json", ("/json/",)),
    ("logging", ("/logging/",)),
    ("uuid4 (os.urandom)", ("uuid.py",)),
    ("thread hand-offs", ("threading.py", "/concurrent/", "asyncio/threads.py")),
    (
        "sockets and TLS",
        ("socket.py", "ssl.py", "asyncio/selector_events.py", "asyncio/sslproto.py"),
    ),
    ("asyncio", ("/asyncio/", "selectors.py")),
    ("sqlite", ("sqlite3",)),
)


def component(filename: str) -> str | None:
    """Return the component a source file belongs to (None: a built-in or other)."""
    for name, needles in COMPONENTS:
        if any(needle in filename for needle in needles):
            return name
    return None


def split(path: str) -> Counter[str]:
    """Return the profile's own time in seconds, by component."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    found: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, tottime, _ct, callers) in stats.items():
        owner = component(filename)
        if owner is not None or filename != "~" or not callers:
            found[owner or "other Python"] += tottime
            continue
        if "epoll" in function:
            found["waiting (epoll)"] += tottime
            continue
        # A built-in (a socket send, a thread hand-off, os.urandom): shared among the
        # components of its callers, in proportion to the time each call site spent in it.
        shares = {caller: timing[2] for caller, timing in callers.items()}
        spent = sum(shares.values()) or 1.0
        for caller, share in shares.items():
            found[component(caller[0]) or "other Python"] += tottime * share / spent
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Print each component's share of the profile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_split", description=__doc__)
    parser.add_argument("profile", help="a .prof file written by --profile-hosts")
    args = parser.parse_args(argv)
    found = split(args.profile)
    busy = sum(seconds for name, seconds in found.items() if name != "waiting (epoll)")
    for name, seconds in found.most_common():
        share = "" if name == "waiting (epoll)" else f"{100 * seconds / busy:5.1f}%"
        print(f"{name:45s} {seconds:8.1f} s {share}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
