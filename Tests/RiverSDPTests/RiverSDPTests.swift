// Tests for RiverSDP.
