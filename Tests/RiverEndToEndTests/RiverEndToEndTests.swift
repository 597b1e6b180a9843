// Tests for RiverEndToEnd.
