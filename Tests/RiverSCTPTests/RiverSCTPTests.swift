// Tests for RiverSCTP.
