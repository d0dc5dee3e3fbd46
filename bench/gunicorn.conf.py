"""deploy/gunicorn.conf.py for `make bench`: the same settings, the frame limit lifted.

    gunicorn -c bench/gunicorn.conf.py --workers 1 --bind 127.0.0.1:8090

A chat of the benchmark sends a message as soon as the answer to the last one came,
hundreds a second, where the stages (from step6_floods on) cut off a client at 20.
So this config takes every setting of the production one as it is, and asks the
app's factory for messages_per_second=0: no limit. deploy/ itself stays as it is.
"""

import runpy
from pathlib import Path

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py"
DEPLOYED = runpy.run_path(str(DEPLOY_CONFIG))
globals().update(
    {name: value for name, value in DEPLOYED.items() if not name.startswith("__")}
)
# "step9_redis.app:create_app(redis_url=...)": one more argument for the factory.
factory, _, arguments = DEPLOYED["wsgi_app"].removesuffix(")").partition("(")
wsgi_app = f"{factory}({arguments}{', ' if arguments else ''}messages_per_second=0)"
