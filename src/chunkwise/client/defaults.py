"""The client's fixed tunables, in one place."""

from __future__ import annotations

TIMEOUT_S = 10.0
"""Connect, read and write timeout of an ordinary call (every call but a live stream)."""

STREAM_READ_TIMEOUT_S = 60.0
"""A live stream silent this long is taken as dropped and opened again. The API sends a
keep-alive comment every CHUNKWISE_SSE_HEARTBEAT_S (15 s unless configured) of quiet, so
only a dead connection stays silent; a quiet one that is opened again loses nothing."""

RECONNECT_PAUSE_S = 1.0
"""Pause before opening a dropped stream again, unless the stream said otherwise (its
`retry:` line)."""

RECONNECT_GIVE_UP_S = 60.0
"""A dropped stream that cannot be opened again for this long raises the last error:
the API is down, not restarting."""

JOBS_PAGE_SIZE = 100
"""Jobs asked for per page when paging through history (the API allows up to 200)."""

RESULT_PAGE_SIZE = 1000
"""Result items asked for per page (the API allows up to 10,000)."""
