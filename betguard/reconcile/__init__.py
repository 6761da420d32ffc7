"""The ``betguard reconcile`` and ``betguard differences`` commands and the CSV and
HTML reports of a reconciliation (the work itself is ``betguard.services.reconcile``)."""
