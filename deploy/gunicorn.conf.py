"""gunicorn settings for the finished stage: several processes, one port, one party.

    REDIS_URL=redis://localhost:6379 gunicorn -c deploy/gunicorn.conf.py

Each worker is a whole step9_redis app in its own process, with its own chats and its
own guests. The workers share the party through Redis (REDIS_URL, by default the
Redis on this machine), so a guest on one worker hears a guest on another. On
SIGTERM (or Ctrl+C) every worker's on_shutdown says goodbye to its chats with 1001.
"""

import importlib.util
import os

redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379")
STAGE = "step9_redis"  # the finished stage, the one `make run` starts
# The () asks gunicorn to call the factory, with this argument.
wsgi_app = f"{STAGE}.app:create_app(redis_url={redis_url!r})"
# uvloop's event loop does the same work as asyncio's in fewer instructions. aiohttp
# has a worker for it; without uvloop installed, the plain worker runs asyncio's loop.
if importlib.util.find_spec("uvloop") is None:
    worker_class = "aiohttp.GunicornWebWorker"
else:
    worker_class = "aiohttp.GunicornUVLoopWebWorker"
workers = 2  # one per core is a good start
bind = ["localhost:8080"]
graceful_timeout = 10  # seconds a worker gets to finish after SIGTERM
control_socket_disable = True  # gunicorn 27 makes a control socket unless told not to
