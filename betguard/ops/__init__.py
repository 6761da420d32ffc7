"""Ops commands of the ``betguard`` CLI: read bets and the review queue from the
database (the truth), decide reviews, order re-checks, run a sweep, see the numbers,
reconcile a provider's history with the bets and close the differences found.

Every command prints a table for people (rich at a terminal, plain text otherwise)
or JSON with ``--json``; refusals are one ``error:`` line and exit code 1.

The package imports nothing itself: ``betguard.ops.commands`` gathers the commands, so a
module that needs one piece (the reconciliation reports, the views) loads only that.
"""
