"""Government announcements: the contract, the store, the audience and the fan-out to citizens."""
