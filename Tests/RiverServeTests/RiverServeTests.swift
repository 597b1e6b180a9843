// Tests for RiverServe.
