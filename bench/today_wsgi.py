# The WSGI application of bench/today.py: Kervan's own (config.wsgi), with the core clock moved so that "now" is
# KERVAN_BENCH_NOW (an ISO time). The generated shop's data ends on a fixed day (kervan.demo.seasons.DEFAULT_UNTIL);
# the Today page measured on a later real date would show an empty today. The clock keeps running from there.
# (No module docstring on purpose: bench/collect.py lists the scripts that have one as benchmarks.)
import datetime as dt
import os

from config.wsgi import application  # noqa: F401 - what granian serves
from kervan.core import clock

if os.environ.get("KERVAN_BENCH_NOW"):
    _moved = clock.travel(dt.datetime.fromisoformat(os.environ["KERVAN_BENCH_NOW"]) - clock.now())
    _moved.__enter__()  # for the life of the process
