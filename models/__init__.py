"""The domain: bets, their states and transitions, audit events, reviews and policies' math."""
