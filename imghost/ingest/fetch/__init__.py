"""Fetch a user-supplied URL into a Spool without letting it reach where it must not.

Server-side request forgery is the classic hole in "re-host this URL": the host is resolved
once, every address it resolves to is judged, and the socket connects to a judged address
itself, never to the name again, so no DNS answer can change between the check and the
connection. Redirects are followed by hand and every new URL goes through the same checks.
One deadline bounds the whole fetch: every send and receive gets only the time that is left.
The guard judges (guard.py), the pinned connection connects (connection.py), and the loop
follows redirects, spools the body and words the refusals (loop.py).
"""

from imghost.ingest.fetch.guard import FetchPolicy, is_public
from imghost.ingest.fetch.loop import Fetched, fetch_into

__all__ = ["FetchPolicy", "Fetched", "fetch_into", "is_public"]
