// Tests for RiverDTLS.
