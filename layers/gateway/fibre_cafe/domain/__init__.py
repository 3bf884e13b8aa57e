"""Pure rules, no I/O: the cancellation state machine and the order rules."""
