"""Development kit for zalo-bridge: a local Kafka broker and a Zalo OA emulator (not production)."""
