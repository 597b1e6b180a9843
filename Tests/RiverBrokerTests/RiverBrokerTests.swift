// Tests for RiverBroker.
