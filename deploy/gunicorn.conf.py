"""gunicorn settings for stage 3: several processes behind one port.

    gunicorn -c deploy/gunicorn.conf.py

Each worker is a whole stage-3 app in its own process, with its own chats. On
SIGTERM (or Ctrl+C) every worker's on_shutdown says goodbye to its chats with 1001.
"""

import importlib.util

wsgi_app = "step3_robots.app:create_app()"  # the () asks gunicorn to call the factory
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
