"""What happened to each call after the provider took it: delivery reports stored, applied to the
calls (one outcome each, derived in one place), tallied, and pulled when they never came.

- deriving:  a call's outcome from its legs (the one place; causes in words are phonon.causes)
- receiving: a pushed report stored before the provider is answered
- applying:  stored reports applied to their calls, idempotent by cdrId, never backwards
- matching:  reports for calls held as "accepted, UUID unknown", tied by number and time
- tallies:   stored counts per campaign (outcomes, talk time, keys) and the summary pages read
- pulling:   the Pull API reconciler for reports that never came
"""
