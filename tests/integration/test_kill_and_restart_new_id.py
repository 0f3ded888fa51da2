#!/usr/bin/env python3
"""kill_and_restart_new_id: as kill_and_restart, but the replacement worker has
a DIFFERENT worker.id (so a different transactional id): the dead worker's
open transaction is not fenced and blocks until transaction.timeout.ms
(10 s by default) aborts it; the outputs must still equal the replay exactly."""
import common
from test_kill_and_restart import kill_and_restart

if __name__ == "__main__":
    common.main("kill_and_restart_new_id", lambda h: kill_and_restart(h, new_id=True))
