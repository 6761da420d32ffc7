"""Adapters to the outside world.

* The game providers, one module per dialect with its wire format beside it:
  ``generic``; ``pgsoft`` with ``pgsoft_wire``; ``pragmatic`` with ``pragmatic_wire``
  and ``pragmatic_answers``. ``base`` is what every adapter answers, ``registry`` says
  which adapter serves which kind, ``client_settings`` is the one settings value they
  are built from.
* The wallet (``wallet``) and the game server's notifications (``notifier``).
* How they are spoken to: ``transport`` (pooled sessions, transport errors, capped
  bodies, each attempt bounded by ``deadline``), ``http`` (signed JSON, with
  ``signing``), ``form_http`` (the form-encoded dialects), ``fallback`` (mirror base
  URLs), ``amounts`` (the amounts answers may carry), ``errors`` (what a caller is
  told) and ``problems`` (what an answer got wrong, logged and counted once).
* What guards every provider call: ``breaker``, ``bulkhead``, ``ratelimit``, put
  together by ``guard``.

The simulators of all of them are developer tooling, in ``betguard_devkit.simulator``.
"""
