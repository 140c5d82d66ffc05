"""Simulated customers speaking the real protocol (demo and load tests).

* `script`: the shared conversation format, read defensively, and the payloads a visitor's app sends;
* `customer`: `SimCustomer`, one WuKongIM visitor replaying one script (`Pace` sets the speed);
* `replay`: `Replayer`, many customers at once, bounded;
* `desk_watch`: `DeskWatch`, what the desk decided, from the desk log over REST.
"""
