// Tests for RiverICE.
