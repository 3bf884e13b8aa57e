"""Use cases the handlers call: create and read cancellations, sweep the forwarding outbox."""
