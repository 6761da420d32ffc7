"""betguard: durable bet tracking with provider checks and safe escalation."""
